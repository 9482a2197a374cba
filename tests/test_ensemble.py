"""Ensembles (jaxmie.distributions, jaxmie.ensemble, jaxmie.suspension): size distributions,
quadrature averages, dense suspensions, batches at scale.

References from outside jaxmie: Hansen & Travis' closed forms, scipy.integrate.quad of
scipy.stats densities and of miepython's efficiencies, mpmath for the Percus-Yevick closed
form, and the Rayleigh-Gans-Debye limit. Dense trapezoidal sampling checks the quadrature
against a second route through jaxmie.
"""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate as si
import scipy.stats as st
from scipy.special import gammaln

import jaxmie as jm
import jaxmie.materials
from jaxmie import ensemble as E
from jaxmie import suspension as S

M = 1.5 + 0.01j
# One over-provisioned n_max (enough for every quadrature range below, x < 21) so that the
# tests share compiled kernels; orders beyond a particle's own need are tiny and harmless.
N_MAX = 40
WAVELENGTHS = jnp.array([450.0, 650.0])
THETA = jnp.array([0.0, 0.3, 1.2, 2.0, np.pi])


def _ln_density(dist):
    """Unnormalised density in ln r (r n(r)) of each family, written from its definition."""
    if isinstance(dist, E.LogNormal):
        return lambda r: np.exp(-0.5 * (np.log(r / dist.median) / dist.sigma) ** 2)
    if isinstance(dist, E.Gamma):
        a, b = dist.r_eff, dist.v_eff
        return lambda r: r * r ** ((1 - 3 * b) / b) * np.exp(-r / (a * b))
    if isinstance(dist, E.ModifiedGamma):
        al, rc, ga = dist.alpha, dist.r_c, dist.gamma
        return lambda r: r * (r / rc) ** al * np.exp(-al / ga * (r / rc) ** ga)
    if isinstance(dist, E.Normal):
        return lambda r: r * np.exp(-0.5 * ((r - dist.mean_radius) / dist.std) ** 2)
    raise TypeError(dist)


DISTRIBUTIONS = {
    "lognormal": E.LogNormal(median=200.0, sigma=0.25),
    "gamma": E.Gamma(r_eff=250.0, v_eff=0.1),
    "modified_gamma": E.ModifiedGamma(alpha=6.0, r_c=150.0, gamma=1.5),
    "normal": E.Normal(mean_radius=200.0, std=25.0),
}


# ------------------------------------------------------------------------------------------
# Distributions
# ------------------------------------------------------------------------------------------


def test_hansen_travis_closed_forms():
    """Log-normal: r_eff = r_g exp(5 s^2/2), v_eff = exp(s^2) - 1; gamma: r_eff = a, v_eff = b."""
    d = E.LogNormal(median=300.0, sigma=0.4)
    np.testing.assert_allclose(d.effective_radius(), 300 * np.exp(2.5 * 0.16), rtol=1e-14)
    np.testing.assert_allclose(d.effective_variance(), np.expm1(0.16), rtol=1e-13)
    back = E.LogNormal.from_effective(d.effective_radius(), d.effective_variance())
    np.testing.assert_allclose([back.median, back.sigma], [300.0, 0.4], rtol=1e-13)
    g = E.Gamma(r_eff=700.0, v_eff=0.15)
    np.testing.assert_allclose([g.effective_radius(), g.effective_variance()], [700.0, 0.15],
                               rtol=1e-13)
    s = E.Gamma.schulz(100.0, 0.2)
    np.testing.assert_allclose([s.mean(), s.polydispersity], [100.0, 0.2], rtol=1e-13)


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_moments_match_scipy_and_quadrature(name):
    """Analytic moments = scipy quad of the density = sums over the quadrature nodes."""
    dist = DISTRIBUTIONS[name]
    density = _ln_density(dist)
    lo, hi = np.log(1.0), np.log(20000.0)
    peak = [np.log(float(dist.mean())) + d for d in (-0.3, -0.1, 0.0, 0.1, 0.3)]

    def moment(p):
        def integral(p):
            f = lambda t: np.exp(p * t) * density(np.exp(t))
            return si.quad(f, lo, hi, epsabs=0, epsrel=1e-13, limit=400, points=peak)[0]

        return integral(p) / integral(0)

    radii, weights = dist.nodes(E.Quadrature(nodes=96))
    for p in (1, 2, 3, 4):
        reference = moment(p)
        # normal: moments of the untruncated normal; its mass below r = 0 is ~1e-15
        np.testing.assert_allclose(dist.moment(p), reference, rtol=1e-11)
        np.testing.assert_allclose(jnp.sum(weights * radii**p), reference, rtol=1e-10)


def test_uniform_and_weighted_moments():
    u = E.Uniform(low=100.0, high=300.0)
    r, w = u.nodes(E.Quadrature(nodes=32))
    np.testing.assert_allclose(jnp.sum(w * r**3), (300**4 - 100**4) / (4 * 200), rtol=1e-14)
    np.testing.assert_allclose(u.moment(3), (300**4 - 100**4) / (4 * 200), rtol=1e-14)
    hist = E.Weighted(radii=jnp.array([100.0, 200.0]), weights=jnp.array([3.0, 1.0]))
    np.testing.assert_allclose(hist.effective_radius(), (0.75e6 + 2e6) / (0.75e4 + 1e4),
                               rtol=1e-14)


@pytest.mark.parametrize("dist,field", [
    (E.LogNormal(median=-5.0, sigma=0.2), "median"),
    (E.LogNormal(median=100.0, sigma=0.0), "sigma"),
    (E.Gamma(r_eff=100.0, v_eff=0.6), "v_eff"),
    (E.ModifiedGamma(alpha=6.0, r_c=float("nan"), gamma=1.0), "r_c"),
    (E.Uniform(low=200.0, high=100.0), "high must exceed low"),
    (E.Weighted(radii=jnp.array([10.0, 20.0]), weights=jnp.array([-1.0, 2.0])), "weights"),
])
def test_bad_concrete_parameters_raise_naming_the_field(dist, field):
    with pytest.raises(ValueError, match=field):
        E.mean_optics(dist, M, 550.0, n_max=8)
    with pytest.raises(ValueError, match=field):
        S.decoupling(jnp.array([0.01]), dist, 0.2)


# ------------------------------------------------------------------------------------------
# Averages
# ------------------------------------------------------------------------------------------


def _dense(dist, points=4001, sigmas=9.0):
    """Dense uniform sampling in ln r with trapezoid weights (spectrally accurate for a
    smooth integrand that vanishes at both ends)."""
    r_mid = float(dist.effective_radius())
    v = float(dist.effective_variance())
    width = sigmas * np.sqrt(np.log1p(v))
    t = np.linspace(np.log(r_mid) - width - 1.0, np.log(r_mid) + width, points)
    w = _ln_density(dist)(np.exp(t))
    return jnp.asarray(np.exp(t)), jnp.asarray(w / w.sum())


@pytest.mark.parametrize("name", [
    "lognormal", "gamma",
    # each family compiles its own kernels (~10 s): two run by default, all with --runslow
    pytest.param("modified_gamma", marks=pytest.mark.slow),
    pytest.param("normal", marks=pytest.mark.slow)])
def test_average_matches_dense_sampling(name):
    dist = DISTRIBUTIONS[name]
    # 1536 nodes: the radar backscatter of the gamma case, the most oscillatory integrand
    # here, is at 1.3e-8 with 1024 nodes and 1.5e-10 with 1536
    got = E.mean_optics(dist, M, WAVELENGTHS, THETA, quadrature=E.Quadrature(nodes=1536),
                        n_max=N_MAX)
    radii, w = _dense(dist)
    p = jm.Sphere(radius=radii, n=M)
    cs = jm.cross_sections(p, WAVELENGTHS, n_max=N_MAX)
    mm = jm.mueller_matrix(p, WAVELENGTHS, THETA, n_max=N_MAX)
    avg = lambda v: jnp.tensordot(w, v, axes=(0, 0))
    for field in ("c_ext", "c_sca", "c_back"):
        np.testing.assert_allclose(getattr(got, field), avg(getattr(cs, field)), rtol=1e-8,
                                   err_msg=f"{name} {field}")
    np.testing.assert_allclose(got.g, avg(cs.g * cs.c_sca) / avg(cs.c_sca), rtol=1e-8)
    for field in ("s11", "s12", "s33", "s34"):
        ref = avg(getattr(mm, field))
        np.testing.assert_allclose(getattr(got.mueller, field), ref, rtol=1e-8,
                                   atol=1e-8 * float(jnp.max(jnp.abs(avg(mm.s11)))))
    np.testing.assert_allclose(got.q_ext, avg(cs.c_ext) / avg(np.pi * radii**2), rtol=1e-8)


def test_lognormal_against_miepython_and_scipy_quad():
    """<C_ext>, <C_sca>, g of a log-normal from miepython's Mie and scipy's quad."""
    import miepython

    median, sigma, wavelength = 200.0, 0.25, 550.0
    pdf = st.lognorm(s=sigma, scale=median).pdf

    def integral(which):
        def f(t):
            r = np.exp(t)
            qe, qs, _, g = miepython.efficiencies(M, 2 * r, wavelength)
            value = {"ext": qe, "sca": qs, "gsca": g * qs}[which]
            return np.pi * r * r * value * pdf(r) * r

        lo, hi = np.log(median) - 8 * sigma, np.log(median) + 8 * sigma
        return si.quad(f, lo, hi, epsabs=0, epsrel=1e-12, limit=400)[0]

    got = E.mean_optics(E.LogNormal(median, sigma), M, wavelength,
                        quadrature=E.Quadrature(nodes=1024), n_max=N_MAX)
    c_ext, c_sca, g_sca = integral("ext"), integral("sca"), integral("gsca")
    np.testing.assert_allclose(got.c_ext, c_ext, rtol=1e-8)
    np.testing.assert_allclose(got.c_sca, c_sca, rtol=1e-8)
    np.testing.assert_allclose(got.g, g_sca / c_sca, rtol=1e-8)


def test_phase_function_normalisation_and_g():
    """int p dOmega = 4 pi and <cos> under p = g (Gauss-Legendre in cos theta)."""
    mu, w = np.polynomial.legendre.leggauss(300)
    got = E.mean_optics(E.Gamma(r_eff=150.0, v_eff=0.2), 1.33 + 1e-4j, WAVELENGTHS,
                        jnp.arccos(jnp.asarray(mu)), n_max=N_MAX)
    norm = 2 * np.pi * jnp.sum(w * got.phase, axis=-1)
    np.testing.assert_allclose(norm, 4 * np.pi, rtol=1e-10)
    mean_cos = 2 * np.pi * jnp.sum(w * mu * got.phase, axis=-1) / (4 * np.pi)
    np.testing.assert_allclose(mean_cos, got.g, rtol=1e-10)
    np.testing.assert_allclose(got.albedo, got.c_sca / got.c_ext, rtol=1e-15)
    assert np.all(got.albedo < 1) and np.all(got.albedo > 0.9)


def test_weighted_core_shell_material_and_specific_extinction():
    """User weights with a particle factory and a material equal the explicit weighted sum."""
    water = jm.materials.get("H2O")
    radii, weights = jnp.array([80.0, 150.0, 220.0]), jnp.array([0.5, 0.3, 0.2])
    make = lambda r: jm.CoreShell(r_core=0.7 * r, r_shell=r, n_core=2.0 + 0.5j,
                                  n_shell=water)
    got = E.mean_optics(E.Weighted(radii, weights), wavelength=WAVELENGTHS, particle=make)
    cs = jm.cross_sections(make(radii), WAVELENGTHS)
    np.testing.assert_allclose(got.c_abs, weights @ cs.c_abs, rtol=1e-14)
    volume = weights @ (4 / 3 * np.pi * radii**3)
    np.testing.assert_allclose(got.ext_per_volume, (weights @ cs.c_ext) / volume, rtol=1e-14)
    # 1 nm^2 / (1 g/cm^3 x 1 nm^3) = 1e3 m^2/g
    np.testing.assert_allclose(got.mass_extinction(2.0), 1e3 * got.ext_per_volume / 2.0,
                               rtol=1e-15)


def test_jit_and_wavelength_blocks_match_the_explicit_weighted_sum():
    """Under jit with ensemble_n_max; 37 wavelengths x 256 nodes run as lax.map blocks of 16
    wavelengths (two blocks and a remainder), which must equal sum_k w_k C(r_k, wl)."""
    wavelengths = jnp.linspace(450.0, 650.0, 37)
    n_max = E.ensemble_n_max(E.LogNormal(210.0, 0.26), wavelengths)

    quad = E.Quadrature(nodes=256)

    @jax.jit
    def optics(median, sigma):
        return E.mean_optics(E.LogNormal(median, sigma), M, wavelengths, n_max=n_max,
                             quadrature=quad)

    got = optics(200.0, 0.25)
    radii, weights = E.LogNormal(200.0, 0.25).nodes(quad)
    cs = jm.cross_sections(jm.Sphere(radius=radii, n=M), wavelengths, n_max=n_max)
    np.testing.assert_allclose(got.c_ext, weights @ cs.c_ext, rtol=1e-13)
    np.testing.assert_allclose(got.g, (weights @ (cs.g * cs.c_sca)) / (weights @ cs.c_sca),
                               rtol=1e-13)
    # the adaptive default cannot choose its rule under jit, and says what to pass
    with pytest.raises(ValueError, match="converged_quadrature"):
        jax.jit(lambda m: E.mean_optics(E.LogNormal(m, 0.25), M, 550.0).c_ext)(200.0)
    with pytest.raises(ValueError, match="n_max"):
        jax.jit(lambda m: E.mean_optics(E.LogNormal(m, 0.25), M, 550.0,
                                        quadrature=quad).c_ext)(200.0)
    # a batch of distributions through vmap equals one at a time
    medians = jnp.array([190.0, 200.0, 205.0])
    batched = jax.vmap(lambda m: optics(m, 0.25).c_ext)(medians)
    for i, m in enumerate(medians):
        np.testing.assert_allclose(batched[i], optics(m, 0.25).c_ext, rtol=1e-13)


@pytest.mark.parametrize("family,fixed_nodes", [
    ("lognormal", True),
    pytest.param("gamma", True, marks=pytest.mark.slow),
    pytest.param("lognormal", False, marks=pytest.mark.slow)])
def test_gradients_match_finite_differences(family, fixed_nodes):
    """d<C_ext>/d(median, width), dg/d(...) and d<S11>(theta)/d(...) against central
    differences, forward and reverse mode."""
    make = {"lognormal": lambda a, b: E.LogNormal(a, b),
            "gamma": lambda a, b: E.Gamma(r_eff=a, v_eff=b)}[family]
    x0 = {"lognormal": (200.0, 0.25), "gamma": (250.0, 0.1)}[family]
    # the gamma's long small-radius tail spreads the nodes thinner: twice as many
    quad = E.Quadrature(nodes={"lognormal": 512, "gamma": 1024}[family],
                        fixed_nodes=fixed_nodes)
    n_max = E.ensemble_n_max(make(x0[0] * 1.01, x0[1] * 1.01), 550.0, quadrature=quad)

    @jax.jit
    def f(a, b):
        o = E.mean_optics(make(a, b), M, 550.0, jnp.array([0.5]), n_max=n_max,
                          quadrature=quad)
        return jnp.stack([o.c_ext, o.g, o.mueller.s11[0]])

    jac = jax.jit(jax.jacfwd(f, argnums=(0, 1)))(*x0)
    jac_rev = jax.jit(jax.jacrev(f, argnums=(0, 1)))(*x0)
    for i, x in enumerate(x0):
        up, down = list(x0), list(x0)
        if fixed_nodes:
            # The gradient is the quadrature of the derivative of the integral; FD of the
            # discrete rule also sees its residual ~1e-9 error, which oscillates with the
            # node spacing. h = 1e-4 x: truncation ~1e-8, that oscillation ~1e-8.
            h, rtol = 1e-4 * x, 1e-6
        else:
            # The exact derivative of the discrete rule: FD agrees to round-off/truncation.
            h, rtol = 1e-5 * x, 1e-8
        up[i] += h
        down[i] -= h
        fd = (f(*up) - f(*down)) / (2 * h)
        np.testing.assert_allclose(jac[i], fd, rtol=rtol)
        np.testing.assert_allclose(jac_rev[i], jac[i], rtol=1e-12)


def test_float32_follows_inputs():
    quad = E.Quadrature(nodes=64)
    o = E.mean_optics(E.LogNormal(jnp.float32(200.0), jnp.float32(0.25)), jnp.complex64(M),
                      jnp.float32(550.0), quadrature=quad, n_max=N_MAX)
    ref = E.mean_optics(E.LogNormal(200.0, 0.25), M, 550.0, quadrature=quad, n_max=N_MAX)
    assert o.c_ext.dtype == jnp.float32 and o.g.dtype == jnp.float32
    # float32 round-off (~6e-8) amplified by the recurrences over ~20 orders
    np.testing.assert_allclose(o.c_ext, ref.c_ext, rtol=1e-5)
    np.testing.assert_allclose(o.g, ref.g, rtol=1e-5)


# ------------------------------------------------------------------------------------------
# Dense suspensions
# ------------------------------------------------------------------------------------------


def test_percus_yevick_against_mpmath_closed_form():
    """The series branch (A < 3) and the closed form (A >= 3) against 50-digit arithmetic."""
    import mpmath as mp

    mp.mp.dps = 50

    def reference(a, eta):
        a, eta = mp.mpf(a), mp.mpf(eta)
        al = (1 + 2 * eta) ** 2 / (1 - eta) ** 4
        be = -6 * eta * (1 + eta / 2) ** 2 / (1 - eta) ** 4
        ga = eta * al / 2
        s, c = mp.sin(a), mp.cos(a)
        g = (al / a**2 * (s - a * c) + be / a**3 * (2 * a * s + (2 - a**2) * c - 2)
             + ga / a**5 * (-a**4 * c + 4 * ((3 * a**2 - 6) * c + (a**3 - 6 * a) * s + 6)))
        return float(1 / (1 + 24 * eta * g / a))

    for eta in (0.05, 0.3, 0.49):
        for a in (1e-4, 0.3, 1.7, 2.999, 3.0, 3.001, 7.0, 25.0):
            np.testing.assert_allclose(S.percus_yevick(a / 2.0, 2.0, eta), reference(a, eta),
                                       rtol=1e-13)


def test_percus_yevick_at_q_zero_value_and_gradient():
    eta = jnp.array([0.0, 0.1, 0.3, 0.5])
    s0 = S.percus_yevick(0.0, 100.0, eta)
    np.testing.assert_allclose(s0, (1 - eta) ** 4 / (1 + 2 * eta) ** 2, rtol=1e-15)
    d_eta = jax.jit(jax.vmap(jax.grad(S.percus_yevick, argnums=2), in_axes=(None, None, 0)))(
        0.0, 100.0, eta)
    exact = jax.vmap(jax.grad(lambda e: (1 - e) ** 4 / (1 + 2 * e) ** 2))(eta)
    np.testing.assert_allclose(d_eta, exact, rtol=1e-13)
    d_q = jax.jit(jax.vmap(jax.grad(S.percus_yevick), in_axes=(None, None, 0)))(0.0, 100.0,
                                                                                  eta)
    assert np.all(np.isfinite(d_q)) and np.all(d_q == 0)  # S is even in q
    hessian = jax.jit(jax.hessian(S.percus_yevick))(0.0, 100.0, 0.3)
    assert np.isfinite(hessian)


def test_form_factor_limits():
    assert float(S.sphere_form_factor(0.0, 50.0)) == 1.0
    np.testing.assert_allclose(S.sphere_form_factor(1e-6, 50.0), 1 - (5e-5) ** 2 / 5,
                               rtol=1e-15)
    assert float(jax.grad(S.sphere_form_factor)(0.0, 50.0)) == 0.0
    # first zero of the amplitude: tan x = x at x = 4.4934094579
    assert abs(float(S.sphere_form_amplitude(4.493409457909064))) < 1e-15
    qr = jnp.linspace(0.01, 30.0, 200)
    direct = 3 * (jnp.sin(qr) - qr * jnp.cos(qr)) / qr**3
    np.testing.assert_allclose(S.sphere_form_amplitude(qr), direct, atol=1e-12)


def test_decoupling_limits():
    q = jnp.linspace(0.0, 0.2, 50)
    mono = S.decoupling(q, E.Gamma.schulz(40.0, 0.01), 0.3)
    # beta -> 1 for narrow distributions, except near the zeros of F (q R = 4.49, ...)
    np.testing.assert_allclose(mono.beta[q * 40 < 3.5], 1.0, atol=1e-3)
    np.testing.assert_allclose(mono.form[0], 1.0, rtol=1e-15)
    dilute = S.decoupling(q, E.Gamma.schulz(40.0, 0.2), 0.0)
    np.testing.assert_allclose(dilute.intensity, dilute.form, rtol=1e-15)
    # beta(0) = <V>^2 / <V^2> for a Schulz distribution: Gamma-function moments
    k = 1 / 0.2**2
    expected = np.exp(2 * (gammaln(k + 3) - gammaln(k)) - (gammaln(k + 6) - gammaln(k)))
    np.testing.assert_allclose(dilute.beta[0], expected, rtol=1e-10)


def test_mie_tends_to_rgd_as_m_tends_to_one():
    """|S1|/|S1(0)| -> |f(qR)|, |S2| -> |S1 cos theta|, |S1(0)| -> (2/3) x^3 |m - 1|; the
    error shrinks in proportion to |m - 1| (RGD is first order in m - 1)."""
    radius, wavelength = 240.0, 500.0
    x = 2 * np.pi * radius / wavelength
    theta = jnp.linspace(0.0, 1.0, 40)  # before the first zero of f
    q = S.scattering_vector(theta, wavelength)

    def error(delta):
        s1, s2 = jm.amplitudes(jm.Sphere(radius=radius, n=1 + delta), wavelength, theta)
        shape = jnp.abs(s1) / jnp.abs(s1[0]) - jnp.abs(S.sphere_form_amplitude(q * radius))
        forward = abs(float(jnp.abs(s1[0])) / (2 / 3 * x**3 * delta) - 1)
        pol = jnp.abs(s2) - jnp.abs(s1 * jnp.cos(theta))
        return max(float(jnp.max(jnp.abs(shape))), forward,
                   float(jnp.max(jnp.abs(pol) / jnp.abs(s1))))

    e3, e4 = error(1e-3), error(1e-4)
    assert e4 < 2 * x * 1e-4
    assert 5 < e3 / e4 < 20
    # the same through the decoupling routes
    dist = E.Gamma.schulz(radius, 0.05)
    quad = E.Quadrature(nodes=64)
    rgd = S.decoupling(q, dist, 0.2, quadrature=quad)
    mie = S.mie_decoupling(dist, 1 + 1e-4, wavelength, theta, 0.2, quadrature=quad)
    polarisation = (1 + jnp.cos(theta) ** 2) / 2
    np.testing.assert_allclose(mie.form, rgd.form * polarisation, rtol=2e-3, atol=1e-4)
    np.testing.assert_allclose(mie.beta, rgd.beta, rtol=2e-3)


def test_fit_recovers_volume_fraction_and_polydispersity():
    q = jnp.linspace(0.005, 0.25, 80)
    truth = S.decoupling(q, E.Gamma.schulz(30.0, 0.12), 0.32,
                         quadrature=E.Quadrature(nodes=64)).intensity
    fit = S.fit_suspension(q, truth, 30.0, eta0=0.15, polydispersity0=0.05, steps=400)
    assert fit.losses[-1] < 1e-8 * fit.losses[0]
    np.testing.assert_allclose([fit.eta, fit.polydispersity], [0.32, 0.12], rtol=1e-3)


# ------------------------------------------------------------------------------------------
# Batches at scale
# ------------------------------------------------------------------------------------------


def test_pair_efficiencies_chunks_match_the_batch_api():
    rng = np.random.default_rng(0)
    radius, wavelength = rng.uniform(10, 150, 1000), rng.uniform(400, 800, 1000)
    got = E.pair_efficiencies(radius, M, wavelength, n_max=16, chunk_size=96)  # remainder 40
    ref = jm.efficiencies(jm.Sphere(radius=jnp.asarray(radius * 600 / wavelength), n=M),
                          600.0, n_max=16)
    for field in ("q_ext", "q_sca", "q_back", "g"):
        np.testing.assert_allclose(getattr(got, field), getattr(ref, field), rtol=1e-12)
    single = E.pair_efficiencies(np.float32(radius), np.complex64(M), np.float32(wavelength),
                                 n_max=16)
    assert single.q_ext.dtype == jnp.float32 and np.all(np.isfinite(single.q_ext))
    np.testing.assert_allclose(single.q_ext, ref.q_ext, rtol=1e-4)


_SHARDING_SCRIPT = textwrap.dedent("""
    import jax, jax.numpy as jnp, numpy as np
    import jaxmie as jm
    from jaxmie import ensemble as E
    assert len(jax.devices()) == 4, jax.devices()
    rng = np.random.default_rng(1)
    n = 1001  # not a multiple of 4: exercises the padding
    r, wl = rng.uniform(10, 150, n), rng.uniform(400, 800, n)
    k = jnp.asarray(rng.uniform(0, 0.1, n))
    single = E.pair_efficiencies(r, 1.5 + 1j * k, wl, n_max=16, chunk_size=128)
    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("pairs",))
    sharded = E.sharded_pair_efficiencies(r, 1.5 + 1j * k, wl, n_max=16, chunk_size=128,
                                          mesh=mesh)
    for name in ("q_ext", "q_sca", "q_abs", "q_back", "g"):
        a, b = np.asarray(getattr(sharded, name)), np.asarray(getattr(single, name))
        assert a.shape == (n,), a.shape
        assert np.max(np.abs(a - b) / np.abs(b)) < 1e-14, name
    print("OK", len(jax.devices()))
""")


def test_sharded_equals_single_device_in_subprocess():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu")
    result = subprocess.run([sys.executable, "-c", _SHARDING_SCRIPT], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "OK 4" in result.stdout
