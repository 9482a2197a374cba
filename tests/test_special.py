"""Riccati-Bessel sequences against mpmath's Bessel functions of half-integer order.

psi_n(z) = sqrt(pi z / 2) J_{n+1/2}(z) and zeta_n(z) = sqrt(pi z / 2) H^(1)_{n+1/2}(z), at 30
digits; D_n = f_{n-1}/f_n - n/z for either function. The cases cover n_max far above |z|
(where the downward recurrence starts only a few orders above n_max) and large arguments
with n_max just above |z|, where the continued fraction converges slowly and a start too
close to n_max would cost the top orders their digits.
"""

import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest

from jaxmie import _special as special

CASES = [
    # (z, n_max): small arguments, n_max far above |z|
    (0.1, 20), (1.5 + 0.01j, 24), (2.4 + 0.24j, 10), (3 + 2j, 30), (1e-4 + 1e-6j, 20),
    # n_max from Wiscombe's rule for the argument itself
    (10.0, 20), (7 + 0.5j, 16), (0.5 + 5j, 13), (20 + 20j, 42), (50 + 1j, 66),
    # large arguments, n_max a little above |z|
    (958.03 + 18.04j, 1000), (1000.0, 1042), (3000.5 + 0.8j, 3060),
]


def _mpmath_sequences(z: complex, orders: list[int]) -> dict[str, np.ndarray]:
    """d1, d3 at the given orders, psi and zeta ratios n / (n - 1) there (orders >= 2)."""
    with mp.workdps(30):
        w = mp.mpc(z)
        scale = mp.sqrt(mp.pi * w / 2)

        def psi(n):
            return scale * mp.besselj(n + 0.5, w)

        def zeta(n):
            return scale * (mp.besselj(n + 0.5, w) + 1j * mp.bessely(n + 0.5, w))

        out = {"d1": [], "d3": [], "psi_ratio": [], "zeta_ratio": []}
        for n in orders:
            p0, p1, z0, z1 = psi(n - 1), psi(n), zeta(n - 1), zeta(n)
            out["d1"].append(complex(p0 / p1 - n / w))
            out["d3"].append(complex(z0 / z1 - n / w))
            out["psi_ratio"].append(complex(p1 / p0))
            out["zeta_ratio"].append(complex(z1 / z0))
        out["psi_1_scaled"] = complex(mp.exp(1j * w) * psi(1))
    return {k: np.asarray(v) for k, v in out.items()}


@pytest.mark.parametrize("z, n_max", CASES, ids=[f"z={z} n_max={n}" for z, n in CASES])
def test_riccati_bessel_matches_mpmath(z, n_max):
    top = {n_max // 2, n_max - 2, n_max - 1, n_max}
    orders = sorted(top | set(range(2, min(n_max, 40) + 1)))
    reference = _mpmath_sequences(z, orders)
    rb = special.riccati_bessel(jnp.asarray(z, jnp.complex128), n_max)
    at = np.asarray(orders) - 1  # order n at index n - 1; ratios start at order 2
    got = {"d1": np.asarray(rb.d1)[at], "d3": np.asarray(rb.d3)[at],
           "psi_ratio": np.asarray(rb.psi_ratio)[at - 1],
           "zeta_ratio": np.asarray(rb.zeta_ratio)[at - 1],
           "psi_1_scaled": complex(rb.psi_1_scaled)}
    for name, want in reference.items():
        error = np.abs(got[name] - want) / np.abs(want)
        if isinstance(z, float):
            # On the real axis psi_n has zeros, where D1 and the psi ratios pass through 0 and
            # infinity like cot(phase); a recurrence over ~1000 orders leaves the phase a few
            # 1e-14 off, i.e. an error of (1 + |f|^2) times that (D1_34(1000) = 0.0022).
            error = np.minimum(error, np.abs(got[name] - want) / (1 + np.abs(want) ** 2))
        assert np.max(error) < 1e-13, (name, np.max(error))
