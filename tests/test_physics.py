"""Physics identities over random particles (hypothesis, deterministic profile)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import jaxmie as jm

WAVELENGTH = 2 * np.pi
N_MAX = 64  # one static n_max for every example: also exercises over-provisioning

size = st.floats(1e-3, 30.0)
index_real = st.floats(1.01, 4.0)
index_imag = st.one_of(st.just(0.0), st.floats(1e-6, 0.1), st.floats(0.5, 8.0))


@st.composite
def particles(draw):
    layers = draw(st.integers(1, 4))
    outer = draw(size)
    fractions = sorted(draw(st.lists(st.floats(0.05, 1.0), min_size=layers - 1,
                                     max_size=layers - 1)))
    radii = [f * outer for f in fractions] + [outer]
    n = [complex(draw(index_real), draw(index_imag)) for _ in range(layers)]
    return jm.Multilayer(radii=radii, n=n)


def gauss_legendre_theta(points):
    mu, w = np.polynomial.legendre.leggauss(points)
    return jnp.arccos(jnp.asarray(mu)), jnp.asarray(w)


@given(particles())
def test_optical_theorem(p):
    """Q_ext = (4 / x^2) Re S(0), independently of the Q_sca + Q_abs route."""
    e = jm.efficiencies(p, WAVELENGTH, n_max=N_MAX)
    s1, s2 = jm.amplitudes(p, WAVELENGTH, jnp.array(0.0), n_max=N_MAX)
    x = float(p.radii[-1])
    from_forward = 4 / x**2 * float(jnp.real(s1))
    assert abs(complex(s1 - s2)) <= 1e-12 * abs(complex(s1))
    # Re S(0) loses relative digits to cancellation once x^3 << 1 (it is ~x^6).
    assert abs(from_forward - float(e.q_ext)) <= 1e-9 * float(e.q_ext) + 1e-15 * abs(
        complex(s1)) * 4 / x**2


@given(particles())
def test_energy_balance_and_passivity(p):
    e = jm.efficiencies(p, WAVELENGTH, n_max=N_MAX)
    q_ext, q_sca, q_abs = float(e.q_ext), float(e.q_sca), float(e.q_abs)
    assert q_sca >= 0 and q_ext > 0
    assert q_abs >= -1e-13 * q_ext
    assert abs(q_ext - q_sca - q_abs) <= 1e-13 * q_ext
    assert -1 <= float(e.g) <= 1
    if all(complex(n).imag == 0 for n in p.n):
        assert q_abs == 0.0


@given(particles())
def test_phase_function_integrates_to_q_sca_and_g(p):
    """(1 / (pi x^2)) int S11 dOmega = Q_sca and its cos-weighted mean is g."""
    theta, w = gauss_legendre_theta(200)
    x = float(p.radii[-1])
    mm = jm.mueller_matrix(p, WAVELENGTH, theta, n_max=N_MAX)
    e = jm.efficiencies(p, WAVELENGTH, n_max=N_MAX)
    integral = 2 * np.pi * float(jnp.sum(w * mm.s11)) / (np.pi * x**2)
    mean_cos = 2 * np.pi * float(jnp.sum(w * jnp.cos(theta) * mm.s11)) / (np.pi * x**2)
    assert abs(integral / float(e.q_sca) - 1) < 1e-10
    assert abs(mean_cos / float(e.q_sca) - float(e.g)) < 1e-10


@given(st.floats(1e-3, 30.0), st.floats(0.05, 0.95), index_real, index_imag)
def test_core_shell_of_one_material_is_a_sphere(x, fraction, n, k):
    m = complex(n, k)
    e_shell = jm.efficiencies(jm.CoreShell(r_core=fraction * x, r_shell=x, n_core=m,
                                           n_shell=m), WAVELENGTH, n_max=N_MAX)
    e_sphere = jm.efficiencies(jm.Sphere(radius=x, n=m), WAVELENGTH, n_max=N_MAX)
    assert_same_efficiencies(e_shell, e_sphere, x)


def assert_same_efficiencies(e, ref, x, rtol=1e-10):
    """Efficiencies agree to rtol, with an absolute floor of ~eps x for Q_ext and Q_abs: the
    rounding noise that the layer recurrence leaves in Im H (see jaxmie.coefficients)."""
    for field in ("q_ext", "q_sca", "q_abs", "q_back"):
        a, b = float(getattr(e, field)), float(getattr(ref, field))
        assert abs(a - b) <= rtol * abs(b) + 1e-14 * x, field
    assert abs(float(e.g) - float(ref.g)) <= rtol


@given(st.floats(1e-2, 30.0), st.floats(0.1, 0.9), index_real, index_imag, index_real,
       index_imag)
def test_zero_thickness_shell_is_the_core(x, fraction, n1, k1, n2, k2):
    """A shell of zero thickness, and a core of the outer layer's radius, change nothing."""
    core, shell = complex(n1, k1), complex(n2, k2)
    r = fraction * x
    base = jm.efficiencies(jm.CoreShell(r_core=r, r_shell=x, n_core=core, n_shell=shell),
                           WAVELENGTH, n_max=N_MAX)
    three = jm.efficiencies(jm.Multilayer(radii=[r, x, x], n=[core, shell, 2.0 + 1j]),
                            WAVELENGTH, n_max=N_MAX)
    assert_same_efficiencies(three, base, x)


@given(particles())
@example(jm.Multilayer(radii=[12.0], n=[3 + 0.0625j]))  # truncated at 1.5e-12 by Wiscombe
def test_over_provisioned_orders_are_tiny_and_finite(p):
    """Orders beyond the Wiscombe truncation contribute below rounding; nothing is NaN."""
    x = float(p.radii[-1])
    n_own = jm.n_max_for(x)
    a, b = jm.coefficients(p, WAVELENGTH, n_max=400)
    assert bool(jnp.all(jnp.isfinite(a)) & jnp.all(jnp.isfinite(b)))
    # Wiscombe's rule stops where |a_n| has fallen to ~1e-8..1e-12 of the leading orders
    # (narrow high-order resonances of high-index spheres sit just above it: x = 12,
    # m = 3 + 0.0625i loses 1.5e-12 of Q_ext there); ten orders further everything is below
    # 1e-12, and the hundreds of extra orders change no efficiency.
    tail = jnp.max(jnp.abs(a[n_own + 10:]) + jnp.abs(b[n_own + 10:]))
    head = jnp.max(jnp.abs(a[:n_own]) + jnp.abs(b[:n_own]))
    assert float(tail) <= 1e-12 * float(head)
    e_big = jm.efficiencies(p, WAVELENGTH, n_max=400)
    e_own = jm.efficiencies(p, WAVELENGTH, n_max=n_own + 10)
    assert abs(float(e_big.q_ext) / float(e_own.q_ext) - 1) < 1e-12
    assert abs(float(e_big.q_sca) / float(e_own.q_sca) - 1) < 1e-12


def test_reciprocity_of_forward_and_backward_amplitudes():
    """S1(0) = S2(0) and S1(pi) = -S2(pi) for every layered sphere."""
    p = jm.Multilayer(radii=[1.0, 2.0, 3.5], n=[2 + 0.1j, 0.3 + 4j, 1.4])
    s1, s2 = jm.amplitudes(p, WAVELENGTH, jnp.array([0.0, np.pi]))
    np.testing.assert_allclose(s1[0], s2[0], rtol=1e-13)
    np.testing.assert_allclose(s1[1], -s2[1], rtol=1e-12)


def test_index_matched_particle_does_not_scatter():
    """m -> 1: Q_sca ~ (m - 1)^2, finite, with finite gradients; m = 1 gives exactly 0."""
    for dm in [1e-4, 1e-8]:
        e = jm.efficiencies(jm.Sphere(radius=1.0, n=1 + dm), WAVELENGTH)
        e2 = jm.efficiencies(jm.Sphere(radius=1.0, n=1 + 2 * dm), WAVELENGTH)
        assert abs(float(e2.q_sca) / float(e.q_sca) - 4) < 1e-3
    e = jm.efficiencies(jm.Sphere(radius=1.0, n=1.0), WAVELENGTH)
    assert float(e.q_sca) == 0.0 and float(e.g) == 0.0
    grad = jax.grad(lambda n: jm.efficiencies(jm.Sphere(radius=1.0, n=n), WAVELENGTH,
                                              n_max=8).q_sca)(1.0 + 0j)
    assert np.isfinite(complex(grad))


def test_multipoles_sum_to_efficiencies():
    p = jm.CoreShell(r_core=40.0, r_shell=60.0, n_core=3.5, n_shell=0.2 + 3j)
    wl = jnp.linspace(400, 900, 7)
    poles = jm.multipoles(p, wl)
    e = jm.efficiencies(p, wl)
    np.testing.assert_allclose(jnp.sum(poles.q_ext_electric + poles.q_ext_magnetic, -1),
                               e.q_ext, rtol=1e-14)
    np.testing.assert_allclose(jnp.sum(poles.q_sca_electric + poles.q_sca_magnetic, -1),
                               e.q_sca, rtol=1e-14)


def test_intensities_and_mueller_relations():
    p = jm.Sphere(radius=300.0, n=1.6 + 0.01j)
    theta = jnp.linspace(0, np.pi, 19)
    i = jm.intensities(p, 633.0, theta)
    mm = jm.mueller_matrix(p, 633.0, theta)
    np.testing.assert_allclose(i.i_unp, mm.s11, rtol=1e-14)
    np.testing.assert_allclose((i.i_par - i.i_per) / 2, mm.s12, rtol=1e-12, atol=1e-14)
    # S11^2 = S12^2 + S33^2 + S34^2 for a single particle (pure Mueller matrix).
    np.testing.assert_allclose(mm.s11**2, mm.s12**2 + mm.s33**2 + mm.s34**2, rtol=1e-12)


@pytest.mark.parametrize("n_env", [1.0, 1.33, 1.5])
def test_host_medium_scales_size_and_index(n_env):
    """A particle of index n in a host of index n_env at wavelength lambda equals one of
    relative index n / n_env in vacuum at lambda / n_env."""
    p = jm.CoreShell(r_core=30.0, r_shell=50.0, n_core=2.5 + 0.2j, n_shell=1.8)
    e = jm.efficiencies(p, 500.0, n_env=n_env)
    q = jm.CoreShell(r_core=30.0, r_shell=50.0, n_core=(2.5 + 0.2j) / n_env,
                     n_shell=1.8 / n_env)
    e_vac = jm.efficiencies(q, 500.0 / n_env)
    np.testing.assert_allclose(e.q_ext, e_vac.q_ext, rtol=1e-13)
    np.testing.assert_allclose(e.g, e_vac.g, rtol=1e-12)


def test_cross_sections_are_efficiencies_times_area():
    p = jm.Sphere(radius=jnp.array([50.0, 80.0]), n=1.5 + 0.1j)
    wl = jnp.array([450.0, 550.0, 650.0])
    cs, e = jm.cross_sections(p, wl), jm.efficiencies(p, wl)
    area = np.pi * np.array([50.0, 80.0])[:, None] ** 2
    np.testing.assert_allclose(cs.c_ext, e.q_ext * area, rtol=1e-15)
    np.testing.assert_allclose(cs.q_sca, e.q_sca * area, rtol=1e-15)
    np.testing.assert_allclose(cs.g, e.g, rtol=0)
