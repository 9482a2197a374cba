"""Peak memory and time of large efficiencies calls: the JAX implementation against the
native CPU kernel, float64 and float32, forward and gradient.

Run from the repository root:

    python bench/bench_memory.py                  # 4096 x 4096 and 10^7 pairs (~30 min, 2 cores)
    python bench/bench_memory.py --quick          # 1024 x 1024 forward, 512 x 1024 gradient

Each point runs in a fresh process (peak resident memory, ``ru_maxrss``, is per process)
with ``JAXMIE_NATIVE`` set for the path under test; float32 runs with x64 off, so it always
uses the JAX implementation. The calls are the ones of issue 19:
``jm.efficiencies(jm.Sphere(jnp.linspace(10, 200, P), 1.5 + 0.01j), jnp.linspace(400, 900,
W))`` with P x W = 4096 x 4096 and 2500 x 4000 (10^7 pairs), and the gradient of the summed
Q_sca of core-shells (r_core = r / 2, n = 1.5 + 0.01i k / 2.0 + 0.1i) with respect to their
radii and k. Compile time (``lower().compile()``) is reported apart from the run. The JAX
figures depend on jaxmie._batching's blocks (each block of 4096 pairs is rematerialised in
reverse mode), the native ones on the kernel's own streaming. Results:
bench/results/memory-<tag>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")


def _worker(n_radii: int, n_wavelengths: int, dtype: str, gradient: bool) -> dict:
    sys.path.insert(0, ROOT)
    import jax

    jax.config.update("jax_enable_x64", dtype == "float64")
    import jax.numpy as jnp

    import jaxmie as jm

    real = jnp.float64 if dtype == "float64" else jnp.float32
    wavelength = jnp.linspace(400.0, 900.0, n_wavelengths, dtype=real)
    radius = jnp.linspace(10.0, 200.0, n_radii, dtype=real)
    n_max = jm.n_max_for(2 * 3.141592653589793 * 200.0 / 400.0)

    def q_ext(radius):
        return jm.efficiencies(jm.Sphere(radius, 1.5 + 0.01j), wavelength, n_max=n_max).q_ext

    def total_q_sca(radius, k):
        particle = jm.CoreShell(0.5 * radius, radius, 1.5 + 0.01j * k, 2.0 + 0.1j)
        return jm.efficiencies(particle, wavelength, n_max=n_max).q_sca.sum()

    fn, args = ((jax.grad(total_q_sca, argnums=(0, 1)), (radius, jnp.asarray(1.0, real)))
                if gradient else (q_ext, (radius,)))
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    after_compile = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    run_s = time.perf_counter() - t0
    return {"pairs": n_radii * n_wavelengths, "shape": [n_radii, n_wavelengths],
            "dtype": dtype, "gradient": gradient,
            "native": os.environ.get("JAXMIE_NATIVE", "1") != "0" and dtype == "float64",
            "n_max": n_max, "compile_s": compile_s, "run_s": run_s,
            "rss_after_compile_mb": after_compile,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _point(n_radii: int, n_wavelengths: int, dtype: str, gradient: bool, native: bool
           ) -> dict | None:
    env = {**os.environ, "JAXMIE_NATIVE": "1" if native else "0", "JAX_PLATFORMS": "cpu"}
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", str(n_radii),
           str(n_wavelengths), dtype] + (["--gradient"] if gradient else [])
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    label = (f"{n_radii} x {n_wavelengths} {dtype} {'gradient' if gradient else 'forward '} "
             f"{'native' if native else 'JAX   '}")
    if out.returncode != 0:
        print(f"  {label}: failed (exit {out.returncode})\n{out.stderr[-1500:]}", flush=True)
        return {"shape": [n_radii, n_wavelengths], "dtype": dtype, "gradient": gradient,
                "native": native, "failed": out.returncode}
    row = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"  {label}: run {row['run_s']:8.1f} s  compile {row['compile_s']:5.1f} s  "
          f"peak RSS {row['peak_rss_mb'] / 1024:6.2f} GB", flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1024 x 1024 forward, 512 x 1024 "
                                                         "gradient")
    ap.add_argument("--tag", default="cpu-2core", help="name of the result file")
    ap.add_argument("--worker", nargs=3, metavar=("P", "W", "DTYPE"), help=argparse.SUPPRESS)
    ap.add_argument("--gradient", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        p, w, dtype = args.worker
        print(json.dumps(_worker(int(p), int(w), dtype, args.gradient)))
        return 0

    forward = [(1024, 1024)] if args.quick else [(4096, 4096), (2500, 4000)]
    backward = [(512, 1024)] if args.quick else [(1024, 1024)]
    rows = []
    print("== peak memory of efficiencies: native kernel against the JAX implementation ==")
    for shape in forward:
        for dtype, native in (("float64", True), ("float64", False), ("float32", False)):
            rows.append(_point(*shape, dtype, False, native))
    rows += [_point(*shape, "float64", True, native) for shape in backward
             for native in (True, False)]
    print("\n== JAX implementation / native kernel ==")
    done = [r for r in rows if r and "failed" not in r]
    for r in done:
        if r["native"]:
            continue
        base = next((b for b in done if b["native"] and b["shape"] == r["shape"]
                     and b["gradient"] == r["gradient"]), None)
        if base:
            print(f"  {r['shape'][0]} x {r['shape'][1]} {r['dtype']} "
                  f"{'gradient' if r['gradient'] else 'forward'}: peak memory "
                  f"{r['peak_rss_mb'] / base['peak_rss_mb']:.2f}x, "
                  f"time {r['run_s'] / base['run_s']:.1f}x")
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, f"memory-{args.tag}.json")
    with open(path, "w") as f:
        json.dump(rows, f, indent=2)
    print(f"results saved to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
