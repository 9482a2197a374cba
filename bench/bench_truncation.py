"""What the converged default truncation costs: orders and time against x.

jaxmie's default n_max (jaxmie.n_max_for, x + 8 x^(1/3) + 3) converges q_back, S1/S2 and the
Mueller matrix at every angle to float64 rounding; Wiscombe's rule (jaxmie.n_max_wiscombe,
x + 4.05 x^(1/3) + 2) converges Q_ext and Q_sca only. For each size parameter this times
efficiencies and amplitudes (181 angles) of 64 spheres near that x, m = 1.5 + 0.01i, at both
truncations (medians after warm-up; the first call, which compiles, is reported apart), and
the near-field rule against Allardice & Le Ru's for fields at 256 points.

    python bench/bench_truncation.py            # ~2 min on the 2-core VM
    python bench/bench_truncation.py --quick    # fewer sizes
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax
import jax.numpy as jnp
import numpy as np
from common import fmt_time, machine_info, measure

import jaxmie as jm

jax.config.update("jax_enable_x64", True)

WAVELENGTH = 2 * np.pi  # radii are size parameters
THETA = jnp.linspace(0.0, np.pi, 181)


def spheres(x: float, count: int = 64) -> jm.Sphere:
    radius = jnp.asarray(x * np.linspace(0.98, 1.0, count))
    return jm.Sphere(radius=radius, n=1.5 + 0.01j)


def timed(fn):
    t = measure(fn, warmup=1, repeats=7, budget_s=3.0, min_repeats=3)
    return t.median, t.first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = [1, 10, 100, 1000, 10000] if args.quick else [
        0.1, 1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 20000]
    info = machine_info()
    print(f"jaxmie {jm.__version__}, jax {jax.__version__}, {info.get('cpu', '')}, "
          f"backend {jax.default_backend()}")
    print("\nfar field: 64 spheres, efficiencies and amplitudes (181 angles)")
    print(f"{'x':>8} {'Wiscombe':>9} {'default':>8} {'extra':>6} | {'eff W':>9} {'eff D':>9} "
          f"{'ratio':>6} | {'amp W':>9} {'amp D':>9} {'ratio':>6} | compile D (eff/amp)")
    for x in sizes:
        p = spheres(x)
        n_w, n_d = jm.n_max_wiscombe(x), jm.n_max_for(x)
        row = {}
        for label, n in (("w", n_w), ("d", n_d)):
            row["eff", label] = timed(lambda n=n: jm.efficiencies(p, WAVELENGTH, n_max=n))
            row["amp", label] = timed(lambda n=n: jm.amplitudes(p, WAVELENGTH, THETA, n_max=n))
        print(f"{x:8g} {n_w:9d} {n_d:8d} {n_d / n_w - 1:6.0%} | "
              f"{fmt_time(row['eff', 'w'][0]):>9} {fmt_time(row['eff', 'd'][0]):>9} "
              f"{row['eff', 'd'][0] / row['eff', 'w'][0]:6.2f} | "
              f"{fmt_time(row['amp', 'w'][0]):>9} {fmt_time(row['amp', 'd'][0]):>9} "
              f"{row['amp', 'd'][0] / row['amp', 'w'][0]:6.2f} | "
              f"{fmt_time(row['eff', 'd'][1])} / {fmt_time(row['amp', 'd'][1])}", flush=True)

    print("\nnear field: one sphere, E and H at 256 points on a shell at 1.2 r")
    print(f"{'x':>8} {'Le Ru':>6} {'default':>8} | {'time LR':>9} {'time D':>9} {'ratio':>6}")
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(256, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    for x in [s for s in sizes if s <= 1000]:
        p = jm.Sphere(radius=float(x), n=1.5 + 0.01j)
        points = jnp.asarray(1.2 * x * directions)
        n_lr = jm._truncation.rounded(x + 11 * x ** (1 / 3) + 1)
        n_d = jm.n_max_near_field(x)
        t_lr = timed(lambda: jm.fields(p, WAVELENGTH, points, n_max=n_lr))[0]
        t_d = timed(lambda: jm.fields(p, WAVELENGTH, points, n_max=n_d))[0]
        print(f"{x:8g} {n_lr:6d} {n_d:8d} | {fmt_time(t_lr):>9} {fmt_time(t_d):>9} "
              f"{t_d / t_lr:6.2f}", flush=True)


if __name__ == "__main__":
    main()
