"""jaxmie.suspension.mixture: polydisperse hard spheres from the mixture Ornstein-Zernike
equation (Percus-Yevick closure by Baxter's factorisation; the BMCSL-consistent
rational-function approximation, the default), and fit_suspension.

References from outside the code under test: the monodisperse Percus-Yevick closed form
(itself checked against mpmath in test_ensemble.py), the compressibility limit from the
scaled-particle (PY-compressibility) free energy of the mixture written here independently,
the Carnahan-Starling and BMCSL equations of state written here by hand, Baxter's integrals by
Gauss-Legendre quadrature, finite differences, and the molecular-dynamics scattering of Ding,
Tung, Chen & Do (2025) (tests/reference/ding_md_subset.npz, provenance in
tests/reference/README.md).
"""

import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxmie import suspension as S
from jaxmie.distributions import Gamma, LogNormal, Normal, Quadrature, Uniform, Weighted
from jaxmie.suspension import _mixture as M
from jaxmie.suspension import _rational as R

REFERENCE = pathlib.Path(__file__).parent / "reference" / "ding_md_subset.npz"


def _single(radius):
    return Weighted(radii=jnp.array([radius]), weights=jnp.array([1.0]))


@pytest.mark.parametrize("eta", [0.0, 1e-3, 0.2, 0.45, 0.55])
def test_one_component_is_monodisperse_percus_yevick(eta):
    q = jnp.concatenate([jnp.zeros(1), jnp.logspace(-6, 1.5, 60)])
    got = S.mixture(q, _single(0.5), eta, closure="percus_yevick")
    np.testing.assert_allclose(got.structure, S.percus_yevick(q, 1.0, eta), rtol=1e-13)
    np.testing.assert_allclose(got.form, S.sphere_form_factor(q, 0.5), rtol=1e-13, atol=1e-300)
    # two components of the same size are the same fluid
    split = Weighted(radii=jnp.array([0.5, 0.5]), weights=jnp.array([0.3, 0.7]))
    np.testing.assert_allclose(S.mixture(q, split, eta, closure="percus_yevick").structure,
                               got.structure, rtol=1e-12)


def _spt_free_energy(diameters):
    """beta f / V of a hard-sphere mixture whose compressibility route is Percus-Yevick
    (Lebowitz 1964; scaled-particle theory, Reiss, Frisch & Lebowitz 1959): ideal part plus
    (6/pi)[-xi0 ln(1 - xi3) + 3 xi1 xi2 / (1 - xi3) + 3 xi2^3 / (2 (1 - xi3)^2)]."""

    def f(rho):
        xi = [jnp.pi / 6 * jnp.sum(rho * diameters**n) for n in range(4)]
        gap = 1 - xi[3]
        excess = (-xi[0] * jnp.log(gap) + 3 * xi[1] * xi[2] / gap + 1.5 * xi[2] ** 3 / gap**2)
        return jnp.sum(rho * (jnp.log(rho) - 1)) + 6 / jnp.pi * excess

    return f


@pytest.mark.parametrize("eta", [pytest.param(0.05, marks=pytest.mark.slow), 0.3,
                                 pytest.param(0.5, marks=pytest.mark.slow)])
def test_long_wavelength_limit_is_the_mixture_compressibility(eta):
    """S_ij(0) = [sqrt(rho_i rho_j) d^2(beta f)/d rho_i d rho_j]^-1 (Kirkwood-Buff)."""
    diameters = jnp.array([0.6, 0.9, 1.0, 1.4, 2.1])
    fractions = jnp.array([0.1, 0.3, 0.25, 0.2, 0.15])
    density = 6 * eta / (jnp.pi * jnp.sum(fractions * diameters**3))
    rho = density * fractions
    hessian = jax.hessian(_spt_free_energy(diameters))(rho)
    expected = np.linalg.inv(np.sqrt(np.outer(rho, rho)) * np.asarray(hessian))
    matrix = S.baxter_matrix(jnp.zeros(1), diameters, fractions, density)[0]
    inverse = np.linalg.inv(np.asarray(matrix))
    np.testing.assert_allclose(inverse @ inverse.conj().T, expected, rtol=1e-12, atol=1e-14)
    # and the intensity at q = 0 is that limit weighted by the volumes
    dist = Weighted(radii=diameters / 2, weights=fractions)
    v = np.sqrt(np.asarray(fractions)) * np.asarray(diameters / 2) ** 3
    i0 = float(S.mixture(0.0, dist, eta, closure="percus_yevick").intensity)
    np.testing.assert_allclose(i0, v @ expected @ v / np.sum(fractions * (diameters / 2) ** 6),
                               rtol=1e-12)


def test_baxter_matrix_against_numerical_integrals():
    """The closed-form integrals (series below q sigma = 2, closed form above) against
    numerical quadrature of exp(iqr) Q_ij(r) over [(s_i - s_j)/2, s_ij]."""
    diameters = np.array([0.7, 1.0, 1.6])
    fractions = np.array([0.2, 0.5, 0.3])
    eta = 0.35
    density = 6 * eta / (np.pi * np.sum(fractions * diameters**3))
    xi2 = np.pi / 6 * density * np.sum(fractions * diameters**2)
    a = (1 - eta + 3 * xi2 * diameters) / (1 - eta) ** 2
    b = -1.5 * xi2 * diameters**2 / (1 - eta) ** 2
    qs = np.array([1e-5, 0.3, 1.99, 2.01, 2.9, 7.0, 25.0])
    nodes, weights = np.polynomial.legendre.leggauss(200)
    got = np.asarray(S.baxter_matrix(jnp.asarray(qs), jnp.asarray(diameters),
                                     jnp.asarray(fractions), density))
    for n, q in enumerate(qs):
        expected = np.eye(3, dtype=complex)
        for i in range(3):
            for j in range(3):
                s_ij = (diameters[i] + diameters[j]) / 2

                def base(r, i=i, s_ij=s_ij):
                    return 0.5 * a[i] * (r * r - s_ij**2) + b[i] * (r - s_ij)

                lo = (diameters[i] - diameters[j]) / 2
                # polynomial times exp(iqr) over at most 2.1 units at q <= 25: a 200-point
                # Gauss-Legendre rule (numpy) is exact to rounding
                r = lo + (s_ij - lo) * (nodes + 1) / 2
                integral = (s_ij - lo) / 2 * np.sum(weights * np.exp(1j * q * r) * base(r))
                expected[i, j] -= (2 * np.pi * density * np.sqrt(fractions[i] * fractions[j])
                                   * integral)
        np.testing.assert_allclose(got[n], expected, rtol=0, atol=1e-12)



def test_woodbury_solve_is_the_dense_solve():
    """The rank-3 (Woodbury) solve of `mixture` against a dense complex solve with Baxter's
    matrix (itself checked against quadrature above), complex amplitudes, q = 0 included."""
    d = jnp.array([0.8, 0.95, 1.0, 1.1, 1.3])
    x = jnp.array([0.1, 0.2, 0.3, 0.25, 0.15])
    rho = 6 * 0.45 / (np.pi * float(jnp.sum(x * d**3)))
    q = jnp.array([0.0, 0.01, 0.5, 3.0, 7.0, 20.0])
    rng = np.random.default_rng(1)
    f = rng.standard_normal((2, 6, 5)) + 1j * rng.standard_normal((2, 6, 5))

    @jax.jit
    def both(q, d, x, rho, f):
        matrix = S.baxter_matrix(q, d, x, rho)
        y = jnp.linalg.solve(jnp.conj(jnp.swapaxes(matrix, -1, -2)), jnp.moveaxis(f, 0, -1))
        return (M._coherent_intensity(*M._baxter_factors(q, d, x, rho), f),
                jnp.sum(jnp.abs(y) ** 2, axis=(-2, -1)))

    np.testing.assert_allclose(*both(q, d, x, rho, f), rtol=1e-13)

DISTRIBUTIONS = {
    "uniform": Uniform(low=0.35, high=0.65),
    "normal": Normal(mean_radius=0.5, std=0.06),
    "lognormal": LogNormal(median=0.5, sigma=0.12),
    "schulz": Gamma.schulz(0.5, 0.15),
}


@pytest.mark.parametrize("name", ["normal"] + [pytest.param(n, marks=pytest.mark.slow)
                                              for n in ("uniform", "lognormal", "schulz")])
@pytest.mark.parametrize("closure", ["percus_yevick", pytest.param("rfa",
                                                                   marks=pytest.mark.slow)])
def test_default_components_converged(name, closure):
    """The default 64 components against 256 (a 4x finer Nystrom rule) at eta = 0.5 over
    q 2R up to 30: within the 1e-6 stated in the docstring. The structure at large eta is
    the most sensitive (sharpest peaks)."""
    q = jnp.linspace(0.0, 30.0, 151)
    dist = DISTRIBUTIONS[name]
    default = S.mixture(q, dist, 0.5, closure=closure).intensity
    fine = S.mixture(q, dist, 0.5, quadrature=Quadrature(nodes=256), closure=closure).intensity
    np.testing.assert_allclose(default, fine, rtol=1e-6)


@pytest.mark.slow
def test_limits_large_q_dilute_and_many_components():
    q = jnp.linspace(0.0, 60.0, 301)
    dist = LogNormal(median=0.5, sigma=0.15)
    dense = S.mixture(q, dist, 0.45, quadrature=Quadrature(nodes=128))
    assert np.all(np.isfinite(dense.intensity)) and np.all(dense.intensity > 0)
    # S_eff -> 1 at large q (structure lost over the size spread)
    assert abs(float(dense.structure[-1]) - 1) < 0.01
    dilute = S.mixture(q, dist, 0.0)
    np.testing.assert_allclose(dilute.intensity, dilute.form, rtol=1e-14)
    np.testing.assert_allclose(dilute.form[0], 1.0, rtol=1e-14)
    # small eta: first order in eta agrees with the decoupling-free second virial route
    # I = P - eta-term; check the mixture beats decoupling nowhere worse than O(eta^2)
    low = S.mixture(q, dist, 1e-4).intensity
    dec = S.decoupling(q, dist, 1e-4, quadrature=Quadrature(nodes=64)).intensity
    assert float(jnp.max(jnp.abs(low / dilute.intensity - 1))) < 2e-3
    assert float(jnp.max(jnp.abs(low - dec) / dilute.intensity)) < 5e-4


@pytest.mark.parametrize("name", ["uniform"] + [pytest.param(n, marks=pytest.mark.slow)
                                               for n in ("normal", "lognormal")])
def test_derivatives_against_finite_differences(name):
    """d I / d eta, d I / d (distribution width) and d I / d q, central differences."""
    q = jnp.array([0.5, 3.0, 6.5, 9.0, 13.0])
    make = {"uniform": lambda s: Uniform(low=0.5 * (1 - s), high=0.5 * (1 + s)),
            "normal": lambda s: Normal(mean_radius=0.5, std=0.5 * s),
            "lognormal": lambda s: LogNormal(median=0.5, sigma=s)}[name]

    def f(eta, s, qq):
        return S.mixture(qq, make(s), eta, closure="percus_yevick").intensity

    eta, s = 0.35, 0.1
    jac = jax.jit(jax.jacfwd(f, argnums=(0, 1)))(eta, s, q)
    rev = jax.jit(jax.jacrev(f, argnums=(0, 1)))(eta, s, q)
    dq = jax.jit(jax.vmap(jax.grad(f, argnums=2), in_axes=(None, None, 0)))(
        eta, s, q)
    h = 1e-5
    fd = [(f(eta + h, s, q) - f(eta - h, s, q)) / (2 * h),
          (f(eta, s + h, q) - f(eta, s - h, q)) / (2 * h),
          (f(eta, s, q + h) - f(eta, s, q - h)) / (2 * h)]
    scale = np.abs(np.asarray(f(eta, s, q)))
    for got, want in zip((jac[0], jac[1], dq), fd):
        np.testing.assert_allclose(got / scale, want / scale, atol=2e-6)
    np.testing.assert_allclose(rev[0], jac[0], rtol=1e-12)
    np.testing.assert_allclose(rev[1], jac[1], rtol=1e-12)


def test_jit_vmap():
    _check_vmap("percus_yevick")


@pytest.mark.slow
def test_second_derivatives():
    """Second derivatives (PY) against finite differences (~2 min of compilation on CPU)."""
    dist_of = lambda s: Uniform(low=0.5 * (1 - s), high=0.5 * (1 + s))
    g = lambda eta, s: S.mixture(jnp.array(4.0), dist_of(s), eta, quadrature=Quadrature(nodes=8),
                                 closure="percus_yevick").intensity
    check_grads(g, (0.3, 0.08), order=2, modes=("fwd", "rev"), eps=1e-4, rtol=1e-5)


def _check_vmap(closure):
    dist = Uniform(low=0.45, high=0.55)
    quad = Quadrature(nodes=8)
    batch = jax.jit(jax.vmap(lambda e: S.mixture(jnp.array([2.0, 7.0]), dist, e,
                                                 quadrature=quad, closure=closure).intensity))(
        jnp.array([0.1, 0.2]))
    eager = [S.mixture(jnp.array([2.0, 7.0]), dist, e, quadrature=quad,
                       closure=closure).intensity for e in (0.1, 0.2)]
    np.testing.assert_allclose(batch, np.stack(eager), rtol=1e-13)


@pytest.mark.slow
def test_rfa_jit_vmap():
    _check_vmap("rfa")


@pytest.mark.slow
def test_mie_mixture_tends_to_rgd_as_m_tends_to_one():
    radius, wavelength = 240.0, 500.0
    theta = jnp.linspace(0.05, 1.0, 30)
    q = S.scattering_vector(theta, wavelength)
    dist = Gamma.schulz(radius, 0.1)
    quad = Quadrature(nodes=32)
    rgd = S.mixture(q, dist, 0.3, quadrature=quad)
    mie = S.mie_mixture(dist, 1 + 1e-4, wavelength, theta, 0.3, quadrature=quad)
    polarisation = (1 + jnp.cos(theta) ** 2) / 2
    np.testing.assert_allclose(mie.form, rgd.form * polarisation, rtol=2e-3, atol=1e-4)
    np.testing.assert_allclose(mie.structure, rgd.structure, rtol=2e-3)


def test_bad_input_named():
    with pytest.raises(ValueError, match="eta"):
        S.mixture(jnp.array([1.0]), _single(0.5), 1.2)
    with pytest.raises(ValueError, match="closure"):
        S.mixture(jnp.array([1.0]), _single(0.5), 0.2, closure="hnc")
    with pytest.raises(ValueError, match="fixed rule"):
        S.mixture(jnp.array([1.0]), Normal(0.5, 0.05), 0.2, quadrature=Quadrature())
    with pytest.raises(ValueError, match="std"):
        S.mixture(jnp.array([1.0]), Normal(0.5, -0.05), 0.2)
    with pytest.raises(ValueError, match="model"):
        S.fit_suspension(jnp.ones(3), jnp.ones(3), distribution=_single, model="rfa")
    with pytest.raises(ValueError, match="correction must return one value per q"):
        S.fit_suspension(jnp.ones(3), jnp.ones(3), distribution=_single,
                         correction=(lambda w, eta, s: jnp.zeros(4), None))
    with pytest.raises(ValueError, match="structure_diameter"):
        S.decoupling(jnp.array([1.0]), _single(0.5), 0.2, structure_diameter="median")


# ------------------------------------------------------------------------------------------
# Molecular dynamics of Ding, Tung, Chen & Do (2025)
# ------------------------------------------------------------------------------------------

MD_DISTRIBUTIONS = {  # radius R = R0 (1 + sigma u), R0 (1 + sigma z), R0 exp(sigma z); R0 = 0.5
    "uniform": lambda s: Uniform(low=0.5 * (1 - s), high=0.5 * (1 + s)),
    "normal": lambda s: Normal(mean_radius=0.5, std=0.5 * s),
    "lognormal": lambda s: LogNormal(median=0.5, sigma=s),
}


def _percus_yevick_numpy(q, diameter, eta):
    """Monodisperse PY S(q), closed form of Ashcroft & Lekner (1966) in NumPy."""
    a = (1 + 2 * eta) ** 2 / (1 - eta) ** 4
    b = -6 * eta * (1 + eta / 2) ** 2 / (1 - eta) ** 4
    x = q * diameter
    sin, cos = np.sin(x), np.cos(x)
    g = (a * (sin - x * cos) / x**2 + b * (2 * x * sin + (2 - x**2) * cos - 2) / x**3
         + eta * a / 2 * (-x**4 * cos + 4 * ((3 * x**2 - 6) * cos + x * (x**2 - 6) * sin + 6))
         / x**5)
    return 1 / (1 + 24 * eta * g / x)


def _py_beta(q, dist, eta):
    """The authors' baseline (their analyze_PY.py, rewritten in NumPy): PY at R_eff =
    <R^3>^(1/3), times P(Q), beta-corrected; size averages on the distribution's nodes."""
    radii, w = (np.asarray(v) for v in dist.nodes(Quadrature(nodes=64)))
    qr = q[None] * radii[:, None]
    amp = radii[:, None] ** 3 * 3 * (np.sin(qr) - qr * np.cos(qr)) / qr**3
    mean_f2 = np.sum(w[:, None] * amp**2, 0)
    beta = np.sum(w[:, None] * amp, 0) ** 2 / mean_f2
    s = _percus_yevick_numpy(q, 2 * np.sum(w * radii**3) ** (1 / 3), eta)
    return mean_f2 / np.sum(w * radii**6) * (1 + beta * (s - 1))


@pytest.mark.parametrize("name", ["normal"] + [pytest.param(n, marks=pytest.mark.slow)
                                              for n in ("uniform", "lognormal")])
def test_volume_diameter_decoupling_is_the_py_beta_baseline(name):
    q = np.linspace(0.5, 13.0, 40)
    dist = MD_DISTRIBUTIONS[name](0.1)
    got = S.decoupling(jnp.asarray(q), dist, 0.35, quadrature=Quadrature(nodes=64),
                       structure_diameter="volume").intensity
    np.testing.assert_allclose(np.asarray(got), _py_beta(q, dist, 0.35), rtol=1e-12)


def _baseline(q, dist, eta):
    return S.decoupling(q, dist, eta, quadrature=Quadrature(nodes=64),
                        structure_diameter="volume").intensity


@pytest.mark.parametrize("closure", ["percus_yevick", pytest.param("rfa",
                                                                   marks=pytest.mark.slow)])
@pytest.mark.parametrize("name", ["normal"] + [pytest.param(n, marks=pytest.mark.slow)
                                              for n in ("uniform", "lognormal")])
def test_md_error_at_true_parameters(name, closure):
    """Median per-curve MSE of log10 I at the true (eta, sigma), 36 MD curves spanning eta,
    of the mixture (both closures, 24 components) against the authors' PY + beta baseline.

    Measured (18 of these curves, 32 components; RFA / PY mixture / PY + beta / decoupling):
    uniform 6.2e-4 / 5.3e-4 / 7.5e-4 / 9.0e-4, normal 4.9e-4 / 4.4e-4 / 5.8e-4 / 5.9e-4,
    log-normal 4.9e-4 / 4.3e-4 / 6.2e-4 / 7.2e-4. The issue's target (a quarter of PY + beta)
    is NOT met. It is not the particles' softness: the simulated potential (a Lennard-Jones
    core cut at s_ij, epsilon / kT = 100) has a Barker-Henderson diameter 0.99959 s_ij
    (test_barker_henderson_diameter): with it the PY mixture's log10 I moves by < 3e-3 and
    its median MSE on 60 normal-set curves from 4.78e-4 to 4.85e-4. (A hard_core of 1.03,
    fitted, halves the PY mixture's error below eta ~ 0.35 and raises it above: a fudge, not
    a property of the particles.) What is asserted is the measured gain.
    """
    data = np.load(REFERENCE)
    q = jnp.asarray(data["q"])
    params = data[f"{name}_params"]
    y = data[f"{name}_log10Iq"].astype(float)
    make = MD_DISTRIBUTIONS[name]
    quad = Quadrature(nodes=24)
    eta, sigma = jnp.asarray(params[:, 0]), jnp.asarray(params[:, 1])

    def median_mse(model):
        one = jax.jit(lambda e, s: jnp.log10(model(e, s)))
        curves = np.stack([np.asarray(one(e, s)) for e, s in zip(eta, sigma)])
        return np.median(np.mean((curves - y) ** 2, axis=1))

    got = median_mse(lambda e, s: S.mixture(q, make(s), e, quadrature=quad,
                                            closure=closure).intensity)
    baseline = median_mse(lambda e, s: _baseline(q, make(s), e))
    assert got < {"percus_yevick": 0.85, "rfa": 0.95}[closure] * baseline, (got, baseline)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MD_DISTRIBUTIONS))
def test_md_fit_recovers_parameters(name):
    """fit_suspension(model='mixture') on the 36 MD curves at once: RMSE of eta and sigma.

    Measured (PY closure, 24 components), RMSE of eta / sigma: uniform 0.0079 / 0.0031,
    normal 0.0062 / 0.0007, log-normal 0.0062 / 0.0012 (the issue's target 0.004 / 0.002:
    eta not met, sigma met but for the uniform set, whose polydispersity reaches 0.3; the eta
    error is the model's systematic one, see test_md_error_at_true_parameters; through a
    learned correction, notebooks/suspension_md.ipynb, eta 0.0006-0.0007).
    """
    data = np.load(REFERENCE)
    q = data["q"]
    params = data[f"{name}_params"]
    target = 10.0 ** data[f"{name}_log10Iq"].astype(float)
    fit = S.fit_suspension(q, target, distribution=MD_DISTRIBUTIONS[name], model="mixture",
                           polydispersity_range=(1e-4, 0.4))
    rmse_eta = float(np.sqrt(np.mean((np.asarray(fit.eta) - params[:, 0]) ** 2)))
    rmse_sigma = float(np.sqrt(np.mean((np.asarray(fit.polydispersity) - params[:, 1]) ** 2)))
    assert np.all(np.isfinite(fit.eta_std)) and np.all(fit.eta_std > 0)
    assert rmse_eta < 0.01 and rmse_sigma < 0.004, (rmse_eta, rmse_sigma)


# ------------------------------------------------------------------------------------------
# The rational-function approximation (the default closure)
# ------------------------------------------------------------------------------------------

MIX_DIAMETERS = jnp.array([0.6, 0.9, 1.0, 1.4, 2.1])
MIX_FRACTIONS = jnp.array([0.1, 0.3, 0.25, 0.2, 0.15])


def _bmcsl_inverse_compressibility(diameters, fractions, eta):
    """d(beta p)/d rho at fixed composition of the BMCSL equation of state, by hand:
    beta p = (6/pi)[xi0/D + 3 xi1 xi2/D^2 + (3 - xi3) xi2^3/D^3], D = 1 - xi3, xi_n ~ rho."""
    rho = 6 * eta / (np.pi * np.sum(fractions * diameters**3))
    xi = [np.pi / 6 * rho * np.sum(fractions * diameters**n) for n in range(4)]
    d = 1 - xi[3]
    # each xi_n is linear in rho: rho d/d rho = sum_n xi_n d/d xi_n
    dp = (xi[0] / d + xi[0] * xi[3] / d**2 + 6 * xi[1] * xi[2] / d**2
          + 6 * xi[1] * xi[2] * xi[3] / d**3 + 3 * (3 - xi[3]) * xi[2] ** 3 / d**3
          - xi[2] ** 3 * xi[3] / d**3 + 3 * (3 - xi[3]) * xi[2] ** 3 * xi[3] / d**4)
    return 6 / np.pi * dp / rho


@pytest.mark.slow  # the default run keeps the mixture's BMCSL test below
@pytest.mark.parametrize("eta", [0.0, 0.2, 0.5])
def test_rfa_one_component_is_carnahan_starling(eta):
    """One component: S(0) is the Carnahan-Starling compressibility, the contact value of
    2 pi s^2 G(s) at large s is CS's (1 - eta/2)/(1 - eta)^3, and S(q) is continuous across
    the switch to the Taylor series (q sigma = 0.02)."""
    q = jnp.array([0.0, 1e-3, 0.0199999, 0.0200001, 1.0, 7.0])
    got = S.mixture(q, _single(0.5), eta)
    cs = (1 - eta) ** 4 / (1 + 4 * eta + 4 * eta**2 - 4 * eta**3 + eta**4)
    np.testing.assert_allclose(got.structure[0], cs, rtol=1e-12)
    np.testing.assert_allclose(got.structure[2], got.structure[3], rtol=1e-8)
    sigma, rho = jnp.array([1.0]), jnp.array([6 * eta / np.pi])
    alpha = R.rfa_alpha(sigma, rho)
    ls = R._coefficients(sigma, rho, alpha)

    def contact(s):  # 2 pi s^2 G(s) e^{s sigma} / (2 pi s) = sigma g(sigma+) + O(1/s)
        b = (1 + alpha * s) - R._a_matrix(R._phis(s * sigma), sigma, rho, ls)
        return ((ls[0] + ls[1] * s + ls[2] * s**2) / b)[0, 0] / (2 * np.pi * s)

    richardson = 2 * contact(2e5) - contact(1e5)
    np.testing.assert_allclose(richardson, (1 - eta / 2) / (1 - eta) ** 3, rtol=1e-7)


@pytest.mark.parametrize("eta", [pytest.param(0.1, marks=pytest.mark.slow),
                                 pytest.param(0.3, marks=pytest.mark.slow), 0.5])
def test_rfa_mixture_compressibility_and_contact_values_are_bmcsl(eta):
    """The total compressibility of the mixture is BMCSL's, the RFA contact values give
    BMCSL's pressure through the virial route, and with alpha = 0 the RFA is Baxter's PY."""
    d, x = MIX_DIAMETERS, MIX_FRACTIONS
    rho = 6 * eta / (np.pi * float(jnp.sum(x * d**3)))
    rho_i = rho * x
    alpha = R.rfa_alpha(d, rho_i)
    s0 = jnp.eye(5) - 2 * jnp.sqrt(jnp.outer(rho_i, rho_i)) * R.rfa_series(d, rho_i, alpha)[3]
    inverse = float(jnp.sqrt(x) @ jnp.linalg.solve(s0, jnp.sqrt(x)))
    np.testing.assert_allclose(inverse, _bmcsl_inverse_compressibility(np.asarray(d),
                                                                       np.asarray(x), eta),
                               rtol=1e-11)
    # virial route: beta p / rho = 1 + (2 pi / 3) rho sum x_i x_j sigma_ij^3 g_ij
    s_ij = (d[:, None] + d[None, :]) / 2
    virial = 1 + 2 * np.pi / 3 * rho * float(jnp.sum(jnp.outer(x, x) * s_ij**3
                                                      * R.contact_values(d, rho_i)))
    xi = [np.pi / 6 * rho * float(jnp.sum(x * d**n)) for n in range(4)]
    bmcsl = 6 / np.pi * (xi[0] / (1 - xi[3]) + 3 * xi[1] * xi[2] / (1 - xi[3]) ** 2
                         + (3 - xi[3]) * xi[2] ** 3 / (1 - xi[3]) ** 3) / rho
    np.testing.assert_allclose(virial, bmcsl, rtol=1e-13)
    # alpha = 0: the RFA machinery is the Percus-Yevick solution (Baxter's factorisation)
    q = jnp.array([0.01, 0.5, 3.0, 7.0, 20.0])
    f = jax.random.normal(jax.random.PRNGKey(1), (1, 5, 5))
    py = M._coherent_intensity(*M._baxter_factors(q, d, x, rho), f)
    # (rtol: q sigma_max = 0.021 is just above the switch, where the RFA's quotient keeps ~11
    # digits, as documented)
    np.testing.assert_allclose(R.rfa_coherent(q, d, rho_i, f, alpha=0.0), py, rtol=1e-10)
    # and the q = 0 intensity of `mixture` is the one of S(0)
    dist = Weighted(radii=d / 2, weights=x)
    v = np.sqrt(np.asarray(x)) * np.asarray(d / 2) ** 3
    np.testing.assert_allclose(float(S.mixture(0.0, dist, eta).intensity),
                               v @ np.asarray(s0) @ v / np.sum(x * (d / 2) ** 6), rtol=1e-12)


@pytest.mark.slow
def test_rfa_derivatives_against_finite_differences():
    """d I / d eta and d I / d sigma through the implicit alpha, central differences (a
    uniform distribution: its nodes move linearly with the width, so the discrete model is
    differentiated exactly at any number of nodes)."""
    q = jnp.array([0.5, 3.0, 6.5, 9.0, 13.0])
    quad = Quadrature(nodes=16)

    def f(eta, s):
        dist = Uniform(low=0.5 * (1 - s), high=0.5 * (1 + s))
        return S.mixture(q, dist, eta, quadrature=quad).intensity

    eta, s, h = 0.4, 0.08, 1e-5
    jac = jax.jit(jax.jacfwd(f, argnums=(0, 1)))(eta, s)
    rev = jax.jit(jax.jacrev(f, argnums=(0, 1)))(eta, s)
    fd = [(f(eta + h, s) - f(eta - h, s)) / (2 * h), (f(eta, s + h) - f(eta, s - h)) / (2 * h)]
    scale = np.abs(np.asarray(f(eta, s)))
    for n in range(2):
        np.testing.assert_allclose(jac[n] / scale, fd[n] / scale, atol=2e-6)
        np.testing.assert_allclose(rev[n], jac[n], rtol=1e-10, atol=1e-14)


_TRACES = []


def _counted_normal(s):
    _TRACES.append(s)  # runs only while a fit is traced (compiled)
    return Normal(mean_radius=0.5, std=0.5 * s)


@pytest.mark.slow
def test_fit_compiles_once_per_shape():
    """Two fits of different curves, of the same shape, with distribution lambdas written
    anew for each call (~50 s of compilation on 2 loaded cores): the second traces nothing
    (counted by a side effect in the distribution, which runs only while tracing), and both
    recover their parameters."""
    q = jnp.linspace(3.0, 13.0, 12)
    quad = Quadrature(nodes=4)

    def curves(etas):
        return np.stack([S.mixture(q, Normal(0.5, 0.5 * 0.06), e, quadrature=quad,
                                   closure="percus_yevick").intensity for e in etas])

    def fit(etas):
        return S.fit_suspension(q, curves(etas), distribution=lambda s: _counted_normal(s),
                                quadrature=quad, steps=8)

    first = fit([0.1, 0.3, 0.45])
    traced = len(_TRACES)
    second = fit([0.2, 0.35, 0.4])
    assert traced > 0 and len(_TRACES) == traced
    np.testing.assert_allclose(second.eta, [0.2, 0.35, 0.4], rtol=1e-6)
    np.testing.assert_allclose(first.polydispersity, 0.06, rtol=1e-5)


_CORRECTED_Q = jnp.linspace(3.0, 13.0, 12)


def _offset(weights, eta, s):
    """A made-up correction of log10 I on _CORRECTED_Q."""
    return weights["a"] * eta * jnp.cos(_CORRECTED_Q) + weights["b"] * s


@pytest.mark.slow
def test_fit_with_a_correction_recovers_its_own_curves():
    """Curves made by the PY mixture times 10 ** correction (an offset that is not a change
    of eta or sigma) are fitted exactly with that correction, and a retrained correction
    (other weights) reuses the compilation."""
    q = _CORRECTED_Q
    quad = Quadrature(nodes=4)
    truth = np.array([[0.15, 0.04], [0.3, 0.08], [0.42, 0.06]])
    weights = {"a": jnp.asarray(0.2), "b": jnp.asarray(-0.5)}

    def curves(w):
        return np.stack([S.mixture(q, Normal(0.5, 0.5 * s), e, quadrature=quad,
                                   closure="percus_yevick").intensity
                         * 10.0 ** _offset(w, e, s) for e, s in truth])

    def fit(w):
        return S.fit_suspension(q, curves(w), distribution=_counted_normal, quadrature=quad,
                                correction=(_offset, w), steps=10)

    first = fit(weights)
    traced = len(_TRACES)
    second = fit({"a": jnp.asarray(-0.1), "b": jnp.asarray(0.3)})
    assert len(_TRACES) == traced
    for result in (first, second):
        np.testing.assert_allclose(result.eta, truth[:, 0], rtol=1e-6)
        np.testing.assert_allclose(result.polydispersity, truth[:, 1], rtol=1e-5)


def test_fit_compilation_key_is_the_problem_not_the_call():
    """The cheap half of the test above: what keys the compiled fit. Lambdas written anew
    with equal code and closure values share one residual function (the static argument of
    the jitted fit), other closure values do not, hard_core is not part of it, and any number
    of curves is cut into batches of one shape."""
    from jaxmie.suspension import _fit as F

    def family(scale):
        return lambda s: Normal(mean_radius=0.5, std=scale * s)

    quad = Quadrature(nodes=4)
    one = F._residual("mixture", family(0.5), quad, "percus_yevick")
    assert F._residual("mixture", family(0.5), quad, "percus_yevick") is one
    assert F._residual("mixture", family(0.6), quad, "percus_yevick") is not one
    assert F._residual("mixture", family(0.5), quad, "rfa") is not one
    for n, size in ((300, 64), (36, 48), (1000, 64), (5, 6)):
        assert F._chunk(n, 64) == size
        assert size * -(-n // size) < 4 / 3 * n + 1  # padding under a third


def test_barker_henderson_diameter():
    """d_BH / s against scipy's adaptive quadrature (the cut Lennard-Jones core of Ding et
    al.'s simulations, beta epsilon = 100, and a WCA potential, beta epsilon = 1), a linear
    ramp in closed form, hard spheres (beta u = inf), and its derivative against a finite
    difference."""
    from scipy.integrate import quad

    c, a = 2 ** (-1 / 6), 50.0
    potentials = [lambda x: 400.0 * (x**-12 - x**-6),
                  lambda x: 4 * ((c / x) ** 12 - (c / x) ** 6) + 1,
                  lambda x: a * (1 - x),
                  lambda x: jnp.full_like(x, jnp.inf)]
    got = jax.jit(lambda: jnp.stack([S.barker_henderson_diameter(u) for u in potentials]))()
    expected = [1 - quad(lambda x, u=u: np.exp(-u(x)), 0.3, 1.0, points=[0.99, 0.999, 0.9999],
                         epsabs=1e-15, epsrel=1e-13, limit=200)[0] for u in potentials[:2]]
    np.testing.assert_allclose(got, expected + [1 - (1 - np.exp(-a)) / a, 1.0], rtol=1e-13)
    d = jax.jit(jax.value_and_grad(
        lambda be: S.barker_henderson_diameter(lambda x: 4 * be * (x**-12 - x**-6))))
    h = 1e-3
    np.testing.assert_allclose(d(100.0)[1], (d(100.0 + h)[0] - d(100.0 - h)[0]) / (2 * h),
                               rtol=1e-6)
