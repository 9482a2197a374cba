"""jaxmie against peer Mie codes, in one process, with ratios.

Run from the repository root (see bench/README.md):

    python bench/bench_core.py            # full run, ~4-5 minutes on 2 CPU cores
    python bench/bench_core.py --quick    # ~2-3 minutes: fewer rounds, fewer variants
    python bench/bench_core.py --json out/bench.json

Workloads (bench/common.py): the PyMieDiff paper's 256 core-shell particles x 256
wavelengths (forward spectra and the gradient of sum Q_sca w.r.t. radii and indices);
1 particle x 1 wavelength and 1 x 256; 65,536 homogeneous spheres (one wavelength each);
and the per-evaluation cost against batch size (1 to 65,536 pairs). Every code gets the
same inputs and the same n_max where it accepts one; the outputs are checked against each
other (max relative difference printed) before the timings mean anything.

jaxmie runs on JAX's default device (a GPU when one is visible); the torch peers stay on
the CPU. On the big workloads the codes are timed interleaved (round r calls each once),
so that a shared machine's drifting speed hits all of them alike.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common
import peers
from common import (
    Report,
    Timing,
    coreshell_pairs,
    coreshell_workload,
    max_rel_diff,
    max_rel_diff_grad,
    measure,
    measure_fast,
    measure_rounds,
    sphere_workload,
)

Q_KEYS = ("q_ext", "q_sca", "q_abs")
GRAD_NAMES = ("r_core", "r_shell", "Re n_core", "Im n_core", "Re n_shell", "Im n_shell")


# ======================================================================================
# jaxmie runners
# ======================================================================================


class JaxmieCase:
    """A jitted forward (and gradient) of jaxmie on one workload, with compile timings."""

    def __init__(self, forward_fn, forward_args, grad_fn=None, grad_args=None):
        import jax

        self.jax = jax
        self.fwd = jax.jit(forward_fn)
        self.fwd_args = forward_args
        self.grad = jax.jit(grad_fn) if grad_fn is not None else None
        self.grad_args = grad_args

    def call_forward(self):
        return self.fwd(*self.fwd_args)

    def call_grad(self):
        return self.grad(*self.grad_args)

    def forward_values(self) -> list[np.ndarray]:
        return [np.asarray(v) for v in self.call_forward()]

    def grad_values(self) -> list[np.ndarray]:
        return [np.asarray(v) for v in self.call_grad()]

    def warm(self, which: str, split: bool = True) -> dict[str, float]:
        """First call through jit (trace + compile + run); then, with split, the time of an
        ahead-of-time lower() and compile() of a fresh wrapper (jit's cache would otherwise
        return the executable at once)."""
        jitted, args = (self.fwd, self.fwd_args) if which == "forward" else (self.grad,
                                                                             self.grad_args)
        t0 = time.perf_counter()
        self.jax.block_until_ready(jitted(*args))
        out = {"first_call_s": time.perf_counter() - t0}
        if split:
            fresh = self.jax.jit(lambda *a: jitted(*a))
            t0 = time.perf_counter()
            lowered = fresh.lower(*args)
            t1 = time.perf_counter()
            lowered.compile()
            t2 = time.perf_counter()
            out.update({"lower_s": t1 - t0, "compile_s": t2 - t1, "total_s": t2 - t0})
        return out


def jaxmie_coreshell(wl: common.CoreShellWorkload) -> JaxmieCase:
    """Forward: (Q_ext, Q_sca, Q_abs), each (B, W) (scalars for 1 x 1).
    Gradient: d sum(Q_sca) / d(r_core, r_shell, Re n_core, Im n_core, Re n_shell, Im n_shell).
    """
    import jax
    import jax.numpy as jnp

    import jaxmie as jm

    n_max = wl.n_max
    scalar = wl.r_core.shape[0] == 1 and wl.wavelength.shape[0] == 1

    def take(v):
        return jnp.asarray(v[0]) if scalar else jnp.asarray(v)

    def forward(p, lam):
        r = jm.efficiencies(p, lam, n_max=n_max)
        return r.q_ext, r.q_sca, r.q_abs

    def loss(params, lam):
        rc, rs, ncr, nci, nsr, nsi = params
        p = jm.CoreShell(r_core=rc, r_shell=rs, n_core=ncr + 1j * nci, n_shell=nsr + 1j * nsi)
        return jnp.sum(jm.efficiencies(p, lam, n_max=n_max).q_sca)

    lam = take(wl.wavelength)
    p = jm.CoreShell(r_core=take(wl.r_core), r_shell=take(wl.r_shell),
                     n_core=take(wl.n_core), n_shell=take(wl.n_shell))
    params = tuple(take(v) for v in (wl.r_core, wl.r_shell, wl.n_core.real, wl.n_core.imag,
                                     wl.n_shell.real, wl.n_shell.imag))
    return JaxmieCase(forward, (p, lam), jax.grad(loss), (params, lam))


def jaxmie_spheres(wl: common.SphereWorkload, vmap_pairs: bool = False) -> JaxmieCase:
    """N spheres, each with its own wavelength.

    vmap_pairs=False: the broadcasting API, Sphere with batch (N,) at one wavelength and
    radii scaled to the same size parameters (jaxmie's own batching path).
    vmap_pairs=True: jax.vmap of efficiencies over (radius, wavelength, n) triples.
    """
    import jax
    import jax.numpy as jnp

    import jaxmie as jm

    n_max = wl.n_max
    n = jnp.asarray(wl.n)
    if vmap_pairs:
        def one(r, lam, n):
            q = jm.efficiencies(jm.Sphere(radius=r, n=n), lam, n_max=n_max)
            return q.q_ext, q.q_sca, q.q_abs

        return JaxmieCase(jax.vmap(one), (jnp.asarray(wl.radius), jnp.asarray(wl.wavelength),
                                          n))

    radius, lam0 = wl.at_common_wavelength()
    radius, lam = jnp.asarray(radius), jnp.asarray(lam0)

    def forward(r, n, lam):
        q = jm.efficiencies(jm.Sphere(radius=r, n=n), lam, n_max=n_max)
        return q.q_ext, q.q_sca, q.q_abs

    def loss(params, lam):
        r, nr, ni = params
        return jnp.sum(jm.efficiencies(jm.Sphere(radius=r, n=nr + 1j * ni), lam,
                                       n_max=n_max).q_sca)

    return JaxmieCase(forward, (radius, n, lam), jax.grad(loss),
                      ((radius, jnp.real(n), jnp.imag(n)), lam))


# ======================================================================================
# helpers
# ======================================================================================


def with_torch_threads(fn: Callable[[], Any], threads: int | None) -> Callable[[], Any]:
    """Run fn with torch.set_num_threads(threads) (None: leave torch's setting alone)."""
    if threads is None:
        return fn
    import torch

    def call():
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return fn()
        finally:
            torch.set_num_threads(old)

    return call


def _scattnlay_fd_gradient(wl: common.CoreShellWorkload, n_particles: int, h: float = 1e-5
                           ) -> list[np.ndarray]:
    """Central finite differences of sum_W Q_sca with scattnlay, first n_particles only.

    Step h relative to the value for the radii and Re n, absolute for Im n.
    """
    sub = wl.subset(n_particles, 1)
    sub = common.CoreShellWorkload(sub.r_core, sub.r_shell, sub.n_core, sub.n_shell,
                                   wl.wavelength, wl.n_max)
    grads = []
    for i, field in enumerate(["r_core", "r_shell", "n_core", "n_core", "n_shell", "n_shell"]):
        base = getattr(sub, field)
        if i in (0, 1):
            step = h * base
            delta = step
        elif i in (2, 4):
            step = h * base.real
            delta = step.astype(complex)
        else:
            step = np.full(base.shape, h)
            delta = 1j * step
        plus = common.CoreShellWorkload(**{**sub.__dict__, field: base + delta})
        minus = common.CoreShellWorkload(**{**sub.__dict__, field: base - delta})
        qp = peers.ScattnlayCoreShell(plus).forward()["q_sca"].sum(axis=1)
        qm = peers.ScattnlayCoreShell(minus).forward()["q_sca"].sum(axis=1)
        grads.append((qp - qm) / (2 * step))
    return grads


# ======================================================================================
# the benchmark
# ======================================================================================


class Bench:
    def __init__(self, quick: bool, skip_peers: bool, torch_threads: int | None = None):
        self.quick = quick
        self.rep = Report()
        self.have = {} if skip_peers else peers.available()
        self.has_pmd = bool(self.have.get("pymiediff") and self.have.get("torch"))
        self.has_snl = bool(self.have.get("scattnlay"))
        self.has_mie = bool(self.have.get("miepython"))
        # torch threads for the PyMieDiff runs: `torch_threads`; by default 1 on <= 2 cores
        # (torch's OpenMP barriers stall for seconds on the small shared VM, see README) and
        # torch's own default elsewhere. The full run also times the fastest backend with
        # the other setting (threads check).
        self.torch_threads: int | None = torch_threads
        self.torch_default_threads: int | None = None
        if self.has_pmd:
            import torch

            self.torch_default_threads = torch.get_num_threads()
            if torch_threads is None:
                torch_threads = 1 if (os.cpu_count() or 1) <= 2 else 0
            self.torch_threads = torch_threads or self.torch_default_threads
            torch.set_num_threads(self.torch_threads)
        self.pmd_fastest: tuple[str, str, str, int | None] | None = None

    def pmd_variants(self):
        """(name, backend, which_jn, torch threads) of each PyMieDiff variant timed."""
        if not self.has_pmd:
            return
        for label, backend, which_jn in peers.PYMIEDIFF_VARIANTS:
            yield f"PyMieDiff {label}", backend, which_jn, None  # None: the global setting

    # -------------------------------------------------------------- machine
    def meta(self) -> None:
        import jax

        try:
            import jaxmie

            jaxmie_version = getattr(jaxmie, "__version__", "?")
        except Exception as exc:
            jaxmie_version = f"import failed: {exc!r}"
        info = common.machine_info()
        info["jaxmie"] = jaxmie_version
        info.update(self.have)
        if self.has_pmd:
            info.update(peers.torch_info())
            info["torch_threads"] = (f"{self.torch_threads} for PyMieDiff (torch default "
                                     f"{self.torch_default_threads})")
        info["quick"] = self.quick
        # On CPU, jaxmie runs its native kernel when it could build it (JAXMIE_NATIVE=0: the
        # JAX implementation, as on GPU).
        native = importlib.import_module("jaxmie._native")
        info["jaxmie_native"] = native.available() and jax.default_backend() == "cpu"
        self.rep.meta = info
        self.rep.header("Machine")
        for k, v in info.items():
            print(f"  {k:<16} {v}")
        dev = jax.devices()[0]
        print(f"  jaxmie runs on: {dev.platform} ({dev.device_kind}); torch peers on CPU")

    # -------------------------------------------------------------- 256 x 256
    def coreshell_main(self) -> None:
        wl = coreshell_workload(256, 256)
        sec = "core-shell 256 x 256"
        rep = self.rep
        n = wl.n_evals
        rounds = 3 if self.quick else 5
        budget = 25 if self.quick else 40
        rep.header(f"{sec}: forward (Q_ext, Q_sca, Q_abs spectra), n_max = {wl.n_max}, "
                   f"interleaved, <= {rounds} rounds")

        jcase = jaxmie_coreshell(wl)
        comp_fwd = jcase.warm("forward")
        fns: dict[str, Any] = {"jaxmie forward": jcase.call_forward}
        caps: dict[str, int] = {}
        snl = None
        snl_name = "scattnlay forward (Python loop over pairs)"
        if self.has_snl:
            snl = peers.ScattnlayCoreShell(wl)
            fns[snl_name] = snl.forward
            caps[snl_name] = 1 if self.quick else 3
        pmd_runs = {}
        for name, backend, which_jn, threads in self.pmd_variants():
            run = peers.PyMieDiffCoreShell(wl, backend, which_jn)
            pmd_runs[name] = (run, threads)
            fns[f"{name} forward"] = with_torch_threads(run.forward, threads)
            if backend == "scipy":
                caps[f"{name} forward"] = 1 if self.quick else 2
        tf = measure_rounds(fns, rounds=rounds, warmup=1, caps=caps, budget_s=budget)
        t_fwd = tf["jaxmie forward"]
        for name, t in tf.items():
            label = "jaxmie forward (steady state)" if name == "jaxmie forward" else name
            rep.add(sec, label, t, n_evals=n, note=f"min {common.fmt_time(t.best)}")
        rep.add(sec, "jaxmie forward compile (trace+lower+XLA)", comp_fwd["total_s"],
                note=f"lower {common.fmt_time(comp_fwd['lower_s'])}, XLA "
                     f"{common.fmt_time(comp_fwd['compile_s'])}", detail=comp_fwd)
        rep.add(sec, "jaxmie forward first call (jit)", comp_fwd["first_call_s"],
                note="first - steady = "
                     f"{common.fmt_time(comp_fwd['first_call_s'] - t_fwd.median)}")

        # agreement of the spectra
        j_out = dict(zip(Q_KEYS, jcase.forward_values()))
        outs = {name: run.last for name, (run, _) in pmd_runs.items()}
        ref_name, ref = "jaxmie", j_out
        if snl is not None:
            ref_name, ref = "scattnlay", snl.last
            outs = {"jaxmie": j_out, **outs}
        print(f"  agreement of the spectra (reference: {ref_name}):")
        for key in Q_KEYS:
            for name, out in outs.items():
                rep.add_accuracy(sec, key, name, ref_name, max_rel_diff(out[key], ref[key]))

        # gradient
        rep.header(f"{sec}: gradient of sum(Q_sca) w.r.t. {', '.join(GRAD_NAMES)} "
                   f"(each (256,)), interleaved")
        comp_grad = jcase.warm("grad")
        gfns: dict[str, Any] = {"jaxmie gradient": jcase.call_grad}
        gcaps: dict[str, int] = {}
        for name, (run, threads) in pmd_runs.items():
            key = f"{name} gradient (forward+backward)"
            gfns[key] = with_torch_threads(run.gradient, threads)
            if run.backend == "scipy":
                gcaps[key] = 1 if self.quick else 2
        tg = measure_rounds(gfns, rounds=max(2, rounds - 1), warmup=1, caps=gcaps,
                            budget_s=budget)
        t_grad = tg["jaxmie gradient"]
        for name, t in tg.items():
            label = "jaxmie gradient (steady state)" if name == "jaxmie gradient" else name
            rep.add(sec, label, t, n_evals=n, note=f"min {common.fmt_time(t.best)}")
        rep.add(sec, "jaxmie gradient compile (trace+lower+XLA)", comp_grad["total_s"],
                note=f"lower {common.fmt_time(comp_grad['lower_s'])}, XLA "
                     f"{common.fmt_time(comp_grad['compile_s'])}", detail=comp_grad)
        rep.add(sec, "jaxmie gradient first call (jit)", comp_grad["first_call_s"],
                note="first - steady = "
                     f"{common.fmt_time(comp_grad['first_call_s'] - t_grad.median)}")
        print(f"  jaxmie gradient / forward = {t_grad.median / t_fwd.median:.2f} (medians)")

        j_grad = jcase.grad_values()
        print("  gradient agreement (max |diff| / max |reference| of each parameter array):")
        if snl is not None:
            fd = _scattnlay_fd_gradient(wl, n_particles=8)
            for i, gname in enumerate(GRAD_NAMES):
                rep.add_accuracy(sec, f"d/d {gname}", "jaxmie (first 8 particles)",
                                 "scattnlay central FD", max_rel_diff_grad(j_grad[i][:8], fd[i]))
        for name, (run, _) in pmd_runs.items():
            worst = max(max_rel_diff_grad(run.last_grad[i], j_grad[i])
                        for i in range(len(GRAD_NAMES)))
            rep.add_accuracy(sec, "grad (all)", name, "jaxmie", worst)

        # ratios
        rep.ratio("jaxmie gradient / jaxmie forward", t_grad, t_fwd, sec)
        if snl is not None:
            t_snl = tf[snl_name]
            rep.ratio("scattnlay / jaxmie forward", t_snl, t_fwd, sec)
            fd_cost = 12 * t_snl.median
            rep.add(sec, "scattnlay gradient by central FD (estimate = 12 forward)", fd_cost,
                    n_evals=n, note="not run: 12 batch evaluations (6 params/particle)")
            rep.ratio("scattnlay central-FD gradient (estimate) / jaxmie gradient", fd_cost,
                      t_grad.median, sec)
        for name in pmd_runs:
            rep.ratio(f"{name} forward / jaxmie forward", tf[f"{name} forward"], t_fwd, sec)
        for name in pmd_runs:
            rep.ratio(f"{name} gradient / jaxmie gradient",
                      tg[f"{name} gradient (forward+backward)"], t_grad, sec)
        for name in pmd_runs:
            rep.ratio(f"{name} gradient / its own forward",
                      tg[f"{name} gradient (forward+backward)"], tf[f"{name} forward"], sec)
        if pmd_runs:
            best_f = min(pmd_runs, key=lambda k: tf[f"{k} forward"].median)
            best_g = min(pmd_runs, key=lambda k: tg[f"{k} gradient (forward+backward)"].median)
            rep.ratio(f"PyMieDiff fastest forward ({best_f}) / jaxmie forward",
                      tf[f"{best_f} forward"], t_fwd, sec)
            rep.ratio(f"PyMieDiff fastest gradient ({best_g}) / jaxmie gradient",
                      tg[f"{best_g} gradient (forward+backward)"], t_grad, sec)
            run, threads = pmd_runs[best_f]
            self.pmd_fastest = (best_f, run.backend, run.which_jn, threads)
            if not self.quick and (self.torch_default_threads or 1) > 1:
                self._threads_check(sec, jcase, pmd_runs[best_f][0], best_f,
                                    pmd_runs[best_g][0], best_g, n)

    def _threads_check(self, sec, jcase, run_f, name_f, run_g, name_g, n) -> None:
        """The fastest PyMieDiff forward and gradient again, with torch's default threads
        and with the configured count, interleaved with jaxmie (two rounds)."""
        rep = self.rep
        nt = self.torch_default_threads if self.torch_threads == 1 else 1
        print(f"  threads check: torch with {nt} vs {self.torch_threads} thread(s), fastest "
              f"backends, interleaved with jaxmie:")
        fns = {
            "jaxmie forward": jcase.call_forward,
            f"{name_f} forward, {nt} thread(s)": with_torch_threads(run_f.forward, nt),
            f"{name_f} forward, {self.torch_threads} thread(s)":
                with_torch_threads(run_f.forward, self.torch_threads),
            "jaxmie gradient": jcase.call_grad,
            f"{name_g} gradient, {nt} thread(s)": with_torch_threads(run_g.gradient, nt),
            f"{name_g} gradient, {self.torch_threads} thread(s)":
                with_torch_threads(run_g.gradient, self.torch_threads),
        }
        t = measure_rounds(fns, rounds=2, warmup=1, budget_s=30)
        for name, tm in t.items():
            rep.add(sec + " (threads check)", name, tm, n_evals=n,
                    note=f"min {common.fmt_time(tm.best)}")
        for name, tm in t.items():
            if name.startswith("PyMieDiff"):
                ref = t["jaxmie forward" if "forward" in name else "jaxmie gradient"]
                rep.ratio(f"{name} / jaxmie", tm, ref, sec + " (threads check)")

    # -------------------------------------------------------------- 1 x 1, 1 x 256
    def coreshell_small(self) -> None:
        base = coreshell_workload(256, 256)
        budget = 0.5 if self.quick else 1.0
        for (b, w) in ((1, 1), (1, 256)):
            wl = base.subset(b, w)
            sec = f"core-shell {b} x {w}"
            rep = self.rep
            rep.header(f"{sec}: latency of one call (jitted; inputs already on the device)")
            jcase = jaxmie_coreshell(wl)
            comp = jcase.warm("forward")
            t_j = measure_fast(jcase.call_forward, budget_s=budget)
            rep.add(sec, "jaxmie forward (steady state)", t_j, n_evals=wl.n_evals)
            rep.add(sec, "jaxmie forward compile (trace+lower+XLA)", comp["total_s"],
                    note=f"first call {common.fmt_time(comp['first_call_s'])}", detail=comp)
            if b * w == 1:  # what any jitted call costs here: the floor under the latency
                import jax

                trivial = jax.jit(lambda p, lam: p.r_core * lam)
                args = jcase.fwd_args
                jax.block_until_ready(trivial(*args))
                t0j = measure_fast(lambda: trivial(*args), budget_s=budget)
                rep.add(sec, "JAX dispatch floor (trivial jitted fn, same inputs)", t0j,
                        note="not jaxmie: r_core * wavelength")
            jcase.warm("grad", split=False)
            t_g = measure_fast(jcase.call_grad, budget_s=budget)
            rep.add(sec, "jaxmie gradient (steady state)", t_g, n_evals=wl.n_evals)
            rep.ratio(f"jaxmie gradient / jaxmie forward ({b}x{w})", t_g, t_j, sec)
            j_out = dict(zip(Q_KEYS, (np.reshape(v, (b, w)) for v in jcase.forward_values())))
            if self.has_snl:
                run = peers.ScattnlayCoreShell(wl)
                t = measure_fast(run.forward, budget_s=budget)
                rep.add(sec, "scattnlay forward", t, n_evals=wl.n_evals)
                rep.ratio(f"scattnlay / jaxmie forward ({b}x{w})", t, t_j, sec)
                rep.add_accuracy(sec, "Q (all)", "jaxmie", "scattnlay",
                                 max(max_rel_diff(j_out[k], run.last[k]) for k in Q_KEYS))
            for name, backend, which_jn, threads in self.pmd_variants():
                run = peers.PyMieDiffCoreShell(wl, backend, which_jn)
                t = measure_fast(with_torch_threads(run.forward, threads), budget_s=budget,
                                 warmup=1)
                rep.add(sec, f"{name} forward", t, n_evals=wl.n_evals)
                tgp = measure_fast(with_torch_threads(run.gradient, threads), budget_s=budget,
                                   warmup=1)
                rep.add(sec, f"{name} gradient (forward+backward)", tgp, n_evals=wl.n_evals)
                rep.ratio(f"{name} / jaxmie forward ({b}x{w})", t, t_j, sec)
                rep.ratio(f"{name} gradient / jaxmie gradient ({b}x{w})", tgp, t_g, sec)
                rep.add_accuracy(sec, "Q (all)", name, "jaxmie",
                                 max(max_rel_diff(run.last[k], j_out[k]) for k in Q_KEYS))

    # -------------------------------------------------------------- 65,536 spheres
    def spheres(self) -> None:
        n_spheres = 65536
        wl = sphere_workload(n_spheres)
        sec = f"{n_spheres} homogeneous spheres"
        rep = self.rep
        rounds = 3 if self.quick else 4
        rep.header(f"{sec} (each at its own wavelength), n_max = {wl.n_max}, interleaved")
        jcase = jaxmie_spheres(wl)
        vcase = jaxmie_spheres(wl, vmap_pairs=True)
        comp = jcase.warm("forward")
        comp_v = vcase.warm("forward")
        comp_g = jcase.warm("grad")
        j_batch = "jaxmie forward, batch API (Sphere (N,), one wavelength)"
        j_vmap = "jaxmie forward, jax.vmap over (r, wavelength, n)"
        j_grad = "jaxmie gradient d sum(Q_sca)/d(r, Re n, Im n)"
        fns: dict[str, Any] = {j_batch: jcase.call_forward, j_vmap: vcase.call_forward,
                               j_grad: jcase.call_grad}
        caps: dict[str, int] = {}
        runs: dict[str, Any] = {}
        first: dict[str, float] = {}
        if self.has_snl:
            name = "scattnlay forward (Python loop)"
            runs[name] = peers.ScattnlaySpheres(wl)
            fns[name] = runs[name].forward
            caps[name] = 1 if self.quick else 3
        if self.has_mie:
            for jit in (False, True):
                name = "miepython efficiencies_mx (" + ("numba" if jit else "NumPy") + ")"
                run = runs[name] = peers.MiepythonSpheres(wl, jit=jit)
                t0 = time.perf_counter()
                run.forward()  # numba compiles (or loads its on-disk cache) here
                first[name] = time.perf_counter() - t0
                fns[name] = run.forward
                caps[name] = rounds if jit else 1
        for name, backend, which_jn, threads in self.pmd_variants():
            run = runs[name] = peers.PyMieDiffSpheres(wl, backend, which_jn)
            fns[f"{name} forward"] = with_torch_threads(run.forward, threads)
            if backend == "scipy":
                caps[f"{name} forward"] = 1 if self.quick else 2
        timings = measure_rounds(fns, rounds=rounds, warmup=1, caps=caps,
                                 warmups=dict.fromkeys(first, 0),
                                 budget_s=30 if self.quick else 60)
        t_j = timings[j_batch]
        for name, t in timings.items():
            note = f"min {common.fmt_time(t.best)}"
            if name in first:
                note += f"; first call {common.fmt_time(first[name])}"
            rep.add(sec, name, t, n_evals=n_spheres, note=note)
        for label, c in (("forward, batch API", comp), ("forward, vmap", comp_v),
                         ("gradient", comp_g)):
            rep.add(sec, f"jaxmie {label} compile (trace+lower+XLA)", c["total_s"], detail=c)
        rep.ratio("jaxmie vmap over pairs / jaxmie batch API", timings[j_vmap], t_j, sec)
        rep.ratio("jaxmie gradient / jaxmie forward", timings[j_grad], t_j, sec)
        for name, t in timings.items():
            if not name.startswith("jaxmie"):
                rep.ratio(f"{name} / jaxmie forward", t, t_j, sec)

        j_out = dict(zip(Q_KEYS, jcase.forward_values()))
        outs = {"jaxmie (vmap over pairs)": dict(zip(Q_KEYS, vcase.forward_values()))}
        outs.update({name: run.last for name, run in runs.items()})
        print("  agreement (reference: jaxmie batch API; miepython picks its own n_max):")
        for k in Q_KEYS:
            for name, out in outs.items():
                rep.add_accuracy(sec, k, name, "jaxmie", max_rel_diff(out[k], j_out[k]))

    # -------------------------------------------------------------- batch-size sweep
    def scaling(self) -> None:
        sizes = [1, 256, 65536] if self.quick else [1, 16, 256, 4096, 65536]
        sec = "per-evaluation cost vs batch size"
        rep = self.rep
        rep.header(f"{sec}: N core-shell particle-wavelength pairs (folded onto one "
                   f"wavelength), n_max = {common.N_MAX_CORESHELL}")
        rows = []
        for n in sizes:
            wl = coreshell_pairs(n)
            row: dict[str, Any] = {"N": n}
            timings: dict[str, Timing] = {}
            jcase = jaxmie_coreshell(wl)
            jcase.warm("forward", split=False)
            if n <= 4096:
                timings["jaxmie forward"] = measure_fast(jcase.call_forward, budget_s=0.5)
            else:
                timings["jaxmie forward"] = measure(jcase.call_forward, warmup=1, repeats=5)
            if not self.quick:
                jcase.warm("grad", split=False)
                if n <= 4096:
                    timings["jaxmie gradient"] = measure_fast(jcase.call_grad, budget_s=0.5)
                else:
                    timings["jaxmie gradient"] = measure(jcase.call_grad, warmup=1, repeats=3)
            if self.has_snl:
                run = peers.ScattnlayCoreShell(wl)
                timings["scattnlay forward"] = (
                    measure_fast(run.forward, budget_s=0.5) if n <= 256 else
                    measure(run.forward, warmup=0, repeats=3 if n < 65536 else 1))
            if self.pmd_fastest is not None:
                name, backend, which_jn, threads = self.pmd_fastest
                run = peers.PyMieDiffCoreShell(wl, backend, which_jn)
                fwd = with_torch_threads(run.forward, threads)
                timings[f"{name} forward"] = (
                    measure_fast(fwd, budget_s=0.5, warmup=1) if n <= 256 else
                    measure(fwd, warmup=1, repeats=3))
            for k, t in timings.items():
                row[k] = t.median
            rows.append(row)
            rep.sections.setdefault(sec, []).append(
                {"N": n, **{k: t.to_dict() for k, t in timings.items()}})
            for k, t in timings.items():
                if not k.startswith("jaxmie"):
                    rep.ratio(f"{k} / jaxmie forward at N = {n}", t, timings["jaxmie forward"],
                              sec)
        cols = [c for c in rows[0] if c != "N"]
        width = max(len(c) for c in cols) + 2
        print(f"  per evaluation (median time / N):\n  {'N':>7}" +
              "".join(f"{c:>{width}}" for c in cols))
        for row in rows:
            print(f"  {row['N']:>7}" + "".join(
                f"{common.fmt_time(row[c] / row['N']):>{width}}" for c in cols))
        print(f"  whole call:\n  {'N':>7}" + "".join(f"{c:>{width}}" for c in cols))
        for row in rows:
            print(f"  {row['N']:>7}" + "".join(f"{common.fmt_time(row[c]):>{width}}"
                                               for c in cols))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="fewer rounds, smaller batch-size sweep, no one-thread torch variants")
    ap.add_argument("--json", metavar="PATH", help="save every number as JSON")
    ap.add_argument("--skip-peers", action="store_true", help="time jaxmie only")
    ap.add_argument("--only", choices=["main", "small", "spheres", "scaling"], action="append",
                    help="run only these sections (repeatable)")
    ap.add_argument("--jaxmie-root", metavar="DIR",
                    help="import jaxmie from DIR instead of this checkout (e.g. an exported "
                         "commit: mkdir DIR && git archive HEAD jaxmie | tar -x -C DIR)")
    ap.add_argument("--torch-threads", type=int, default=None,
                    help="torch threads for the PyMieDiff runs; 0 = torch's own default. "
                         "Default: 1 on machines with <= 2 cores (torch's OpenMP barriers "
                         "stall for seconds on the 2-vCPU VM, see README), else torch's own. "
                         "The full run also times the fastest backend with the other setting")
    args = ap.parse_args(argv)

    sys.path.insert(0, os.path.abspath(args.jaxmie_root) if args.jaxmie_root
                    else os.path.dirname(HERE))
    t_start = time.perf_counter()
    bench = Bench(quick=args.quick, skip_peers=args.skip_peers,
                  torch_threads=args.torch_threads)
    bench.meta()
    sections = args.only or ["main", "small", "spheres", "scaling"]
    failed = []
    for name, fn in [("main", bench.coreshell_main), ("small", bench.coreshell_small),
                     ("spheres", bench.spheres), ("scaling", bench.scaling)]:
        if name not in sections:
            continue
        try:
            fn()
        except Exception:
            failed.append(name)
            print(f"\n!! section {name} failed:\n{traceback.format_exc()}", flush=True)
    bench.rep.print_ratios()
    wall = time.perf_counter() - t_start
    bench.rep.meta["wall_time_s"] = wall
    bench.rep.meta["failed_sections"] = failed
    print(f"\ntotal wall time {wall:.1f} s")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        bench.rep.to_json(args.json)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
