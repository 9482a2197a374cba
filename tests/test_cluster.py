"""Coupled-dipole clusters (jaxmie.cluster): Mie limit, independence, energy balance,
reciprocity, solvers, gradients, and a full multipole T-matrix reference (treams)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmie as jm
from jaxmie import cluster as cl
from jaxmie._particles import layer_indices, layer_radii

WL = 500.0


def _k(wl=WL, n_env=1.0):
    return 2 * np.pi * n_env / wl


def _absorbing_cluster(n=5, seed=0):
    """n core-shell spheres (metal core, dielectric shell) well apart, in water."""
    rng = np.random.default_rng(seed)
    particles = jm.CoreShell(r_core=jnp.asarray(rng.uniform(10, 20, n)),
                             r_shell=jnp.asarray(rng.uniform(30, 40, n)),
                             n_core=0.2 + 3.0j, n_shell=1.5 + 0.01j)
    positions = jnp.asarray(np.array([[120.0 * i, 30.0 * (i % 2), -40.0 * (i % 3)]
                                      for i in range(n)]) + rng.uniform(-10, 10, (n, 3)))
    return particles, positions


def test_one_particle_is_mie_dipole_terms():
    p = jm.CoreShell(r_core=jnp.array([20.0]), r_shell=jnp.array([40.0]),
                     n_core=0.2 + 3.0j, n_shell=1.5 + 0.01j)
    for n_env in (1.0, 1.33):
        a, b = jm.coefficients(p, WL, n_env)
        a1, b1 = a[0, 0], b[0, 0]
        k = _k(WL, n_env)
        ext = 6 * np.pi / k ** 2 * np.real(a1 + b1)
        sca = 6 * np.pi / k ** 2 * (abs(a1) ** 2 + abs(b1) ** 2)
        for d, e in [((0, 0, 1), (1, 0, 0)), ((1, 1, 0), (0, 0, 1j)), ((0, 1, 1), (1, 1j, -1j))]:
            xs = cl.cross_sections(cl.solve(p, jnp.zeros((1, 3)), WL, n_env, d, e, lmax=1))
            np.testing.assert_allclose(xs.ext, ext, rtol=1e-12)
            np.testing.assert_allclose(xs.sca, sca, rtol=1e-12)
            np.testing.assert_allclose(xs.abs, ext - sca, rtol=1e-12)


def test_distant_particles_scatter_independently():
    p = jm.Sphere(radius=jnp.array([20.0, 20.0]), n=1.5 + 0.1j)
    one = jm.Sphere(radius=jnp.array([20.0]), n=1.5 + 0.1j)
    single = cl.cross_sections(cl.solve(one, jnp.zeros((1, 3)), WL, lmax=1)).ext
    for distance, tol in [(1e5, 1e-6), (1e6, 1e-7)]:
        pos = jnp.array([[0.0, 0.0, 0.0], [distance, 0.0, 0.0]])
        xs = cl.cross_sections(cl.solve(p, pos, WL, lmax=1))
        np.testing.assert_allclose(xs.ext, 2 * single, rtol=tol)


def _sphere_quadrature(n_theta=64, n_phi=128):
    u, w = np.polynomial.legendre.leggauss(n_theta)
    phi = 2 * np.pi * np.arange(n_phi) / n_phi
    sin = np.sqrt(1 - u ** 2)
    dirs = np.stack([sin[:, None] * np.cos(phi), sin[:, None] * np.sin(phi),
                     np.broadcast_to(u[:, None], (n_theta, n_phi))], -1)
    weights = np.broadcast_to(w[:, None] * (2 * np.pi / n_phi), (n_theta, n_phi))
    return jnp.asarray(dirs.reshape(-1, 3)), jnp.asarray(weights.reshape(-1))


def test_energy_balance_against_far_field_integral():
    particles, positions = _absorbing_cluster()
    dirs, weights = _sphere_quadrature()
    for d, e in [((0, 0, 1), (1, 0, 0)), ((0.3, -0.2, 1), (0, 1, 0.2j))]:
        sol = cl.solve(particles, positions, WL, 1.33, d, e, lmax=1)
        xs = cl.cross_sections(sol)
        f = cl.far_field(sol, dirs)
        sca_integral = jnp.sum(weights * jnp.sum(jnp.abs(f) ** 2, -1))
        assert xs.abs > 0.1 * xs.ext  # a meaningful balance
        np.testing.assert_allclose(sca_integral, xs.ext - xs.abs, rtol=1e-6)
        # optical theorem from the forward amplitude
        k = _k(WL, 1.33)
        forward = cl.far_field(sol, sol.direction[None])[0]
        np.testing.assert_allclose(4 * np.pi / k * jnp.imag(
            jnp.sum(jnp.conj(sol.polarization) * forward)), xs.ext, rtol=1e-12)


def test_green_tensor_reciprocity():
    rng = np.random.default_rng(1)
    r = jnp.asarray(rng.normal(size=(10, 3)) * 100)
    k = _k()
    g, c = cl.green_tensors(r, k)
    g_minus, c_minus = cl.green_tensors(-r, k)
    np.testing.assert_allclose(g, jnp.swapaxes(g, -1, -2), atol=0, rtol=1e-15)
    np.testing.assert_allclose(g_minus, g, rtol=1e-15)
    np.testing.assert_allclose(c_minus, -c, rtol=1e-15)
    np.testing.assert_allclose(c, -jnp.swapaxes(c, -1, -2), rtol=1e-15)
    # whole coupling matrix: A^T = P A P with P = diag(1, -1) on (E, H)
    a = cl.interaction_matrix(r, k)
    p = jnp.repeat(jnp.array([1.0, -1.0]), 30)
    np.testing.assert_allclose(a.T, p[:, None] * a * p[None], rtol=1e-13, atol=1e-20)
    # G is the field of a point dipole: a far-field check of the 1/R^3 terms' sign
    far = jnp.array([[0.0, 0.0, 1e7]])
    g_far, _ = cl.green_tensors(far, k)
    np.testing.assert_allclose(g_far[0, 0, 0] * 4 * np.pi * 1e7 / jnp.exp(1j * k * 1e7), 1,
                               atol=1e-5)


def test_scattering_amplitude_reciprocity():
    # e_s . F(n_s; d_i, e_i) = e_i . F(-d_i; -n_s, e_s)  (Saxon)
    particles, positions = _absorbing_cluster(4, seed=2)
    d_i, e_i = jnp.array([0.0, 0.6, 0.8]), jnp.array([1.0, 0.0, 0.0])
    n_s, e_s = jnp.array([0.8, 0.0, 0.6]), jnp.array([0.6, 0.0, -0.8])
    f1 = cl.far_field(cl.solve(particles, positions, WL, 1.0, d_i, e_i, lmax=1), n_s[None])[0]
    f2 = cl.far_field(cl.solve(particles, positions, WL, 1.0, -n_s, e_s, lmax=1), -d_i[None])[0]
    np.testing.assert_allclose(jnp.sum(e_s * f1), jnp.sum(e_i * f2), rtol=1e-12)


def test_dense_and_gmres_agree_values_and_gradients():
    particles, positions = _absorbing_cluster(8, seed=3)
    positions = positions * 0.6  # closer: stronger coupling

    def ext(positions, method):
        sol = cl.solve(particles, positions, WL, 1.33, (0, 0, 1), (1, 0, 0),
                       method=method, n_max=8, lmax=1)
        return cl.cross_sections(sol).ext

    solve = jax.jit(cl.solve, static_argnames=("method", "n_max", "lmax"))
    dense = solve(particles, positions, WL, 1.33, method="dense", n_max=8, lmax=1)
    it = solve(particles, positions, WL, 1.33, method="gmres", n_max=8, lmax=1)
    np.testing.assert_allclose(it.p, dense.p, rtol=1e-8, atol=1e-8 * jnp.abs(dense.p).max())
    np.testing.assert_allclose(it.m, dense.m, rtol=1e-8, atol=1e-8 * jnp.abs(dense.m).max())
    g_dense = jax.jit(jax.grad(ext), static_argnums=1)(positions, "dense")
    g_it = jax.jit(jax.grad(ext), static_argnums=1)(positions, "gmres")
    np.testing.assert_allclose(g_it, g_dense, rtol=1e-7, atol=1e-8 * jnp.abs(g_dense).max())


def _relative_residual(sol, wl, n_env):
    """||M x - b|| / ||b|| from the dense coupling matrix, in NumPy (local fields x)."""
    k = _k(wl, n_env)
    pol = sol.polarizabilities
    n = sol.positions.shape[0]
    alpha = np.repeat(np.concatenate([pol.alpha_e, pol.alpha_m]), 3)
    matrix = np.eye(6 * n) - np.asarray(cl.interaction_matrix(sol.positions, k)) * alpha
    phase = np.exp(1j * k * np.asarray(sol.positions) @ np.asarray(sol.direction))[:, None]
    e = np.asarray(sol.polarization)
    b = np.concatenate([(e * phase).ravel(), (np.cross(sol.direction, e) * phase).ravel()])
    x = np.concatenate([np.asarray(sol.e_local).ravel(), np.asarray(sol.h_local).ravel()])
    return np.linalg.norm(matrix @ x - b) / np.linalg.norm(b)


def test_solution_reports_residual_and_convergence():
    particles, positions = _absorbing_cluster(8, seed=3)
    positions = positions * 0.6  # strong coupling: GMRES needs several Krylov vectors
    solve = jax.jit(cl.solve, static_argnames=("method", "n_max", "restart", "maxiter", "lmax"))
    args = (particles, positions, WL, 1.33)
    dense = solve(*args, method="dense", n_max=8, lmax=1)
    assert dense.converged and dense.residual < 1e-14
    converged = solve(*args, method="gmres", n_max=8, lmax=1)
    assert converged.converged and converged.residual <= 1e-12
    # Stopped after one restart of 3 Krylov vectors, vmapped over the spacing: close
    # together the residual stays far above tol; far apart the coupling is ~1e-6 per
    # product, so 3 vectors reach it.
    batch = jax.vmap(lambda s: cl.solve(particles, positions * s, WL, 1.33, method="gmres",
                                        n_max=8, restart=3, maxiter=1, lmax=1))(
        jnp.array([1.0, 1e4]))
    assert batch.converged.tolist() == [False, True]
    assert 1e-6 < batch.residual[0] < 1 and batch.residual[1] <= 1e-12
    # the reported residual is the true one of the returned fields
    stopped = jax.tree.map(lambda v: v[0], batch)
    np.testing.assert_allclose(stopped.residual, _relative_residual(stopped, WL, 1.33),
                               rtol=1e-10)


def test_gradients_match_finite_differences():
    particles, positions = _absorbing_cluster(3, seed=4)
    probe = jnp.array([[60.0, 100.0, 20.0]])

    def objective(positions, radius_scale, wavelength):
        p = jm.CoreShell(r_core=particles.r_core, r_shell=particles.r_shell * radius_scale,
                         n_core=particles.n_core, n_shell=particles.n_shell)
        sol = cl.solve(p, positions, wavelength, 1.33, (0, 0, 1), (1, 0, 0), n_max=8, lmax=1)
        e, _ = cl.near_field(sol, probe)
        return cl.cross_sections(sol).ext + 1e3 * jnp.sum(jnp.abs(e) ** 2)

    args = (positions, 1.0, WL)
    grads = jax.jit(jax.grad(objective, argnums=(0, 1, 2)))(*args)
    objective = jax.jit(objective)
    h = 1e-4
    for i, j in [(0, 0), (1, 2), (2, 1)]:
        step = jnp.zeros_like(positions).at[i, j].set(h)
        fd = (objective(positions + step, 1.0, WL) - objective(positions - step, 1.0, WL)) / (2 * h)
        np.testing.assert_allclose(grads[0][i, j], fd, rtol=1e-6,
                                   atol=1e-6 * jnp.abs(grads[0]).max())
    fd_r = (objective(positions, 1 + 1e-6, WL) - objective(positions, 1 - 1e-6, WL)) / 2e-6
    np.testing.assert_allclose(grads[1], fd_r, rtol=1e-6)
    fd_w = (objective(positions, 1.0, WL + h) - objective(positions, 1.0, WL - h)) / (2 * h)
    np.testing.assert_allclose(grads[2], fd_w, rtol=1e-6)


def _treams_cross_sections(particles, positions, kdir, pol, lmax):
    """(sca, ext) in nm^2 from treams' multipole T-matrix cluster, in vacuum at WL.

    particles: jaxmie Sphere, CoreShell or Multilayer with batch shape (N,), constant
    indices; positions (N, 3) nm; kdir a unit vector; lmax the multipole order kept per
    sphere (1: exactly the coupled electric and magnetic dipoles)."""
    treams = pytest.importorskip("treams")
    k0 = _k()
    radii = np.asarray(layer_radii(particles))
    indices = np.broadcast_to(np.asarray(layer_indices(particles, WL)), radii.shape)
    tmats = {}  # identical spheres share one T-matrix
    for r, n in zip(radii, indices):
        key = (tuple(r), tuple(n))
        if key not in tmats:
            materials = [treams.Material(complex(x) ** 2) for x in n] + [treams.Material()]
            tmats[key] = treams.TMatrix.sphere(lmax, k0, list(r), materials)
    spheres = [tmats[tuple(r), tuple(n)] for r, n in zip(radii, indices)]
    tm = treams.TMatrix.cluster(spheres, np.asarray(positions)).interaction.solve()
    inc = treams.plane_wave(np.asarray(kdir, float) * k0, pol, k0=k0, material=tm.material,
                            poltype=tm.poltype)
    return tm.xs(inc)


def _chain(n, spacing):
    """n centres on the x axis, spacing nm apart; shape (n, 3)."""
    return jnp.zeros((n, 3)).at[:, 0].set(spacing * jnp.arange(n))


# Broadside with E along the chain axis, broadside with E across it, end-on.
INCIDENCES = [((0, 0, 1), (1, 0, 0)), ((0, 0, 1), (0, 1, 0)), ((1, 0, 0), (0, 0, 1))]
# Chains (particles, outer radius nm): dielectric x = 0.38, core-shell with a metal core
# x = 0.38, metal x = 0.25 (size parameters at WL).
CHAINS = {
    "dielectric": (jm.Sphere(radius=jnp.full(5, 30.0), n=1.5 + 0.0j), 30.0),
    "core-shell": (jm.CoreShell(r_core=jnp.full(4, 15.0), r_shell=jnp.full(4, 30.0),
                                n_core=0.2 + 3.0j, n_shell=1.5 + 0.01j), 30.0),
    "metal": (jm.Sphere(radius=jnp.full(3, 20.0), n=0.2 + 3.0j), 20.0),
}


def _chain_error(name, incidence, gap, lmax=4):
    """Relative (ext, sca) differences of a chain (surface gap in radii) from treams."""
    particles, r = CHAINS[name]
    pos = _chain(particles.layers()[0][0].shape[0], (2 + gap) * r)
    xs = cl.cross_sections(cl.solve(particles, pos, WL, 1.0, *incidence, lmax=1))
    sca, ext = _treams_cross_sections(particles, pos, *incidence, lmax)
    return abs(xs.ext / ext - 1), abs(xs.sca / sca - 1)


def test_dimer_against_treams_multipole_tmatrix():
    """Two n = 1.5 spheres of radius 30 nm at 500 nm: exact coupled dipoles (treams with
    lmax = 1) to round-off, and the dipole-approximation error against lmax = 6."""
    r = 30.0
    spheres = jm.Sphere(radius=jnp.array([r, r]), n=1.5 + 0.0j)
    errors = {}
    for kdir, pol in INCIDENCES:
        for gap in (1, 2, 4):
            pos = _chain(2, 2 * r + gap * r)
            xs = cl.cross_sections(cl.solve(spheres, pos, WL, 1.0, kdir, pol, lmax=1))
            sca1, ext1 = _treams_cross_sections(spheres, pos, kdir, pol, 1)
            np.testing.assert_allclose(xs.ext, ext1, rtol=1e-12)
            np.testing.assert_allclose(xs.sca, sca1, rtol=1e-12)
            _, ext6 = _treams_cross_sections(spheres, pos, kdir, pol, 6)
            errors[kdir, pol, gap] = abs(xs.ext / ext6 - 1)
    # Measured (ext): broadside, E along the axis 1.4e-3, 5.6e-4, 3.5e-4 at gaps 1, 2, 4 radii;
    # broadside, E across 5.6e-6, 6.7e-5, 1.8e-4; end-on 4.1e-3, 8.0e-3, 7.9e-3 (the dropped
    # quadrupoles of the two spheres interfere in the far field: an error that oscillates
    # with k * distance rather than decaying with the gap).
    assert max(errors.values()) < 1.5e-2
    assert all(errors[kd, pl, 2] < 1e-2 for kd, pl, _ in errors)
    strong = INCIDENCES[0]  # the near-field coupling case: error shrinks with gap
    assert errors[(*strong, 1)] > errors[(*strong, 2)] > errors[(*strong, 4)]
    assert errors[(*strong, 2)] < 1e-3


def test_chains_are_treams_at_lmax_1():
    """Chains of 5 dielectric, 4 core-shell and 3 metal spheres, broadside (E along and
    across the axis) and end-on: the coupled dipoles are treams' T-matrix cluster truncated
    at lmax = 1 to round-off, so the errors of the next test are the approximation's."""
    for name in CHAINS:
        for incidence in INCIDENCES:
            ext_err, sca_err = _chain_error(name, incidence, gap=1, lmax=1)
            assert ext_err < 1e-12 and sca_err < 1e-12, (name, incidence, ext_err, sca_err)


def test_chain_dipole_approximation_error_against_treams():
    """Dipole-approximation error of chains against treams at lmax = 4 (converged for this
    purpose: lmax = 4 and 8 differ by <= 1.1e-4 relative, <= 1.1% of the error itself).

    Stated tolerance, size parameter <= 0.4, surface gaps >= 1 radius: 2e-2 relative in
    ext and sca for every incidence. The near-field part of the error (broadside, E along
    the axis) falls with the gap towards the isolated sphere's own truncation error; end-on,
    the neglected quadrupole coupling along the axis decays like 1/R as the dipoles' does,
    so it does not fade. The full table against the gap (0.5-4 radii) is in the docstring of
    jaxmie.cluster."""
    errors = {(name, inc, gap): _chain_error(name, inc, gap)
              for name, incs, gaps in [("dielectric", INCIDENCES, (1, 2, 4)),
                                       ("core-shell", INCIDENCES, (2,)),
                                       ("metal", INCIDENCES[:1], (1, 2, 4))]
              for inc in incs for gap in gaps}
    assert max(max(e) for e in errors.values()) < 2e-2
    axial = INCIDENCES[0]
    for name in ("dielectric", "metal"):
        ext = [errors[name, axial, gap][0] for gap in (1, 2, 4)]
        assert ext[0] > ext[1] > ext[2], (name, ext)
    # At 4 radii broadside, within 5x the isolated sphere's truncation error (treams lmax 1
    # against 4; 1.0e-4 for the dielectric, 2.7e-3 for the metal sphere): coupling is spent.
    for name, incs in [("dielectric", INCIDENCES[:2]), ("metal", INCIDENCES[:1])]:
        one = jax.tree.map(lambda v: v[:1] if jnp.ndim(v) else v, CHAINS[name][0])
        _, ext1 = _treams_cross_sections(one, jnp.zeros((1, 3)), *axial, 1)
        _, ext4 = _treams_cross_sections(one, jnp.zeros((1, 3)), *axial, 4)
        for inc in incs:
            assert errors[name, inc, 4][0] < 5 * abs(ext1 / ext4 - 1), (name, inc)
