"""Convergence in lmax of close dimers (proximity eta = (r_1 + r_2)/d >= 0.8), for the rule
of jaxmie.cluster.lmax_for.

Run from the repository root (about 10-15 min on the shared 2-core VM):

    python bench/cluster_close_gaps.py
    python bench/cluster_close_gaps.py --json bench/results/cluster-close-gaps.json

Dimers of four kinds (metal-like spheres, high-index dielectric spheres, metal-core
core-shells, a larger dielectric) at eta = 0.8, 0.85, 0.9, 0.95 (surface gaps 0.25, 0.18,
0.11, 0.05 of r_1 + r_2), oblique incidence: ext, sca, abs from jaxmie.cluster.solve at
lmax = 4 .. 24 (dense LU); the error of each lmax is max |X_lmax - X_24| / ext over
X = ext, sca, abs, and the change from lmax 20 to 24 says how far lmax 24 itself is from
the limit. treams (test-only peer, MIT) at lmax 16 on some cases checks that jaxmie solves
the same truncated problem there (agreement relative to ext).
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

jax.config.update("jax_enable_x64", True)

LMAXES = (4, 6, 8, 10, 12, 14, 16, 20, 24)
ETAS = (0.8, 0.85, 0.9, 0.95)
#: name: (particle (batch (2,)), wavelength nm)
KINDS = {
    "metal sphere r 50, x 0.52": (jm.Sphere(radius=jnp.array([50.0, 50.0]), n=0.2 + 3.5j),
                                  600.0),
    "Si-like sphere r 60, x 0.75": (jm.Sphere(radius=jnp.array([60.0, 60.0]), n=3.5 + 0.01j),
                                    500.0),
    "metal-core shell r 40/25, x 0.36": (jm.CoreShell(r_core=jnp.array([25.0, 25.0]),
                                                      r_shell=jnp.array([40.0, 40.0]),
                                                      n_core=0.25 + 4.0j, n_shell=1.5 + 0.0j),
                                         700.0),
    "dielectric r 100/70, x 1.40": (jm.Sphere(radius=jnp.array([100.0, 70.0]), n=2.0 + 0.05j),
                                    450.0),
}
TREAMS_CASES = {("metal sphere r 50, x 0.52", 0.9), ("metal-core shell r 40/25, x 0.36", 0.95),
                ("Si-like sphere r 60, x 0.75", 0.85)}
DIRECTION = np.array([0.3, 0.2, 0.93]) / np.linalg.norm([0.3, 0.2, 0.93])
POLARIZATION = np.cross(DIRECTION, [0.0, 1.0, 0.0]) / np.linalg.norm(
    np.cross(DIRECTION, [0.0, 1.0, 0.0]))


def _positions(particle, eta):
    r = np.asarray(jm._particles.layer_radii(particle))[..., -1]
    axis = np.array([1.0, 0.4, 0.2]) / np.linalg.norm([1.0, 0.4, 0.2])
    return np.stack([np.zeros(3), axis * (r[0] + r[1]) / eta])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None)
    parser.add_argument("--no-treams", action="store_true")
    args = parser.parse_args()
    rows = []
    print("error of lmax L: max over ext, sca, abs of |X_L - X_24| / ext; rule = lmax_for")
    print(f"{'dimer':<34}{'eta':>5}{'rule':>5}" + "".join(f"{L:>9}" for L in LMAXES[:-1])
          + f"{'20->24':>9}{'at rule':>9}")
    for name, (particle, wl) in KINDS.items():
        for eta in ETAS:
            pos = _positions(particle, eta)
            t0 = time.perf_counter()
            values = {}
            for lmax in LMAXES:
                xs = cl.cross_sections(cl.solve(particle, jnp.asarray(pos), wl, 1.0, DIRECTION,
                                                POLARIZATION, lmax=lmax, method="dense"))
                values[lmax] = np.array([float(xs.ext), float(xs.sca), float(xs.abs)])
            ref = values[LMAXES[-1]]
            err = {L: float(np.max(np.abs(values[L] - ref)) / ref[0]) for L in LMAXES}
            k = 2 * np.pi / wl
            r = np.asarray(jm._particles.layer_radii(particle))[..., -1]
            rule = cl.lmax_for(float(k * r.max()), eta)
            at_rule = None
            if rule not in values:
                xs = cl.cross_sections(cl.solve(particle, jnp.asarray(pos), wl, 1.0, DIRECTION,
                                                POLARIZATION, lmax=rule, method="dense"))
                values[rule] = np.array([float(xs.ext), float(xs.sca), float(xs.abs)])
            at_rule = float(np.max(np.abs(values[rule] - ref)) / ref[0])
            row = {"dimer": name, "eta": eta, "rule": rule, "values": {
                str(L): v.tolist() for L, v in values.items()}, "error_vs_24": err,
                "error_at_rule_vs_24": at_rule}
            print(f"{name:<34}{eta:>5.2f}{rule:>5}" + "".join(f"{err[L]:>9.1e}"
                                                            for L in LMAXES[:-1])
                  + f"{err[20]:>9.1e}{at_rule:>9.1e}  ({time.perf_counter() - t0:.0f} s)",
                  flush=True)
            if (name, eta) in TREAMS_CASES and not args.no_treams:
                import sys
                sys.path.insert(0, os.path.dirname(__file__))
                from cluster_dipole_error import treams_cross_sections

                t0 = time.perf_counter()
                ref16 = treams_cross_sections(
                    [jm.Sphere(radius=float(particle.radius[i]), n=complex(particle.n))
                     if isinstance(particle, jm.Sphere) else
                     jm.CoreShell(r_core=float(particle.r_core[i]),
                                  r_shell=float(particle.r_shell[i]),
                                  n_core=complex(particle.n_core),
                                  n_shell=complex(particle.n_shell)) for i in range(2)],
                    pos, wl, 1.0, DIRECTION, POLARIZATION, 16)
                agree = float(np.max(np.abs(values[16] - np.array(ref16))) / ref16[0])
                row["treams_16"] = list(ref16)
                row["treams_16_agreement"] = agree
                print(f"    treams at lmax 16: |jaxmie_16 - treams_16| / ext = {agree:.1e}  "
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)
            rows.append(row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"lmaxes": LMAXES, "rows": rows, "jax": jax.__version__}, f, indent=1)
        print("wrote", args.json)


if __name__ == "__main__":
    main()
