"""How wrong is the coupled-dipole model? lmax = 1 against converged multipoles on random
clusters, and the converged default (lmax=None) against treams at a higher lmax.

Run from the repository root (about 15-25 min on the shared 2-core VM, most of it treams):

    python bench/cluster_dipole_error.py                       # 40 clusters, treams on 10
    python bench/cluster_dipole_error.py --clusters 10 --treams 3   # quicker
    python bench/cluster_dipole_error.py --json bench/results/cluster-dipole-error.json

Clusters (seeded, ``--seed``): 2-6 particles, each a homogeneous sphere or a core-shell
(core 0.3-0.85 of the outer radius), outer radius 20-60 nm, every layer of a random class:
dielectric (n 1.4-3.5, k 0-0.02), lossy (n 1.5-3, k 0.1-1) or metal-like (n 0.1-0.6,
k 2-6); one random vacuum wavelength 400-900 nm per cluster; host index 1 or 1.33. Each
new particle is put next to a random earlier one, at a surface gap of g (r_i + r_j) with
g log-uniform in [0.15, 1.5], and kept if it is at least 0.15 (r_i + r_j) from every other
(so the proximity eta = max (r_i + r_j)/d is at most 1/1.15 = 0.87). Random incidence
direction and linear polarisation. The particles are passed as a list (mixed types).

For each cluster: ext, sca, abs at lmax = 1 (jaxmie.cluster's dipole model) and at the
default lmax=None (jaxmie.cluster.lmax_for); the dipole model's relative errors
|X_1 - X_conv| / X_conv (X = ext, sca, abs; abs also relative to ext, since a nearly
lossless cluster's abs is tiny). On the ``--treams`` clusters with the fewest particles,
treams (test-only peer, MIT) at lmax = min(default + 3, 16) checks the default: its error
relative to ext. Clusters with eta > 0.8 (surface gap below 0.25 (r_i + r_j)) are where the
default's accuracy is not established (lmax_for docstring); they are reported apart.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("JAX_ENABLE_X64", "1")

import jax
import jax.numpy as jnp
import numpy as np

import jaxmie as jm
from jaxmie import cluster as cl
from jaxmie._particles import layer_indices, layer_radii
from jaxmie.cluster._truncation import proximity

jax.config.update("jax_enable_x64", True)

CLASSES = {"dielectric": ((1.4, 3.5), (0.0, 0.02)), "lossy": ((1.5, 3.0), (0.1, 1.0)),
           "metal": ((0.1, 0.6), (2.0, 6.0))}


def _index(rng):
    name = rng.choice(list(CLASSES))
    (n0, n1), (k0, k1) = CLASSES[name]
    return complex(rng.uniform(n0, n1), rng.uniform(k0, k1)), str(name)


def random_cluster(rng):
    """(particles (list), positions (N, 3), wavelength, n_env, direction, polarization, labels)."""
    n = int(rng.integers(2, 7))
    radii = rng.uniform(20, 60, n)
    particles, labels = [], []
    for r in radii:
        if rng.uniform() < 0.5:
            m, name = _index(rng)
            particles.append(jm.Sphere(radius=float(r), n=m))
            labels.append(f"sphere({name})")
        else:
            (mc, core), (ms, shell) = _index(rng), _index(rng)
            particles.append(jm.CoreShell(r_core=float(r * rng.uniform(0.3, 0.85)),
                                          r_shell=float(r), n_core=mc, n_shell=ms))
            labels.append(f"coreshell({core}/{shell})")
    pos = [np.zeros(3)]
    while len(pos) < n:
        i = len(pos)
        j = int(rng.integers(0, i))
        u = rng.normal(size=3)
        gap = (radii[i] + radii[j]) * np.exp(rng.uniform(np.log(0.15), np.log(1.5)))
        c = pos[j] + u / np.linalg.norm(u) * (radii[i] + radii[j] + gap)
        if all(np.linalg.norm(c - q) >= 1.15 * (radii[i] + radii[m]) for m, q in enumerate(pos)):
            pos.append(c)
    d = rng.normal(size=3)
    d /= np.linalg.norm(d)
    e = np.cross(d, rng.normal(size=3))
    e /= np.linalg.norm(e)
    return (particles, np.array(pos), float(rng.uniform(400, 900)),
            float(rng.choice([1.0, 1.33])), d, e, labels)


def treams_cross_sections(particles, positions, wavelength, n_env, direction, polarization,
                          lmax):
    """(ext, sca, abs) from treams' cluster T-matrix (parity basis) under the plane wave."""
    import treams

    k0 = 2 * np.pi / wavelength
    env = treams.Material(n_env ** 2)
    spheres = []
    for p in particles:
        radii = np.atleast_1d(np.asarray(layer_radii(p)))
        indices = np.atleast_1d(np.asarray(layer_indices(p, wavelength)))
        spheres.append(treams.TMatrix.sphere(
            lmax, k0, list(radii), [treams.Material(complex(x) ** 2) for x in indices] + [env],
            poltype="parity"))
    tm = treams.TMatrix.cluster(spheres, positions).interaction.solve()
    inc = treams.plane_wave(direction * k0 * n_env, list(polarization), k0=k0, material=env,
                            poltype="parity")
    sca, ext = tm.xs(inc)
    return float(ext), float(sca), float(ext - sca)


def _xs(particles, positions, wavelength, n_env, d, e, lmax):
    sol = cl.solve(particles, jnp.asarray(positions), wavelength, n_env, d, e, lmax=lmax)
    xs = cl.cross_sections(sol)
    return (float(xs.ext), float(xs.sca), float(xs.abs)), sol.lmax if lmax is None else lmax


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=40)
    parser.add_argument("--treams", type=int, default=10,
                        help="clusters (those with the fewest particles) checked against treams")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--json", default=None)
    parser.add_argument("--indices", type=int, nargs="*", default=None,
                        help="evaluate only these clusters (of the seeded sequence)")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    clusters = [random_cluster(rng) for _ in range(args.clusters)]
    rows = []
    print(f"{'#':>3} {'N':>2} {'wl':>5} {'n_env':>5} {'x_max':>6} {'eta':>5} {'lmax':>4} "
          f"{'ext err':>9} {'sca err':>9} {'abs err':>9} {'abs/ext':>9}  time")
    for i, (particles, pos, wl, n_env, d, e, labels) in enumerate(clusters):
        if args.indices is not None and i not in args.indices:
            continue
        t0 = time.perf_counter()
        dip, _ = _xs(particles, pos, wl, n_env, d, e, 1)
        conv, lmax = _xs(particles, pos, wl, n_env, d, e, None)
        radii = np.array([float(np.asarray(layer_radii(p))[-1]) for p in particles])
        eta = proximity(radii, pos)
        x_max = 2 * np.pi * n_env / wl * radii.max()
        err = [abs(a - b) / abs(b) for a, b in zip(dip, conv)]
        abs_of_ext = abs(dip[2] - conv[2]) / conv[0]
        rows.append({"cluster": i, "n": len(particles), "wavelength": wl, "n_env": n_env,
                     "x_max": x_max, "eta": eta, "lmax": lmax, "particles": labels,
                     "dipole": dip, "converged": conv, "err_ext": err[0], "err_sca": err[1],
                     "err_abs": err[2], "err_abs_of_ext": abs_of_ext})
        print(f"{i:>3} {len(particles):>2} {wl:>5.0f} {n_env:>5.2f} {x_max:>6.3f} {eta:>5.3f} "
              f"{lmax:>4} {err[0]:>9.2e} {err[1]:>9.2e} {err[2]:>9.2e} {abs_of_ext:>9.2e}  "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        # Every (N, lmax) compiles its own solver with its translation tables as constants
        # (hundreds of MB at lmax >= 15); kept, they filled 12 GB by cluster 35 (OOM).
        jax.clear_caches()

    def summary(selected, label):
        if not selected:
            return
        print(f"\ndipole model (lmax = 1) against the converged default, {label} "
              f"({len(selected)} clusters): relative error median / max")
        for key in ("err_ext", "err_sca", "err_abs", "err_abs_of_ext"):
            v = np.array([r[key] for r in selected])
            print(f"  {key[4:]:<11} {np.median(v):.3g} / {v.max():.3g}")

    summary(rows, "all")
    summary([r for r in rows if r["eta"] <= 0.8], "eta <= 0.8")
    summary([r for r in rows if r["eta"] > 0.8], "eta > 0.8")

    checks = []
    if args.treams:
        order = sorted(range(len(rows)), key=lambda i: (rows[i]["n"], i))[:args.treams]
        print(f"\nconverged default against treams at lmax = min(default + 3, 16), "
              f"{len(order)} clusters with the fewest particles: |X_default - X_treams| / ext")
        for j in sorted(order):
            row = rows[j]
            i = row["cluster"]
            particles, pos, wl, n_env, d, e, _ = clusters[i]
            ref_lmax = min(row["lmax"] + 3, 16)
            t0 = time.perf_counter()
            ref = treams_cross_sections(particles, pos, wl, n_env, d, e, ref_lmax)
            errs = [abs(a - b) / ref[0] for a, b in zip(row["converged"], ref)]
            checks.append({"cluster": i, "eta": row["eta"], "treams_lmax": ref_lmax,
                           "treams": ref, "err_default": errs,
                           "err_dipole_vs_treams": [abs(a - b) / abs(b) for a, b in
                                                    zip(row["dipole"], ref)]})
            print(f"  #{i:<3} N {row['n']} eta {row['eta']:.3f} lmax {row['lmax']:>2}"
                  f" vs {ref_lmax}: ext {errs[0]:.1e} sca {errs[1]:.1e} abs {errs[2]:.1e}  "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
        worst = {"eta <= 0.8": [max(c["err_default"]) for c in checks if c["eta"] <= 0.8],
                 "eta > 0.8": [max(c["err_default"]) for c in checks if c["eta"] > 0.8]}
        for label, v in worst.items():
            if v:
                print(f"  largest error of the default, {label}: {max(v):.2e} ({len(v)} clusters)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seed": args.seed, "clusters": rows, "treams": checks,
                       "jax": jax.__version__}, f, indent=1)
        print("wrote", args.json)


if __name__ == "__main__":
    main()
