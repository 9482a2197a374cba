"""Edges that once gave silent or unclear results: each input either gets a clear error
naming the field and value, or the right number (against mpmath or a float64 reference).
"""

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest

import jaxmie as jm
from jaxmie import ensemble as E

EPS = np.finfo(float).eps


# ------------------------------------------------------------------------------------------
# Bad input: a clear error naming the field and value
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("call, error, match", [
    # Mie coefficients are even in m: -n is the gain medium n*, which validation rejects
    (lambda: jm.efficiencies(jm.Sphere(50.0, -1.5 + 0.1j), 500.0), ValueError,
     r"real part of n must be >= 0.*-1.5"),
    (lambda: jm.efficiencies(jm.Sphere(50.0 + 1j, 1.5), 500.0), ValueError,
     r"radius must be real"),
    (lambda: jm.efficiencies(jm.Sphere(50.0, 1.5), 500.0 + 5j), ValueError,
     r"wavelength must be real"),
    (lambda: jm.efficiencies(jm.Sphere(50.0, jm.materials.get("Au")), jnp.array([600.0 + 1j])),
     ValueError, r"wavelength must be real"),
    (lambda: jm.efficiencies(jm.CoreShell(jnp.ones(3), jnp.full(2, 2.0), 1.5, 1.4), 500.0),
     ValueError, r"r_core \(3,\), r_shell \(2,\)"),
    (lambda: jm.efficiencies(50.0, 500.0), TypeError, r"particle must be a jaxmie.Sphere"),
    (lambda: jm.Multilayer([], []), ValueError, r"at least one layer"),
    (lambda: jm.efficiencies(jm.Sphere(50.0, 1.5), 500.0, n_max=2.7), ValueError,
     r"n_max must be an integer.*2.7"),
    (lambda: jm.efficiencies(jm.Sphere(50.0, 1.5), 500.0, n_max=True), ValueError,
     r"n_max must be an integer"),
    (lambda: jm.amplitudes(jm.Sphere(50.0, 1.5), 500.0, jnp.array([0.0, jnp.nan])),
     ValueError, r"theta must be finite"),
    (lambda: jm.fields(jm.Sphere(50.0, 1.5), 500.0, jnp.array([[0.0, jnp.inf, 1.0]])),
     ValueError, r"positions must be finite"),
    # the distribution is checked before anything is computed from it
    (lambda: E.mean_optics(E.LogNormal(median=-100.0, sigma=0.3), 1.5, 550.0), ValueError,
     r"LogNormal.median must be finite and > 0 nm; got \[-100.0\]"),
    (lambda: jm.materials.tabulated([400.0, 500.0], [1.5, -0.2], [0.0, 0.1]), ValueError,
     r"n must be >= 0.*-0.2 at 500 nm"),
])
def test_bad_input_names_the_field_and_value(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ------------------------------------------------------------------------------------------
# Index matching
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("particle", [
    jm.Sphere(50.0, 1.0),
    jm.CoreShell(20.0, 50.0, 1.0, 1.0),
    jm.Multilayer([10.0, 20.0, 30.0, 45.0], [1.33, 1.33, 1.33, 1.33]),
    pytest.param(jm.Multilayer([10.0, 20.0, 30.0, 40.0, 45.0], [1.33] * 5),  # JAX path only
                 marks=pytest.mark.slow),
], ids=["sphere", "core-shell", "4 layers", "5 layers"])
def test_index_matched_particles_scatter_exactly_nothing(particle):
    """Every layer matched to the host: every efficiency and g exactly 0 (g = 0 where
    Q_sca = 0, the documented convention), with finite gradients."""
    n_env = 1.33 if isinstance(particle, jm.Multilayer) else 1.0
    e = jm.efficiencies(particle, 500.0, n_env=n_env)
    assert all(float(v) == 0.0 for v in jax.tree.leaves(e))
    grad = jax.grad(lambda p: sum(jax.tree.leaves(jm.efficiencies(p, 500.0, n_env=n_env,
                                                                  n_max=16))))(particle)
    assert all(np.all(np.isfinite(v)) for v in jax.tree.leaves(grad))


def _mp_sphere(m, x, orders=30):
    """a_n, b_n of a homogeneous sphere from mpmath's Bessel functions (50 digits)."""
    def psi(n, z):
        return mp.sqrt(mp.pi * z / 2) * mp.besselj(n + mp.mpf(1) / 2, z)

    def xi(n, z):
        return mp.sqrt(mp.pi * z / 2) * (mp.besselj(n + mp.mpf(1) / 2, z)
                                         + 1j * mp.bessely(n + mp.mpf(1) / 2, z))
    a, b = [], []
    for n in range(1, orders + 1):
        px, pmx, xx = psi(n, x), psi(n, m * x), xi(n, x)
        dpx, dpmx = psi(n - 1, x) - n * px / x, psi(n - 1, m * x) - n * pmx / (m * x)
        dxx = xi(n - 1, x) - n * xx / x
        a.append((m * pmx * dpx - px * dpmx) / (m * pmx * dxx - xx * dpmx))
        b.append((pmx * dpx - m * px * dpmx) / (pmx * dxx - m * xx * dpmx))
    return a, b


def _mp_g_and_q_sca(m, x):
    a, b = _mp_sphere(m, x)
    n_orders = len(a)
    sca = sum((2 * k + 3) * (abs(a[k]) ** 2 + abs(b[k]) ** 2) for k in range(n_orders))
    gs = 0
    for k in range(n_orders):
        n = k + 1
        gs += mp.mpf(2 * n + 1) / (n * (n + 1)) * (a[k] * mp.conj(b[k])).real
        if k + 1 < n_orders:
            gs += mp.mpf(n * (n + 2)) / (n + 1) * (a[k] * mp.conj(a[k + 1])
                                                   + b[k] * mp.conj(b[k + 1])).real
    return 2 * gs / sca, 2 * sca / x**2


@pytest.mark.parametrize("contrast", [1e-6, 1e-8, 1e-9, 1e-10])
def test_derivatives_at_index_matching_keep_their_digits(contrast):
    """d Q_sca / dn and d g / dn of a sphere with n = 1 + contrast (x = 5) against mpmath.

    Q_sca's derivative is a derivative of coefficients that the split form keeps to full
    relative accuracy (1e-13 asked). g = S6 / S0 is a ratio of two sums that both vanish
    like contrast^2: the quotient rule subtracts two O(contrast) terms, so its derivative is
    conditioned eps g / contrast (absolute), the bound asked (it lost every digit before)."""
    n = 1.0 + contrast
    with mp.workdps(50):
        step = mp.mpf("1e-25")
        n_mp = mp.mpf(n)
        plus, minus = _mp_g_and_q_sca(n_mp + step, mp.mpf(5)), _mp_g_and_q_sca(n_mp - step,
                                                                               mp.mpf(5))
        dg, dq = [float((p - q) / (2 * step)) for p, q in zip(plus, minus)]
        g_ref = float(_mp_g_and_q_sca(n_mp, mp.mpf(5))[0])

    def efficiencies(n):
        return jm.efficiencies(jm.Sphere(radius=5.0, n=n), 2 * np.pi, n_max=24)

    assert abs(float(jax.grad(lambda v: efficiencies(v).q_sca)(n)) / dq - 1) < 1e-13
    assert abs(float(jax.grad(lambda v: efficiencies(v).g)(n)) - dg) < 64 * EPS * g_ref / contrast
    assert abs(float(efficiencies(n).g) - g_ref) < 1e-14


# ------------------------------------------------------------------------------------------
# float32 at tiny sizes
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("x", [1e-11, 1e-8, 1e-6, 1e-4])
def test_float32_keeps_absorption_and_finite_gradients_at_tiny_x(x):
    """Q_abs ~ x is representable in float32 far below x = 1e-7 (it came out 0 there, and
    gradients NaN for 1e-6 <= x <= 1e-5): now Q_abs and d Q_abs/dr to 1e-5 of float64,
    Q_sca ~ x^4 where float32 holds it (x >= 1e-8), every gradient finite."""
    m = 1.5 + 0.1j

    def eff(r, dtype):
        real, cplx = (jnp.float32, jnp.complex64) if dtype == "f32" else (jnp.float64,
                                                                           jnp.complex128)
        return jm.efficiencies(jm.Sphere(radius=jnp.asarray(r, real), n=cplx(m)),
                               real(2 * np.pi), n_max=8)

    e32, e64 = eff(x, "f32"), eff(x, "f64")
    assert e32.q_abs.dtype == jnp.float32
    np.testing.assert_allclose(e32.q_abs, e64.q_abs, rtol=1e-5)
    if x >= 1e-8:
        np.testing.assert_allclose(e32.q_sca, e64.q_sca, rtol=1e-5)
    for field in ("q_ext", "q_sca", "q_abs", "q_back", "g"):
        grad = jax.grad(lambda r: getattr(eff(r, "f32"), field))(jnp.float32(x))
        assert np.isfinite(float(grad)), field
    d32 = jax.grad(lambda r: eff(r, "f32").q_abs)(jnp.float32(x))
    d64 = jax.grad(lambda r: eff(r, "f64").q_abs)(x)
    np.testing.assert_allclose(d32, d64, rtol=1e-5)


def test_float32_below_its_range_raises():
    with pytest.raises(ValueError, match="float32 cannot carry.*1e-14"):
        jm.efficiencies(jm.Sphere(radius=jnp.float32(1e-14), n=jnp.complex64(1.5)),
                        jnp.float32(2 * np.pi))
