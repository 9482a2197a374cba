"""Ensembles at scale: throughput against batch size, float32 accuracy, peak memory.

Run from the repository root:

    python bench/bench_ensemble.py                 # N = 1 .. 10^6, float64 and float32
    python bench/bench_ensemble.py --full          # also N = 10^7
    python bench/bench_ensemble.py --tag h200      # results named after the machine

What is measured:

* Throughput of ``jaxmie.ensemble.pair_efficiencies`` (N independent sphere-wavelength pairs,
  streamed in chunks with lax.map) in evaluations (pairs) per second, for N = 1, 10, ...,
  10^6 (10^7 with --full), float64 and float32. Each (N, dtype) runs in a fresh subprocess
  so that its peak resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) belongs
  to that N alone; the compile time (first call) is reported apart from the median of the
  timed calls (bench/common.py ``measure``).
* The same for ``sharded_pair_efficiencies`` over all local devices, when there are
  several (GPUs, or CPU host devices forced with XLA_FLAGS).
* float32 against float64 (max relative difference of Q_ext, Q_sca; absolute of g) across
  regimes:
  small, moderate, large, metallic, high-index spheres, and a log-normal ensemble average.

Workload (bench/common.py ``sphere_workload``): radius ~ U(10, 150) nm, wavelength
~ U(400, 800) nm, n = 1.5 + 0.01i, n_max = 12 for every pair. Results go to
bench/results/ensemble-<tag>.json and a scaling plot ensemble-<tag>.png.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from common import machine_info, measure, sphere_workload

RESULTS = os.path.join(HERE, "results")


def _worker(n: int, dtype: str, sharded: bool, repeats: int) -> dict:
    """One (N, dtype) point, in its own process: compile, time, peak memory."""
    sys.path.insert(0, ROOT)
    import jax
    import jax.numpy as jnp

    from jaxmie import ensemble

    real = jnp.float64 if dtype == "float64" else jnp.float32
    cplx = jnp.complex128 if dtype == "float64" else jnp.complex64
    w = sphere_workload(n, seed=1)
    args = (jnp.asarray(w.radius, real), jnp.asarray(w.n, cplx), jnp.asarray(w.wavelength, real))
    fn = ensemble.sharded_pair_efficiencies if sharded else ensemble.pair_efficiencies

    def call():
        return fn(*args, n_max=w.n_max).q_ext

    t0 = time.perf_counter()
    jax.block_until_ready(call())
    first = time.perf_counter() - t0
    timing = measure(call, warmup=0, repeats=repeats, budget_s=20.0, min_repeats=1)
    return {"n": n, "dtype": dtype, "sharded": sharded, "devices": jax.device_count(),
            "backend": jax.default_backend(), "first_call_s": first,
            "median_s": timing.median, "min_s": timing.best, "repeats": timing.n,
            "evals_per_s": n / timing.median,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _run_point(n: int, dtype: str, sharded: bool, repeats: int) -> dict | None:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", str(n), dtype,
           "--repeats", str(repeats)] + (["--sharded"] if sharded else [])
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        print(f"  N={n} {dtype}: failed\n{out.stderr[-2000:]}", flush=True)
        return None
    row = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"  N={n:>9,} {dtype} {'sharded' if sharded else '       '} "
          f"{row['evals_per_s']:>12.3g} evals/s  median {row['median_s']:.3g} s  "
          f"compile+first {row['first_call_s']:.2f} s  peak RSS {row['peak_rss_mb']:.0f} MB",
          flush=True)
    return row


# Regimes for the float32 accuracy: (name, radius range nm, index, wavelength nm, n_max)
REGIMES = [
    ("small x 0.01-0.1", (0.6, 6.0), 1.5 + 0.01j, 400.0, 8),
    ("moderate x 0.2-2.4", (10.0, 150.0), 1.5 + 0.01j, 400.0, 16),
    ("large x 30-80", (2000.0, 5000.0), 1.33 + 1e-4j, 400.0, 104),
    ("metallic m=0.2+3i x 0.5-5", (30.0, 300.0), 0.2 + 3.0j, 400.0, 24),
    ("high index m=4+0.01i x 0.5-5", (30.0, 300.0), 4.0 + 0.01j, 400.0, 32),
]


def float32_accuracy() -> list[dict]:
    sys.path.insert(0, ROOT)
    import jax.numpy as jnp

    from jaxmie import ensemble

    rows = []
    rng = np.random.default_rng(3)
    for name, (lo, hi), m, wl, n_max in REGIMES:
        radius = rng.uniform(lo, hi, 2000)
        res = {}
        for dtype, real, cplx in (("f64", jnp.float64, jnp.complex128),
                                  ("f32", jnp.float32, jnp.complex64)):
            res[dtype] = ensemble.pair_efficiencies(jnp.asarray(radius, real), cplx(m),
                                                    real(wl), n_max=n_max)
        row = {"regime": name}
        for field in ("q_ext", "q_sca", "g"):
            a = np.asarray(getattr(res["f32"], field), float)
            b = np.asarray(getattr(res["f64"], field), float)
            # g lies in [-1, 1] and is ~x^2 for small spheres: absolute difference
            scale = 1.0 if field == "g" else np.maximum(np.abs(b), 1e-300)
            row[field] = float(np.max(np.abs(a - b) / scale))
        row["finite"] = bool(np.all(np.isfinite(np.asarray(res["f32"].q_ext))))
        rows.append(row)
    # an ensemble average: log-normal water-like cloud droplets, x up to ~60
    res = {}
    for dtype, real, cplx in (("f64", jnp.float64, jnp.complex128),
                              ("f32", jnp.float32, jnp.complex64)):
        dist = ensemble.LogNormal(real(1500.0), real(0.3))
        res[dtype] = ensemble.mean_optics(dist, cplx(1.33 + 1e-6j), real(550.0),
                                          quadrature=ensemble.Quadrature(nodes=512))
    row = {"regime": "log-normal mean, r_g 1.5 um, sigma 0.3, m 1.33"}
    for field in ("c_ext", "c_sca", "g"):
        a, b = float(getattr(res["f32"], field)), float(getattr(res["f64"], field))
        row[field.replace("c_", "q_")] = abs(a - b) / (1.0 if field == "g" else abs(b))
    row["finite"] = bool(np.isfinite(float(res["f32"].c_ext)))
    rows.append(row)
    for row in rows:
        print(f"  {row['regime']:<48} Q_ext {row['q_ext']:.1e}  Q_sca {row['q_sca']:.1e}"
              f"  g (abs) {row['g']:.1e}  finite {row['finite']}", flush=True)
    return rows


def plot(rows: list[dict], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax_mem) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {("float64", False): ("C0", "o-"), ("float32", False): ("C1", "s-"),
              ("float64", True): ("C2", "o--"), ("float32", True): ("C3", "s--")}
    for (dtype, sharded), (color, style) in styles.items():
        pts = sorted((r for r in rows if r["dtype"] == dtype and r["sharded"] == sharded),
                     key=lambda r: r["n"])
        if not pts:
            continue
        label = f"{dtype}" + (f", sharded over {pts[0]['devices']} devices" if sharded else "")
        n = [r["n"] for r in pts]
        ax.loglog(n, [r["evals_per_s"] for r in pts], style, color=color, label=label)
        ax_mem.semilogx(n, [r["peak_rss_mb"] for r in pts], style, color=color, label=label)
    ax.set_xlabel("batch size N (sphere-wavelength pairs)")
    ax.set_ylabel("throughput (evaluations / s)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax_mem.set_xlabel("batch size N")
    ax_mem.set_ylabel("peak resident memory of the process (MB)")
    ax_mem.set_title("memory: inputs + outputs + one chunk", fontsize=10)
    ax_mem.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot saved to {path}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--full", action="store_true", help="also N = 10^7")
    ap.add_argument("--max-exponent", type=int, default=6, help="largest N = 10^k (default 6)")
    ap.add_argument("--tag", default="cpu-2core", help="name of the result files")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-sharded", action="store_true", help="skip the sharded sweep")
    ap.add_argument("--worker", nargs=2, metavar=("N", "DTYPE"), help=argparse.SUPPRESS)
    ap.add_argument("--sharded", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        print(json.dumps(_worker(int(args.worker[0]), args.worker[1], args.sharded,
                                 args.repeats)))
        return 0

    sys.path.insert(0, ROOT)
    import jax


    jax.config.update("jax_enable_x64", True)

    info = machine_info()
    print(f"jax {info.get('jax')} on {info.get('jax_backend')}: {info.get('jax_devices')}")
    top = 7 if args.full else args.max_exponent
    sizes = [10**k for k in range(top + 1)]
    rows = []
    print("\n== throughput of pair_efficiencies (one subprocess per point) ==")
    for dtype in ("float64", "float32"):
        for n in sizes:
            row = _run_point(n, dtype, False, args.repeats)
            if row:
                rows.append(row)
    if jax.device_count() > 1 and not args.no_sharded:
        print(f"\n== sharded over {jax.device_count()} devices ==")
        for dtype in ("float64", "float32"):
            for n in sizes[2:]:
                row = _run_point(n, dtype, True, args.repeats)
                if row:
                    rows.append(row)
    print("\n== float32 against float64 (max relative difference) ==")
    accuracy = float32_accuracy()
    os.makedirs(RESULTS, exist_ok=True)
    stem = os.path.join(RESULTS, f"ensemble-{args.tag}")
    with open(stem + ".json", "w") as f:
        json.dump({"meta": info, "throughput": rows, "float32_accuracy": accuracy}, f,
                  indent=2, default=str)
    print(f"results saved to {stem}.json")
    plot(rows, stem + ".png", f"jaxmie pair_efficiencies, n_max = 12, "
                              f"{info.get('jax_backend')} ({args.tag})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
