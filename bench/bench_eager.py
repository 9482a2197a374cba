"""Eager single-particle calls from a Python loop: jaxmie against scattnlay and miepython.

Many users start with `for p in particles: jm.efficiencies(p, wavelength)`. Each call here
is one particle at one wavelength, timed as a user would see it (jaxmie: until the result
exists; median over many calls after warm-up), beside the same call of scattnlay
(`scattnlay(x, m)`, which returns Python floats) and miepython (`efficiencies_mx`, spheres
only), and beside jaxmie under a user's own jit (the dispatch floor).

    python bench/bench_eager.py
"""

from __future__ import annotations

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax
import numpy as np
from common import fmt_time, machine_info, measure_fast

import jaxmie as jm

jax.config.update("jax_enable_x64", True)


def median(fn) -> float:
    return measure_fast(fn, budget_s=1.0, warmup=20).median


def main() -> None:
    info = machine_info()
    print(f"jaxmie {jm.__version__}, jax {jax.__version__}, {info.get('cpu', '')}, "
          f"backend {jax.default_backend()}")
    try:
        from scattnlay import scattnlay
    except ImportError:
        scattnlay = None
    try:
        import miepython
    except ImportError:
        miepython = None

    wavelength, n_env = 600.0, 1.33
    cases = {
        "core-shell (40 / 60 nm, 1.45 / 0.2+3i)": ([40.0, 60.0], [1.45, 0.2 + 3j]),
        "sphere (80 nm, 1.5+0.01i)": ([80.0], [1.5 + 0.01j]),
        "sphere (2 um, 1.33+1e-8i)": ([2000.0], [1.33 + 1e-8j]),
    }
    print(f"\none particle at {wavelength:g} nm in n_env = {n_env:g}, per call:")
    print(f"{'case':42s} {'jaxmie eager':>13} {'jaxmie jit':>11} {'scattnlay':>10} "
          f"{'miepython':>10} {'eager/scattnlay':>16}")
    for name, (radii, indices) in cases.items():
        if len(radii) == 1:
            p = jm.Sphere(radius=radii[0], n=indices[0])
        else:
            p = jm.CoreShell(r_core=radii[0], r_shell=radii[1], n_core=indices[0],
                             n_shell=indices[1])
        eager = median(lambda: jax.block_until_ready(jm.efficiencies(p, wavelength,
                                                                     n_env=n_env)))
        n_max = jm.n_max_for(2 * math.pi * n_env * radii[-1] / wavelength)
        jitted = jax.jit(lambda p: jm.efficiencies(p, wavelength, n_env=n_env, n_max=n_max))
        jit = median(lambda: jax.block_until_ready(jitted(p)))
        x = 2 * np.pi * n_env * np.asarray(radii) / wavelength
        m = np.asarray(indices, complex) / n_env
        peer = median(lambda: scattnlay(x, m)) if scattnlay else float("nan")
        mie = (median(lambda: miepython.efficiencies_mx(m[0], x[0]))
               if miepython and len(radii) == 1 else float("nan"))
        print(f"{name:42s} {fmt_time(eager):>13} {fmt_time(jit):>11} {fmt_time(peer):>10} "
              f"{fmt_time(mie):>10} {eager / peer:16.2f}", flush=True)


if __name__ == "__main__":
    main()
