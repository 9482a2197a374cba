"""Clusters (jaxmie.cluster.solve): time and peak memory against N and lmax, and treams.

Run from the repository root:

    python bench/bench_cluster.py              # lmax = 1 (dipoles), N = 10 .. 5000, dense to 1000
    python bench/bench_cluster.py --quick      # N = 10, 100, 1000; dense up to 100 (~3 min)
    python bench/bench_cluster.py --dense-max 3000   # the dense solver at larger N too
    python bench/bench_cluster.py --lmax 4 --sizes 10 100 1000 --dense-max 100 --treams-max 100
                                               # multipoles, with treams in the same run
    python bench/bench_cluster.py --tag h200   # results named after the machine

``--lmax`` (one or more) picks the multipole degree (1: the coupled-dipole model);
``--treams-max`` also times treams (test-only peer, if installed) up to that N at each
lmax >= 2, in its own subprocess: ``TMatrix.sphere`` (one shared T-matrix), ``TMatrix.cluster``
+ ``.interaction.solve()`` (treams inverts the whole cluster matrix), the plane wave's
coefficients and the field at the focus: the forward problem as treams solves it.

Workload: N Si-core / Au-shell spheres (r_core 40 nm, r_shell 50 nm, the particle of
notebooks/cluster_focusing.ipynb; indices of the bundled Si and Au data at 940 nm, the
dipolar plasmon's scattering peak) on the first N sites of a square grid in the plane z = 0,
row by row, with a pitch of 2.5 wavelengths (between the Rayleigh anomalies at sqrt(5) and
sqrt(8) wavelengths, so the lattice sums stay tame); plane wave along +z, E along x. The
scalar is the intensity |E|^2 at a focus 5 wavelengths behind the grid centre
(``cluster.solve`` + ``cluster.near_field``, n_max = max(6, lmax)).

What is timed, each (N, lmax, solver, mode) point in its own subprocess so that its peak
resident memory (``ru_maxrss``) belongs to that point alone:

* forward: ``jax.jit`` of the focal intensity (with the solution's ``residual`` and
  ``converged`` as auxiliary outputs, which the log reports);
* gradient: ``jax.jit(jax.grad(..., argnums=(0, 1, 2), has_aux=True))`` with respect to
  the positions (N, 3) and both radii (N,) of every sphere;
* solvers: ``method="dense"`` (6N x 6N matrix, LU) and ``method="gmres"`` (matrix-free,
  restart 30, tol 1e-12, implicit gradients).

Compile time is reported apart: ``jit(f).lower(args)`` (trace + lower) and ``.compile()``
(XLA); then the first call (a warm-up) and the median of the timed calls
(bench/common.py ``measure``, up to 5 within ``--budget`` seconds, at least one). A point
whose first call already takes longer than the budget is timed by that call alone: it
runs the compiled executable, so it is a steady-state sample (this keeps the N = 3000 and
5000 points to one run each). "RSS before" is the resident memory after imports and
inputs, before compiling, so peak - before is what the point itself needed.

Dense is run up to N = 1000 by default: at N = 3000 one 18000 x 18000 complex128 matrix
is 5.2 GB, with about three such arrays alive during construction and LU (over 15 GB of
the 24 GB that other jobs share on the 2-core VM), and LU's N^3 would take ~27x the
N = 1000 time. Results go to bench/results/cluster-<tag>.json; the printed output is the
log.
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

from common import Timing, machine_info, measure

RESULTS = os.path.join(HERE, "results")
WAVELENGTH = 940.0  # nm
R_CORE, R_SHELL = 40.0, 50.0  # nm
PITCH = 2.5 * WAVELENGTH
N_MAX = 6
SIZES = (10, 30, 100, 300, 1000, 3000, 5000)
QUICK_SIZES = (10, 100, 1000)
DENSE_MAX, QUICK_DENSE_MAX = 1000, 100


def grid_positions(n: int) -> np.ndarray:
    """First n sites (row by row) of a square grid of side ceil(sqrt n); shape (n, 3), nm."""
    side = int(np.ceil(np.sqrt(n)))
    i = np.arange(n)
    xy = np.stack([i % side, i // side], -1) * PITCH
    return np.concatenate([xy - xy.mean(0), np.zeros((n, 1))], -1)


def _rss_mb() -> float:
    """Current resident memory of this process in MB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _indices() -> tuple[complex, complex]:
    import jaxmie as jm

    return (complex(jm.materials.get("Si")(WAVELENGTH)),
            complex(jm.materials.get("Au")(WAVELENGTH)))


def _treams_worker(n: int, lmax: int, budget_s: float) -> dict:
    """treams' forward problem at one (N, lmax), in its own process (module docstring)."""
    import treams

    n_core, n_shell = _indices()
    k0 = 2 * np.pi / WAVELENGTH
    positions = grid_positions(n)
    focus = np.array([[0.0, 0.0, 5 * WAVELENGTH]])

    def forward():
        sphere = treams.TMatrix.sphere(lmax, k0, [R_CORE, R_SHELL],
                                       [treams.Material(n_core ** 2),
                                        treams.Material(n_shell ** 2), treams.Material()])
        tm = treams.TMatrix.cluster([sphere] * n, positions).interaction.solve()
        inc = treams.plane_wave([0, 0, k0], [1, 0, 0], k0=k0, material=tm.material,
                                poltype=tm.poltype)
        coefficients = tm @ inc.expand(tm.basis)
        field = treams.efield(focus, basis=tm.basis, k0=k0, material=tm.material,
                              modetype="singular", poltype=tm.poltype)
        return np.asarray(field) @ np.asarray(coefficients)

    rss_before = _rss_mb()
    t0 = time.perf_counter()
    forward()
    first = time.perf_counter() - t0
    if first < budget_s:
        timing = measure(forward, warmup=0, repeats=3, budget_s=budget_s, min_repeats=1)
    else:
        timing = Timing(times=[first], warmup=[])
    return {"n": n, "lmax": lmax, "method": "treams", "mode": "forward", "lower_s": 0.0,
            "compile_s": 0.0, "first_call_s": first, "median_s": timing.median,
            "min_s": timing.best, "repeats": timing.n, "times_s": timing.times,
            "residual": 0.0, "converged": True, "rss_before_mb": rss_before,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _worker(n: int, lmax: int, method: str, mode: str, budget_s: float) -> dict:
    """One (N, lmax, solver, mode) point, in its own process: compile, time, peak memory."""
    sys.path.insert(0, ROOT)
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    import jaxmie as jm
    from jaxmie import _special as special
    from jaxmie import cluster

    if method == "treams":
        return _treams_worker(n, lmax, budget_s)
    n_core, n_shell = _indices()
    focus = jnp.array([[0.0, 0.0, 5 * WAVELENGTH]])

    def focal_intensity(positions, r_core, r_shell):
        particles = jm.CoreShell(r_core=r_core, r_shell=r_shell, n_core=n_core,
                                 n_shell=n_shell)
        sol = cluster.solve(particles, positions, WAVELENGTH, method=method,
                            n_max=max(N_MAX, lmax), lmax=lmax)
        e, _ = cluster.near_field(sol, focus)
        return jnp.sum(special.abs_squared(e)), (sol.residual, sol.converged)

    fn = focal_intensity if mode == "forward" else jax.grad(focal_intensity, argnums=(0, 1, 2),
                                                            has_aux=True)
    args = (jnp.asarray(grid_positions(n)), jnp.full(n, R_CORE), jnp.full(n, R_SHELL))
    rss_before = _rss_mb()
    t0 = time.perf_counter()
    lowered = jax.jit(fn).lower(*args)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    first = time.perf_counter() - t2
    if first < budget_s:
        timing = measure(lambda: compiled(*args), warmup=0, repeats=5, budget_s=budget_s,
                         min_repeats=1)
    else:  # compiled already: a long first call is a steady-state sample, not a warm-up
        timing = Timing(times=[first], warmup=[])
    value, (residual, converged) = out
    return {"n": n, "lmax": lmax, "method": method, "mode": mode, "lower_s": t1 - t0,
            "compile_s": t2 - t1,
            "first_call_s": first, "median_s": timing.median, "min_s": timing.best,
            "repeats": timing.n, "times_s": timing.times, "residual": float(residual),
            "converged": bool(converged),
            "value_norm": float(jnp.sqrt(sum(jnp.sum(v ** 2) for v in jax.tree.leaves(value)))),
            "rss_before_mb": rss_before,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _run_point(n: int, lmax: int, method: str, mode: str, budget_s: float) -> dict | None:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", str(n), str(lmax), method,
           mode, "--budget", str(budget_s)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print(f"  N={n} lmax={lmax} {method} {mode}: failed (rc {out.returncode})\n"
              f"{out.stderr[-2000:]}", flush=True)
        return None
    row = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"  N={n:>5} lmax={lmax} {method:<6} {mode:<8} median {row['median_s']:9.4f} s "
          f"(n={row['repeats']})  compile {row['lower_s']:.2f}+{row['compile_s']:.2f} s  "
          f"first {row['first_call_s']:8.3f} s"
          f"  peak RSS {row['peak_rss_mb']:6.0f} MB (before {row['rss_before_mb']:.0f})"
          f"  residual {row['residual']:.1e} converged {row['converged']}", flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="N = 10, 100, 1000; dense up to 100")
    ap.add_argument("--dense-max", type=int, help="largest N for the dense solver")
    ap.add_argument("--tag", default="cpu-2core", help="name of the result file")
    ap.add_argument("--budget", type=float, default=5.0,
                    help="seconds of timed calls per point after the warm-up (at least one)")
    ap.add_argument("--lmax", type=int, nargs="+", default=[1],
                    help="multipole degrees (1: coupled dipoles)")
    ap.add_argument("--sizes", type=int, nargs="+", help="numbers of spheres")
    ap.add_argument("--treams-max", type=int, default=0,
                    help="largest N at which to time treams (lmax >= 2; 0: never)")
    ap.add_argument("--modes", nargs="+", default=["forward", "gradient"])
    ap.add_argument("--worker", nargs=4, metavar=("N", "LMAX", "METHOD", "MODE"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        n, lmax, method, mode = args.worker
        print(json.dumps(_worker(int(n), int(lmax), method, mode, args.budget)))
        return 0

    sys.path.insert(0, ROOT)
    import jax


    jax.config.update("jax_enable_x64", True)

    info = machine_info()
    info["loadavg_start"] = os.getloadavg()
    print(f"# python bench/bench_cluster.py {' '.join(argv or sys.argv[1:])}")
    print(f"# {info.get('cpu_count')} cores ({info.get('cpu_model')}), load average at start "
          f"{info['loadavg_start'][0]:.1f}; jax {info.get('jax')} on {jax.default_backend()}")
    sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    dense_max = args.dense_max or (QUICK_DENSE_MAX if args.quick else DENSE_MAX)
    rows = []
    start = time.perf_counter()
    for lmax in args.lmax:
        for method in ("gmres", "dense", "treams"):
            if method == "treams" and (lmax < 2 or not args.treams_max):
                continue
            print(f"\n== lmax {lmax}, {method} (one subprocess per point) ==", flush=True)
            for n in sizes:
                if (method == "dense" and n > dense_max) or (
                        method == "treams" and n > args.treams_max):
                    continue
                modes = ("forward",) if method == "treams" else args.modes
                for mode in modes:
                    row = _run_point(n, lmax, method, mode, args.budget)
                    if row:
                        rows.append(row)
    info["loadavg_end"] = os.getloadavg()
    info["wall_s"] = time.perf_counter() - start
    print(f"\n# wall time {info['wall_s']:.0f} s; load average at end {info['loadavg_end'][0]:.1f}")
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, f"cluster-{args.tag}.json")
    with open(path, "w") as f:
        json.dump({"meta": info, "workload": {"wavelength_nm": WAVELENGTH, "pitch_nm": PITCH,
                                              "r_core_nm": R_CORE, "r_shell_nm": R_SHELL,
                                              "n_max": f"max({N_MAX}, lmax)"},
                   "points": rows},
                  f, indent=2, default=str)
    print(f"results saved to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
