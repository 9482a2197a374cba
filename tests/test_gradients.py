"""Derivatives: custom rules, check_grads (orders 1-2, fwd and rev), finite differences.

Finite differences use the five-point central stencil with a step of 1e-3 times the
parameter's scale over (1 + x), x the outer size parameter (spectra oscillate on a scale
~1/x): truncation error ~1e-12, rounding ~1e-13 / 1e-3 relative, so the comparisons allow
1e-6 of the largest derivative.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import jaxmie as jm
from jaxmie import _special as special

# second-order check_grads compiles several programs per argument (12-27 s each on 2 cores)
ARGUMENTS = [1e-3 + 0j, pytest.param(0.7 + 0.01j, marks=pytest.mark.slow),
             pytest.param(3.0 + 0j, marks=pytest.mark.slow),
             np.pi + 0j, pytest.param(12.0 + 4.0j, marks=pytest.mark.slow), 2.0 + 30.0j]


@pytest.mark.parametrize("z", ARGUMENTS)
def test_riccati_bessel_rules_match_numerical_derivatives(z):
    """The custom rules against numerical differentiation of the values (check_grads),
    orders 1 and 2, forward and reverse, including z = pi where psi_0 vanishes."""
    f = lambda z: jax.tree.map(jnp.asarray, special.riccati_bessel(z, 12))
    check_grads(f, (jnp.asarray(z),), order=2, modes=("fwd", "rev"), eps=1e-5 * abs(z),
                rtol=1e-5)


def test_log_derivative_rule_is_the_analytic_identity():
    """dD1_n/dz = n(n+1)/z^2 - 1 - D1_n^2, independently of the rule's implementation:
    D1_n(z) = psi_{n-1}/psi_n - n/z from SciPy's spherical Bessel functions (real z)."""
    from scipy.special import spherical_jn

    z = 2.7
    n = np.arange(1, 11)
    psi = lambda k, z: z * spherical_jn(k, z)
    d1 = lambda z: psi(n - 1, z) / psi(n, z) - n / z
    h = 1e-5
    numeric = (d1(z + h) - d1(z - h)) / (2 * h)
    _, tangent = jax.jvp(lambda z: special.riccati_bessel(z, 10).d1,
                         (jnp.asarray(z + 0j),), (jnp.asarray(1.0 + 0j),))
    np.testing.assert_allclose(np.real(tangent), numeric, rtol=1e-8)


def efficiency_vector(params, wavelength=550.0, n_max=None):
    """Q_ext, Q_sca, Q_abs, Q_back, Q_fwd, g of a core-shell particle from real parameters:
    r_core, r_shell (nm), n_core, k_core, n_shell, k_shell, wavelength (nm), n_env."""
    rc, rs, nc, kc, ns, ks, wl, n_env = params
    p = jm.CoreShell(r_core=rc, r_shell=rs, n_core=nc + 1j * kc, n_shell=ns + 1j * ks)
    e = jm.efficiencies(p, wl, n_env=n_env, n_max=n_max)
    return jnp.stack([e.q_ext, e.q_sca, e.q_abs, e.q_back, e.q_fwd, e.g])


REGIMES = {
    "dielectric": [40.0, 90.0, 2.0, 0.05, 1.5, 0.0, 550.0, 1.0],
    "small": [0.2, 0.5, 1.7, 0.1, 1.4, 0.01, 550.0, 1.33],
    "metal-shell": [45.0, 50.0, 1.45, 0.0, 0.2, 3.0, 600.0, 1.0],
    "metal-core": [30.0, 80.0, 0.3, 4.0, 2.2, 0.0, 500.0, 1.33],
    "large": [1500.0, 2000.0, 1.33, 1e-4, 1.5, 0.01, 500.0, 1.0],
    "resonant-si": [60.0, 75.0, 3.9, 0.02, 3.5, 0.01, 640.0, 1.0],
}


@pytest.mark.parametrize("regime", REGIMES)
def test_gradients_match_finite_differences(regime):
    # k >= 0.01: a difference step below k = 0 would be a gain medium (a runtime error)
    params = jnp.asarray(REGIMES[regime]).at[jnp.array([3, 5])].max(0.01)
    x = 2 * np.pi * float(params[1]) * float(params[7]) / float(params[6])
    n_max = jm.n_max_for(x) + 8
    f = jax.jit(lambda p: efficiency_vector(p, n_max=n_max))
    jac = jax.jacrev(f)(params)
    jac_fwd = jax.jacfwd(f)(params)
    np.testing.assert_allclose(jac, jac_fwd, rtol=1e-10, atol=1e-12 * float(jnp.max(jnp.abs(jac))))
    scale = jnp.abs(params) + 0.1
    for i in range(params.shape[0]):
        h = 1e-3 * float(scale[i]) / (1 + x)
        at = lambda k: f(params.at[i].add(k * h))
        numeric = (at(-2) - 8 * at(-1) + 8 * at(1) - at(2)) / (12 * h)
        tol = 1e-6 * float(jnp.max(jnp.abs(jac[:, i]))) + 1e-12 * float(jnp.max(jnp.abs(f(params))))
        np.testing.assert_allclose(jac[:, i], numeric, atol=tol, err_msg=f"parameter {i}")


# Each second-order check compiles eight programs of the whole solver (40-180 s on 2 cores);
# the default run checks second order through test_hessian_matches_differences_of_gradients.
@pytest.mark.slow
@pytest.mark.parametrize("regime", ["metal-shell", "dielectric", "small"])
def test_check_grads_second_order(regime):
    # check_grads steps every parameter both ways: keep k > 0 so no step is a gain medium.
    params = jnp.asarray(REGIMES[regime]).at[jnp.array([3, 5])].max(0.01)
    # Jitted: check_grads re-evaluates every transformation many times; eagerly that costs
    # op-by-op dispatch, under jit one compilation each.
    f = jax.jit(lambda p: efficiency_vector(p, n_max=16))
    check_grads(f, (params,), order=2, modes=("fwd", "rev"), eps=1e-4, rtol=2e-5)


@pytest.mark.slow  # second order stays in the default run: check_grads(order=2) above, and
# test_native.py::test_gradient_and_hessian_through_efficiencies
def test_hessian_matches_differences_of_gradients():
    """The Hessian of Q_sca (reverse over reverse) is finite, symmetric, and its columns
    match five-point central differences of the gradient (itself checked against
    differences of the values in test_gradients_match_finite_differences)."""
    # k > 0, so that no difference step makes a gain medium
    params = jnp.asarray(REGIMES["metal-shell"]).at[jnp.array([3, 5])].max(0.01)
    q_sca = lambda p: efficiency_vector(p, n_max=16)[1]
    hess = jax.jit(jax.hessian(q_sca))(params)
    assert bool(jnp.all(jnp.isfinite(hess)))
    scale = float(jnp.max(jnp.abs(hess)))
    np.testing.assert_allclose(hess, hess.T, rtol=1e-9, atol=1e-12 * scale)
    grad = jax.jit(jax.grad(q_sca))
    for i in range(params.shape[0]):
        h = 1e-3 * (abs(float(params[i])) + 0.1)
        at = lambda k: grad(params.at[i].add(k * h))
        numeric = (at(-2) - 8 * at(-1) + 8 * at(1) - at(2)) / (12 * h)
        np.testing.assert_allclose(hess[:, i], numeric, atol=1e-6 * scale,
                                   err_msg=f"parameter {i}")


def test_gradient_with_respect_to_angle():
    p = jm.Sphere(radius=120.0, n=1.6 + 0.02j)

    def s11(theta):
        return jm.mueller_matrix(p, 500.0, theta, n_max=16).s11

    theta = jnp.array([0.0, 0.3, 1.2, 2.9, np.pi])
    grad = jax.jit(jax.vmap(jax.grad(s11)))(theta)
    assert bool(jnp.all(jnp.isfinite(grad)))
    # S11 is even in theta about 0 and pi: its derivative vanishes there.
    assert abs(float(grad[0])) < 1e-9 * float(s11(0.0)) and abs(float(grad[-1])) < 1e-9 * float(
        s11(0.0))
    h = 1e-6
    numeric = (jax.vmap(s11)(theta[1:4] + h) - jax.vmap(s11)(theta[1:4] - h)) / (2 * h)
    np.testing.assert_allclose(grad[1:4], numeric, rtol=1e-6)
    check_grads(jax.jit(s11), (jnp.asarray(0.7),), order=2, modes=("fwd", "rev"))


STRESS = {
    "x=1e-6": jm.Sphere(radius=1e-6 * 500 / (2 * np.pi), n=1.5 + 0.1j),
    "m->1": jm.Sphere(radius=80.0, n=1.0 + 1e-9),
    "m=1": jm.Sphere(radius=80.0, n=1.0 + 0j),
    "zero-thickness shell": jm.CoreShell(r_core=50.0, r_shell=50.0, n_core=2.0, n_shell=0.2 + 3j),
    "core=shell": jm.CoreShell(r_core=30.0, r_shell=60.0, n_core=1.7 + 0.1j,
                               n_shell=1.7 + 0.1j),
    "|Im mx|=1000": jm.Sphere(radius=80.0, n=1.0 + 1000 * 500 / (2 * np.pi * 80)),
    "thick absorbing shell": jm.CoreShell(r_core=100.0, r_shell=2000.0, n_core=1.5,
                                          n_shell=0.1 + 40j),
}


@pytest.mark.parametrize("name", STRESS)
def test_gradients_finite_in_stress_regimes(name):
    particle = STRESS[name]

    def loss(p):
        e = jm.efficiencies(p, 500.0, n_max=64)
        s1, s2 = jm.amplitudes(p, 500.0, jnp.array([0.0, 1.0, np.pi]), n_max=64)
        return e.q_ext + e.q_sca + e.q_back + e.g + jnp.sum(jnp.abs(s1) ** 2 + jnp.abs(s2) ** 2)

    value = loss(particle)
    grads = jax.grad(loss)(particle)
    leaves = jax.tree_util.tree_leaves(grads)
    assert np.isfinite(float(value))
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in leaves), grads


def test_gradient_through_a_blocked_cpu_batch_matches_finite_differences():
    """Batches longer than one CPU block run through lax.map in blocks; their derivative
    takes the vectorised rule. Gradients of the first, a block-boundary and the last
    sphere (in the partial last block) against five-point central differences of the
    forward pass (h = 1e-4 nm: truncation and rounding error both below 1e-8)."""
    from jaxmie import _batching

    count = _batching.BLOCK_SIZE + 5
    radius = jnp.linspace(20.0, 300.0, count)
    forward = lambda r: jm.efficiencies(jm.Sphere(radius=r, n=1.6 + 0.02j), 550.0,
                                        n_max=16).q_sca
    gradient = jax.jit(jax.grad(lambda r: jnp.sum(forward(r))))(radius)
    h = 1e-4
    for i in (0, _batching.BLOCK_SIZE - 1, count - 1):
        r = radius[i]
        one = lambda r: forward(jnp.atleast_1d(r))[0]
        difference = (one(r - 2 * h) - 8 * one(r - h) + 8 * one(r + h) - one(r + 2 * h)) / (12 * h)
        np.testing.assert_allclose(gradient[i], difference, rtol=1e-7)
