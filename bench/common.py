"""Shared helpers for the jaxmie benchmarks: workloads, timing, machine info, reporting.

Nothing here imports jaxmie or a peer code, so the peers can be developed and timed on
their own. Timings are wall-clock (``time.perf_counter``); a callable under test must
return only once its result exists (JAX callables call ``jax.block_until_ready``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

# Benchmarks run in float64, the precision jaxmie is built for (also in their subprocesses).
os.environ.setdefault("JAX_ENABLE_X64", "1")

# --------------------------------------------------------------------------------------
# Workloads. Every code gets the same numbers (same radii, indices, wavelengths, n_max).
# --------------------------------------------------------------------------------------

#: Constant complex indices (n + ik, k >= 0 absorbs) of the core-shell workload.
N_CORE = 2.0 + 0.1j
N_SHELL = 1.5 + 0.01j
#: Index of the homogeneous-sphere workload.
N_SPHERE = 1.5 + 0.01j
#: Orders kept by every code (where the code lets us choose). Wiscombe's rule asks for 8 at
#: the largest outer size parameter of the core-shell workload (x = 2 pi 100 / 400 = 1.57)
#: and 9 for the spheres (x = 2.36); 10 and 12 leave the truncation error far below 1e-10.
N_MAX_CORESHELL = 10
N_MAX_SPHERE = 12


@dataclasses.dataclass(frozen=True)
class CoreShellWorkload:
    """B core-shell particles x W wavelengths (the PyMieDiff paper's 256 x 256 layout).

    r_core ~ U(10, 55) nm, r_shell ~ U(60, 100) nm, n_core = 2.0+0.1i, n_shell = 1.5+0.01i,
    wavelengths evenly spaced over 400-800 nm, host index 1. Outputs have shape (B, W).
    """

    r_core: np.ndarray  # (B,)
    r_shell: np.ndarray  # (B,)
    n_core: np.ndarray  # (B,) complex
    n_shell: np.ndarray  # (B,) complex
    wavelength: np.ndarray  # (W,)
    n_max: int = N_MAX_CORESHELL

    @property
    def shape(self) -> tuple[int, int]:
        return (self.r_core.shape[0], self.wavelength.shape[0])

    @property
    def n_evals(self) -> int:
        return self.shape[0] * self.shape[1]

    def subset(self, n_particles: int, n_wavelengths: int) -> CoreShellWorkload:
        """The first particles at evenly spread wavelengths of the same 400-800 nm range."""
        if n_wavelengths == 1:
            wl = np.array([600.0])
        else:
            wl = np.linspace(400.0, 800.0, n_wavelengths)
        return dataclasses.replace(
            self, r_core=self.r_core[:n_particles], r_shell=self.r_shell[:n_particles],
            n_core=self.n_core[:n_particles], n_shell=self.n_shell[:n_particles],
            wavelength=wl)


def coreshell_workload(n_particles: int = 256, n_wavelengths: int = 256,
                       seed: int = 0) -> CoreShellWorkload:
    rng = np.random.default_rng(seed)
    return CoreShellWorkload(
        r_core=rng.uniform(10.0, 55.0, n_particles),
        r_shell=rng.uniform(60.0, 100.0, n_particles),
        n_core=np.full(n_particles, N_CORE, dtype=complex),
        n_shell=np.full(n_particles, N_SHELL, dtype=complex),
        wavelength=np.linspace(400.0, 800.0, n_wavelengths),
    )


@dataclasses.dataclass(frozen=True)
class SphereWorkload:
    """N homogeneous spheres, each at its own wavelength (N particle-wavelength pairs).

    radius ~ U(10, 150) nm, wavelength ~ U(400, 800) nm, n = 1.5+0.01i, host index 1.
    |m| x >= 0.11 everywhere, so miepython never switches to its small-sphere series.
    Outputs have shape (N,).
    """

    radius: np.ndarray  # (N,)
    wavelength: np.ndarray  # (N,)
    n: np.ndarray  # (N,) complex
    n_max: int = N_MAX_SPHERE

    @property
    def n_evals(self) -> int:
        return self.radius.shape[0]

    @property
    def x(self) -> np.ndarray:
        return 2 * np.pi * self.radius / self.wavelength

    def at_common_wavelength(self, wavelength: float = 600.0) -> tuple[np.ndarray, float]:
        """Radii that give every sphere the same size parameter at one common wavelength.

        Efficiencies depend on (x, m) only, so N spheres at one wavelength with radii
        r * wavelength0 / wavelength_i are the same N computations. Codes whose batch
        layout is particles x wavelengths (PyMieDiff, jaxmie's broadcasting API) use this.
        """
        return self.radius * wavelength / self.wavelength, wavelength


def sphere_workload(n: int = 65536, seed: int = 1) -> SphereWorkload:
    rng = np.random.default_rng(seed)
    return SphereWorkload(
        radius=rng.uniform(10.0, 150.0, n),
        wavelength=rng.uniform(400.0, 800.0, n),
        n=np.full(n, N_SPHERE, dtype=complex),
    )


def coreshell_pairs(n: int, seed: int = 2) -> CoreShellWorkload:
    """n core-shell particle-wavelength pairs folded onto one wavelength (600 nm).

    Drawn like coreshell_workload, each particle with its own wavelength in 400-800 nm,
    then both radii scaled by 600 / wavelength (same size parameters, same efficiencies).
    Shape (n, 1). Used for the per-evaluation cost against batch size.
    """
    rng = np.random.default_rng(seed)
    wl = rng.uniform(400.0, 800.0, n)
    scale = 600.0 / wl
    return CoreShellWorkload(
        r_core=rng.uniform(10.0, 55.0, n) * scale,
        r_shell=rng.uniform(60.0, 100.0, n) * scale,
        n_core=np.full(n, N_CORE, dtype=complex),
        n_shell=np.full(n, N_SHELL, dtype=complex),
        wavelength=np.array([600.0]),
    )


# --------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------


@dataclasses.dataclass
class Timing:
    """Wall-clock samples of one callable (seconds). ``median`` is the reported number."""

    times: list[float]
    warmup: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def n(self) -> int:
        return len(self.times)

    @property
    def first(self) -> float | None:
        return self.warmup[0] if self.warmup else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"median_s": self.median, "min_s": self.best, "repeats": self.n,
                               "warmup_s": self.warmup}
        if self.n <= 50:
            out["times_s"] = self.times
        else:  # latency loops: thousands of samples, keep the spread only
            q = np.percentile(self.times, [10, 25, 75, 90])
            out.update({"p10_s": q[0], "p25_s": q[1], "p75_s": q[2], "p90_s": q[3],
                        "max_s": max(self.times)})
        return out


def block(x: Any) -> Any:
    """Wait for JAX arrays in a pytree (no-op for NumPy / torch results)."""
    if "jax" in sys.modules:
        import jax

        return jax.block_until_ready(x)
    return x


def measure(fn: Callable[[], Any], *, warmup: int = 1, repeats: int = 7,
            budget_s: float | None = None, min_repeats: int = 1,
            max_repeats: int | None = None) -> Timing:
    """Median of ``repeats`` timed calls of ``fn()`` after ``warmup`` untimed calls.

    ``budget_s`` caps the time spent on the timed calls: once ``min_repeats`` are done and
    the elapsed time passes the budget, stop early. When ``max_repeats`` is given and
    larger than ``repeats``, fast callables keep going (up to ``max_repeats``) until the
    budget is used, which steadies sub-millisecond timings.
    """
    warm = []
    for _ in range(warmup):
        t0 = time.perf_counter()
        block(fn())
        warm.append(time.perf_counter() - t0)
    times: list[float] = []
    limit = max(repeats, max_repeats or 0)
    start = time.perf_counter()
    while len(times) < limit:
        t0 = time.perf_counter()
        block(fn())
        times.append(time.perf_counter() - t0)
        spent = time.perf_counter() - start
        if len(times) >= min_repeats and budget_s is not None and spent > budget_s:
            break
        if len(times) >= repeats and (budget_s is None or max_repeats is None):
            break
    return Timing(times=times, warmup=warm)


def measure_rounds(fns: dict[str, Callable[[], Any]], *, rounds: int, warmup: int = 1,
                   caps: dict[str, int] | None = None, warmups: dict[str, int] | None = None,
                   budget_s: float | None = None) -> dict[str, Timing]:
    """Time several callables interleaved: round r calls each of them once, in turn.

    On a shared machine the speed drifts (other tenants, vCPU preemption); interleaving
    exposes every code to the same conditions, so ratios of medians stay meaningful.
    ``caps[name]`` limits the timed calls of a slow callable (it then sits out later rounds);
    ``warmups[name]`` overrides ``warmup``. After the first round, stop once ``budget_s``
    has passed.
    """
    caps = caps or {}
    warmups = warmups or {}
    out = {name: Timing(times=[], warmup=[]) for name in fns}
    for name, fn in fns.items():
        for _ in range(warmups.get(name, warmup)):
            t0 = time.perf_counter()
            block(fn())
            out[name].warmup.append(time.perf_counter() - t0)
    start = time.perf_counter()
    for r in range(rounds):
        for name, fn in fns.items():
            if len(out[name].times) >= caps.get(name, rounds):
                continue
            t0 = time.perf_counter()
            block(fn())
            out[name].times.append(time.perf_counter() - t0)
        if budget_s is not None and r >= 0 and time.perf_counter() - start > budget_s:
            break
    return out


def measure_fast(fn: Callable[[], Any], *, budget_s: float = 0.5, warmup: int = 3,
                 max_repeats: int = 20000) -> Timing:
    """Latency of a fast callable: median over as many calls as fit in ``budget_s``."""
    return measure(fn, warmup=warmup, repeats=5, budget_s=budget_s, max_repeats=max_repeats)


# --------------------------------------------------------------------------------------
# Accuracy
# --------------------------------------------------------------------------------------


def max_rel_diff(a: Any, b: Any, floor: float = 1e-300) -> float:
    """max |a - b| / max(|b|, floor) over all elements (b is the reference)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch {a.shape} vs {b.shape}")
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), floor)))


def max_rel_diff_grad(a: Any, b: Any) -> float:
    """Relative difference of gradient arrays, scaled by the largest reference entry.

    Entries of a gradient can pass through zero, so each array is compared against
    max |b| rather than elementwise.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


# --------------------------------------------------------------------------------------
# Formatting and reporting
# --------------------------------------------------------------------------------------


def fmt_time(seconds: float | None) -> str:
    if seconds is None or not np.isfinite(seconds):
        return "-"
    if seconds >= 1.0:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.3g} us"
    return f"{seconds * 1e9:.3g} ns"


def fmt_ratio(r: float | None) -> str:
    if r is None or not np.isfinite(r):
        return "-"
    if r >= 100:
        return f"{r:.0f}x"
    if r >= 10:
        return f"{r:.1f}x"
    return f"{r:.2f}x"


def machine_info() -> dict[str, Any]:
    """CPU, core count, Python and library versions, and the JAX devices."""
    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu_model": platform.processor() or None,
        "numpy": np.__version__,
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    with contextlib.suppress(AttributeError, OSError):
        info["affinity_cores"] = len(os.sched_getaffinity(0))
    if "jax" in sys.modules:
        import jax

        info["jax"] = jax.__version__
        info["jax_backend"] = jax.default_backend()
        info["jax_devices"] = [str(d) for d in jax.devices()]
        info["jax_device_kind"] = jax.devices()[0].device_kind
        info["jax_x64"] = bool(jax.config.read("jax_enable_x64"))
    return info


class Report:
    """Collects results as rows of sections, prints them and saves them as JSON."""

    def __init__(self) -> None:
        self.meta: dict[str, Any] = {}
        self.sections: dict[str, list[dict[str, Any]]] = {}
        self.ratios: list[dict[str, Any]] = []
        self.accuracy: list[dict[str, Any]] = []
        self.notes: list[str] = []

    def add(self, section: str, name: str, timing: Timing | float | None, *,
            n_evals: int | None = None, note: str = "", **extra: Any) -> dict[str, Any]:
        if isinstance(timing, Timing):
            seconds, detail = timing.median, timing.to_dict()
        else:
            seconds, detail = timing, {}
        row = {"name": name, "seconds": seconds, "n_evals": n_evals, "note": note,
               "per_eval_s": (seconds / n_evals) if (seconds is not None and n_evals) else None,
               "timing": detail, **extra}
        self.sections.setdefault(section, []).append(row)
        self._print_row(row)
        return row

    def get(self, section: str, name: str) -> float | None:
        for row in self.sections.get(section, []):
            if row["name"] == name:
                return row["seconds"]
        return None

    def ratio(self, label: str, numerator: Timing | float | None,
              denominator: Timing | float | None, section: str = "") -> float | None:
        """Record numerator / denominator (e.g. peer time / jaxmie time).

        With Timing arguments both the ratio of medians (the headline) and the ratio of
        minima (each code's least-disturbed call) are kept.
        """
        def med(t):
            return t.median if isinstance(t, Timing) else t

        def low(t):
            return t.best if isinstance(t, Timing) else t

        r = r_min = None
        if med(numerator) is not None and med(denominator):
            r = med(numerator) / med(denominator)
        if low(numerator) is not None and low(denominator):
            r_min = low(numerator) / low(denominator)
        self.ratios.append({"section": section, "label": label, "ratio": r,
                            "ratio_of_minima": r_min, "numerator_s": med(numerator),
                            "denominator_s": med(denominator)})
        return r

    def add_accuracy(self, workload: str, quantity: str, a: str, b: str, value: float) -> None:
        self.accuracy.append({"workload": workload, "quantity": quantity, "code": a,
                              "reference": b, "max_rel_diff": value})
        flag = "" if value <= 1e-6 else "   <-- above 1e-6"
        print(f"    {quantity:<10} {a:<34} vs {b:<22} max rel diff {value:.2e}{flag}",
              flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    @staticmethod
    def header(title: str) -> None:
        print(f"\n== {title} " + "=" * max(0, 86 - len(title)), flush=True)

    @staticmethod
    def _print_row(row: dict[str, Any]) -> None:
        per = f"{fmt_time(row['per_eval_s'])}/eval" if row["per_eval_s"] is not None else ""
        reps = row["timing"].get("repeats")
        reps = f"n={reps}" if reps else ""
        print(f"  {row['name']:<48} {fmt_time(row['seconds']):>10}  {per:>16}  {reps:>7}"
              f"  {row['note']}", flush=True)

    def print_ratios(self) -> None:
        self.header("Ratios (X / jaxmie: >1 means jaxmie is faster)")
        print(f"    {'':<72} {'medians':>9} {'minima':>9}")
        section = None
        for r in self.ratios:
            if r["section"] != section:
                section = r["section"]
                print(f"  [{section}]")
            print(f"    {r['label']:<72} {fmt_ratio(r['ratio']):>9} "
                  f"{fmt_ratio(r['ratio_of_minima']):>9}")

    def to_json(self, path: str) -> None:
        payload = {"meta": self.meta, "sections": self.sections, "ratios": self.ratios,
                   "accuracy": self.accuracy, "notes": self.notes}
        with open(path, "w") as f:
            json.dump(payload, f, indent=2, default=_json_default)
        print(f"\nresults saved to {path}")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)
