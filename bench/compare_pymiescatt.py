"""Log-normal ensemble averages: jaxmie.ensemble against PyMieScatt's Mie_Lognormal.

A one-off cross-check with a peer code (run by hand; not a test dependency):

    pip download pymiescatt==1.8.1.1 --no-deps && tar xzf PyMieScatt-1.8.1.1.tar.gz
    python bench/compare_pymiescatt.py PyMieScatt-1.8.1.1/PyMieScatt/Mie.py

PyMieScatt 1.8.1.1 (2020) imports ``scipy.integrate.trapz``, removed in SciPy 1.14, and its
package __init__ needs shapely; so this script aliases ``trapz`` to ``numpy.trapezoid`` and
loads Mie.py alone. Mie_Lognormal integrates N n(d) pi d^2/4 Q(d) with the trapezoidal rule
over log-spaced diameters and returns coefficients in 1/Mm for N particles per cm^3:
B = N <C> [nm^2] x 1e-6. PyMieScatt's accuracy is set by its bins (20,000 here).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time

import numpy as np
import scipy.integrate

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CASES = [  # (m, wavelength nm, geometric-mean diameter nm, geometric std)
    (1.5 + 0.01j, 550.0, 400.0, float(np.exp(0.25))),
    (1.53 + 0.008j, 450.0, 1000.0, 1.6),  # mineral-dust-like index
    (1.33 + 1e-6j, 650.0, 300.0, 1.4),
]


def main(path: str) -> int:
    scipy.integrate.trapz = np.trapezoid  # removed from SciPy; PyMieScatt imports it
    spec = importlib.util.spec_from_file_location("pymiescatt_mie", path)
    pms = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pms)

    from jaxmie import ensemble

    n_particles = 1000.0
    for m, wl, dg, sg in CASES:
        start = time.perf_counter()
        b_ext, b_sca, _, big_g, *_ = pms.Mie_Lognormal(m, wl, sg, dg, n_particles,
                                                       numberOfBins=20000, lower=dg / 40,
                                                       upper=dg * 40)
        t_pms = time.perf_counter() - start
        start = time.perf_counter()
        o = ensemble.mean_optics(ensemble.LogNormal(dg / 2, np.log(sg)), m, wl,
                                 quadrature=ensemble.Quadrature(nodes=2048))
        ours = (n_particles * float(o.c_ext) * 1e-6, n_particles * float(o.c_sca) * 1e-6,
                float(o.g))
        t_ours = time.perf_counter() - start
        print(f"m={m} wavelength={wl} d_g={dg} sigma_g={sg:.3f}")
        for name, a, b in zip(("B_ext", "B_sca", "g"), ours, (b_ext, b_sca, big_g)):
            print(f"    {name:<6} jaxmie {a:.10g}  PyMieScatt {b:.10g}  "
                  f"rel diff {abs(a / b - 1):.1e}")
        print(f"    time: jaxmie {t_ours:.2f} s (with compilation), PyMieScatt {t_pms:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
