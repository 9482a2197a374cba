"""Multipole T-matrix clusters (jaxmie.cluster.solve with lmax >= 2) against treams (test-only
dependency, MIT; its own spherical-wave T-matrices and translation coefficients), Mie, and
physics identities; gradients against finite differences, forward and reverse mode."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmie as jm
from jaxmie import cluster as cl
from jaxmie._particles import layer_indices, layer_radii
from jaxmie.cluster._translation import translation_matrices
from jaxmie.cluster._truncation import cluster_lmax
from jaxmie.cluster._waves import mode_orders

treams = pytest.importorskip("treams")


def _random_cluster(seed, n, kind):
    """n random non-overlapping spheres (radius 20-60 nm, 2 nm apart at least) in a 300 nm
    box; kind "sphere" (lossy dielectrics) or "coreshell" (metal core, dielectric shell);
    a random wavelength 400-900 nm and a random elliptical polarisation."""
    rng = np.random.default_rng(seed)
    r = rng.uniform(20, 60, n)
    if kind == "sphere":
        p = jm.Sphere(radius=jnp.asarray(r),
                      n=jnp.asarray(rng.uniform(1.4, 2.5, n) + 1j * rng.uniform(0, 0.3, n)))
    else:
        p = jm.CoreShell(r_core=jnp.asarray(r * rng.uniform(0.3, 0.8, n)), r_shell=jnp.asarray(r),
                         n_core=jnp.asarray(0.3 + 1j * rng.uniform(2, 4, n)),
                         n_shell=jnp.asarray(rng.uniform(1.3, 2.0, n) + 0.01j))
    pos = []
    while len(pos) < n:
        c = rng.uniform(-150, 150, 3)
        if all(np.linalg.norm(c - q) > r[len(pos)] + r[j] + 2 for j, q in enumerate(pos)):
            pos.append(c)
    d = rng.normal(size=3)
    d /= np.linalg.norm(d)
    e = np.cross(d, rng.normal(size=3))
    e /= np.linalg.norm(e)
    e = e * np.exp(0.3j) + 0.4j * np.cross(d, e)
    return p, jnp.asarray(np.array(pos)), float(rng.uniform(400, 900)), d, e / np.linalg.norm(e)


def _treams(particles, positions, wavelength, n_env, direction, polarization, lmax):
    """treams' cluster T-matrix (parity basis) under the same plane wave.

    Returns (sca, ext, coefficients, basis): treams' cross sections (its scattering cross
    section from the regular translation of the scattered waves, independent of jaxmie's
    ext - abs), the scattered coefficients of every sphere and their basis."""
    k0 = 2 * np.pi / wavelength
    radii = np.asarray(layer_radii(particles))
    indices = np.broadcast_to(np.asarray(layer_indices(particles, wavelength)), radii.shape)
    env = treams.Material(n_env ** 2)
    spheres = [treams.TMatrix.sphere(lmax, k0, list(r),
                                     [treams.Material(complex(x) ** 2) for x in n] + [env],
                                     poltype="parity")
               for r, n in zip(radii, indices)]
    tm = treams.TMatrix.cluster(spheres, np.asarray(positions)).interaction.solve()
    inc = treams.plane_wave(np.asarray(direction) * k0 * n_env, list(polarization), k0=k0,
                            material=env, poltype="parity")
    sca, ext = tm.xs(inc)
    coefficients = np.asarray(tm @ inc.expand(tm.basis))
    return sca, ext, coefficients, tm.basis


def _as_treams(solution, basis):
    """jaxmie's scattered coefficients in treams' mode order (treams' parity pol 0 is M)."""
    s = np.asarray(solution.scattered)
    return s[basis.pidx, np.where(basis.pol == 0, 0, 1), basis.l ** 2 + basis.l + basis.m - 1]


# The default cases share one compiled solver (N = 3, lmax = 4); the slow ones add lmax 2
# and 6 and larger clusters.
CASES = [("sphere", 0, 3, 4), ("coreshell", 1, 3, 4)]
SLOW_CASES = [(kind, seed, n, lmax) for kind in ("sphere", "coreshell")
              for seed, n in ((0, 3), (2, 5), (3, 6)) for lmax in (2, 4, 6)]


def _check_against_treams(kind, seed, n, lmax, n_env=1.33):
    p, pos, wl, d, e = _random_cluster(seed, n, kind)
    sol = cl.solve(p, pos, wl, n_env, d, e, lmax=lmax)
    xs = cl.cross_sections(sol)
    sca, ext, coefficients, basis = _treams(p, pos, wl, n_env, d, e, lmax)
    # Measured on all cases: <= 1.1e-14 (cross sections), <= 8e-15 (coefficients).
    np.testing.assert_allclose(xs.ext, ext, rtol=1e-10)
    np.testing.assert_allclose(xs.sca, sca, rtol=1e-10)
    np.testing.assert_allclose(xs.abs, ext - sca, rtol=1e-10)
    ours = _as_treams(sol, basis)
    assert np.max(np.abs(ours - coefficients)) < 1e-10 * np.max(np.abs(coefficients))
    return p, pos, wl, d, e, sol, coefficients, basis


@pytest.mark.parametrize("kind, seed, n, lmax", CASES)
def test_cross_sections_and_coefficients_against_treams(kind, seed, n, lmax):
    """Random clusters of lossy spheres and metal-core core-shells in water, random
    incidence and elliptical polarisation: ext, sca, abs and every scattered coefficient
    equal treams' at the same lmax (its sca is an independent formula, so this is also
    the energy balance ext = sca + abs)."""
    _check_against_treams(kind, seed, n, lmax)


@pytest.mark.slow
@pytest.mark.parametrize("kind, seed, n, lmax", SLOW_CASES)
def test_more_clusters_against_treams(kind, seed, n, lmax):
    _check_against_treams(kind, seed, n, lmax)


def _treams_mixed(particles, positions, wavelength, n_env, direction, polarization, lmax):
    """_treams for a list of single particles of any types (one treams sphere each)."""
    k0 = 2 * np.pi / wavelength
    env = treams.Material(n_env ** 2)
    spheres = [treams.TMatrix.sphere(
        lmax, k0, list(np.atleast_1d(np.asarray(layer_radii(p)))),
        [treams.Material(complex(x) ** 2) for x in np.atleast_1d(np.asarray(
            layer_indices(p, wavelength)))] + [env], poltype="parity") for p in particles]
    tm = treams.TMatrix.cluster(spheres, np.asarray(positions)).interaction.solve()
    inc = treams.plane_wave(np.asarray(direction) * k0 * n_env, list(polarization), k0=k0,
                            material=env, poltype="parity")
    sca, ext = tm.xs(inc)
    return sca, ext, np.asarray(tm @ inc.expand(tm.basis)), tm.basis


@pytest.mark.slow
def test_mixed_particle_types_against_treams():
    """One cluster of a lossy sphere, a metal-core core-shell and a three-layer sphere
    (dielectric / metal / dielectric shells), passed to solve as a list of particles, at
    lmax = 4 under oblique elliptical incidence in water: ext, sca, abs and every scattered
    coefficient equal treams' (each sphere its own layered T-matrix). Slow: 97 s on the
    loaded shared 2-core VM (compiling the three-layer recurrence and the solve)."""
    particles = [jm.Sphere(radius=45.0, n=2.2 + 0.15j),
                 jm.CoreShell(r_core=20.0, r_shell=38.0, n_core=0.25 + 3.5j, n_shell=1.6 + 0.0j),
                 jm.Multilayer(radii=[18.0, 26.0, 52.0], n=[1.9 + 0.01j, 0.4 + 4.0j, 1.45 + 0.0j])]
    pos = jnp.array([[0.0, 0.0, 0.0], [70.0, 45.0, -20.0], [-40.0, 95.0, 60.0]])
    wl, n_env = 620.0, 1.33
    d = np.array([0.3, -0.5, 0.81])
    d /= np.linalg.norm(d)
    e = np.cross(d, [1.0, 0.0, 0.0]) + 0.5j * np.cross(d, np.cross(d, [1.0, 0.0, 0.0]))
    e /= np.linalg.norm(e)  # solve normalises it, treams does not
    sol = cl.solve(particles, pos, wl, n_env, d, e, lmax=4)
    xs = cl.cross_sections(sol)
    sca, ext, coefficients, basis = _treams_mixed(particles, pos, wl, n_env, d, e, 4)
    # Measured: <= 5.4e-15 (cross sections), 3.7e-15 (coefficients).
    np.testing.assert_allclose([xs.ext, xs.sca, xs.abs], [ext, sca, ext - sca], rtol=1e-10)
    ours = _as_treams(sol, basis)
    assert np.max(np.abs(ours - coefficients)) < 1e-10 * np.max(np.abs(coefficients))


def test_near_and_far_fields_against_treams():
    """Near fields at points outside the spheres and far-field amplitudes (treams' field at
    R = 1e8 and 2e8 nm, extrapolated to R -> infinity: E R e^{-ikR} = F + c/R + O(1/R^2))."""
    n_env = 1.33
    p, pos, wl, d, _, sol, coefficients, basis = _check_against_treams("coreshell", 1, 3, 4)
    k0 = 2 * np.pi / wl
    env = treams.Material(n_env ** 2)
    rng = np.random.default_rng(5)
    pts = rng.normal(size=(60, 3)) * 250
    radii = np.asarray(layer_radii(p))[:, -1]
    outside = np.all(np.linalg.norm(pts[:, None] - np.asarray(pos)[None], axis=-1) > radii + 1,
                     -1)
    pts = pts[outside][:12]

    def field(points):
        m = treams.efield(points, basis=basis, k0=k0, material=env, modetype="singular",
                          poltype="parity")
        return np.einsum("pic,c->pi", np.asarray(m), coefficients)

    e_total, _ = cl.near_field(sol, jnp.asarray(pts))
    e_inc = np.asarray(sol.polarization) * np.exp(1j * k0 * n_env * (pts @ d))[:, None]
    e_sca = field(pts)
    # Measured 5e-14.
    assert np.max(np.abs(np.asarray(e_total) - e_inc - e_sca)) < 1e-11 * np.max(np.abs(e_sca))

    unit = pts / np.linalg.norm(pts, axis=-1, keepdims=True)
    k = k0 * n_env
    far = [field(unit * r) * r * np.exp(-1j * k * r) for r in (1e8, 2e8)]
    extrapolated = 2 * far[1] - far[0]
    ours = np.asarray(cl.far_field(sol, jnp.asarray(unit)))
    # Measured 4e-10 (the phase k R ~ 1e7 carries ~1e-9 of rounding); 1/R alone: 3e-6.
    assert np.max(np.abs(ours - extrapolated)) < 1e-8 * np.max(np.abs(extrapolated))


def test_translation_coefficients_against_treams():
    """A and B (the coupling of an outgoing wave about r_j to regular waves about r_i)
    entrywise against treams.special.tl_vsw_A, tl_vsw_B, at kd = 0.25 .. 36, lmax = 6,
    on and off the z axis (same normalisation: Jackson's, as treams)."""
    lmax, k = 6, 0.012
    ls, ms = mode_orders(lmax)
    ds = np.array([[30.0, -40.0, 55.0], [0.0, 0.0, 21.0], [0.0, 0.0, -80.0],
                   [3000.0, 200.0, -100.0]])
    tables = jax.jit(translation_matrices, static_argnums=2)(jnp.asarray(ds), k, lmax)
    for d, a, b in zip(ds, *map(np.asarray, tables)):
        r = np.linalg.norm(d)
        angles = (k * r, np.arccos(d[2] / r), np.arctan2(d[1], d[0]))
        for ours, theirs in ((a, treams.special.tl_vsw_A), (b, treams.special.tl_vsw_B)):
            ref = theirs(ls[:, None], ms[:, None], ls[None], ms[None], *angles)
            # Measured <= 1.2e-12 relative per entry (entries up to ~1e13 at kd = 0.25).
            nonzero = np.abs(ref) > 0
            rel = np.abs(ours - ref)[nonzero] / np.abs(ref)[nonzero]
            assert rel.max() < 1e-10
            assert np.all(ours[~nonzero] == 0)


def test_one_sphere_is_mie():
    """A single core-shell at lmax = 4 anywhere, any incidence: cross sections are Mie's
    with n_max = 4, and the far-field amplitude is (i/k) S2 e_theta in the plane of the
    polarisation and (i/k) S1 across it (Bohren & Huffman 3.12, 4.74)."""
    p = jm.CoreShell(r_core=jnp.array([30.0]), r_shell=jnp.array([70.0]), n_core=0.3 + 3.0j,
                     n_shell=1.6 + 0.01j)
    wl, n_env, lmax = 600.0, 1.33, 4
    ref = jm.cross_sections(p, wl, n_env, n_max=lmax)
    for d, e, c in [((0, 0, 1), (1, 0, 0), (0, 0, 0)), ((1, -2, 0.5), (2, 1, 0), (30, 5, -7))]:
        sol = cl.solve(p, jnp.asarray([c], float), wl, n_env, d, e, lmax=lmax)
        xs = cl.cross_sections(sol)
        np.testing.assert_allclose(xs.ext, ref.c_ext, rtol=1e-12)
        np.testing.assert_allclose(xs.sca, ref.c_sca, rtol=1e-12)
        np.testing.assert_allclose(xs.abs, ref.c_abs, rtol=1e-12)
    sol = cl.solve(p, jnp.zeros((1, 3)), wl, n_env, lmax=lmax)  # along z, E along x
    theta = np.linspace(0.0, np.pi, 7)
    s1, s2 = (np.asarray(v)[0] for v in jm.amplitudes(p, wl, jnp.asarray(theta), n_env,
                                                       n_max=lmax))
    k = 2 * np.pi * n_env / wl
    zero = np.zeros_like(theta)
    in_plane = np.stack([np.sin(theta), zero, np.cos(theta)], -1)
    across = np.stack([zero, np.sin(theta), np.cos(theta)], -1)
    e_theta = np.stack([np.cos(theta), zero, -np.sin(theta)], -1)
    f_in = np.asarray(cl.far_field(sol, jnp.asarray(in_plane)))
    f_across = np.asarray(cl.far_field(sol, jnp.asarray(across)))
    scale = np.max(np.abs(s2)) / k
    np.testing.assert_allclose(f_in, 1j / k * s2[:, None] * e_theta, atol=1e-12 * scale)
    np.testing.assert_allclose(f_across[:, 0], 1j / k * s1, atol=1e-12 * scale)
    np.testing.assert_allclose(f_across[:, 1:], 0, atol=1e-12 * scale)


def test_distant_spheres_scatter_independently():
    """Three different spheres 1e6 and 1e7 nm apart (kd ~ 1e4, 1e5) broadside: ext is the
    sum of their Mie extinctions up to the interference of their far fields, O(1/kd)."""
    p = jm.Sphere(radius=jnp.array([50.0, 80.0, 30.0]),
                  n=jnp.array([1.5 + 0.1j, 2.0 + 0.0j, 0.2 + 3.0j]))
    wl, lmax = 500.0, 4
    single = jm.cross_sections(p, wl, n_max=lmax).c_ext
    for distance, tol in [(1e6, 1e-4), (1e7, 1e-5)]:
        pos = jnp.array([[0.0, 0.0, 0.0], [distance, 0.0, 0.0], [0.0, distance, 0.0]])
        xs = cl.cross_sections(cl.solve(p, pos, wl, lmax=lmax))
        np.testing.assert_allclose(xs.ext, np.sum(single), rtol=tol)


def _sphere_quadrature(n_theta=48, n_phi=96):
    u, w = np.polynomial.legendre.leggauss(n_theta)
    phi = 2 * np.pi * np.arange(n_phi) / n_phi
    sin = np.sqrt(1 - u ** 2)
    dirs = np.stack([sin[:, None] * np.cos(phi), sin[:, None] * np.sin(phi),
                     np.broadcast_to(u[:, None], (n_theta, n_phi))], -1).reshape(-1, 3)
    return dirs, np.repeat(w, n_phi) * 2 * np.pi / n_phi


def test_energy_balance_far_field_integral_and_reciprocity():
    """sca = ext - abs equals the integral of |F|^2 over all directions (Gauss-Legendre x
    trapezoid, exact for this band-limited |F|^2), a lossless cluster absorbs nothing, and
    the amplitude obeys reciprocity e_s . F(n_s; d_i, e_i) = e_i . F(-d_i; -n_s, e_s)."""
    p, pos, wl, d, e = _random_cluster(0, 3, "sphere")
    n_env = 1.33
    dirs, w = _sphere_quadrature()
    sol = cl.solve(p, pos, wl, n_env, d, e, lmax=4)
    xs = cl.cross_sections(sol)
    integral = np.sum(w * np.sum(np.abs(np.asarray(cl.far_field(sol, jnp.asarray(dirs)))) ** 2,
                                 -1))
    np.testing.assert_allclose(integral, xs.sca, rtol=1e-11)
    lossless = jm.Sphere(radius=p.radius, n=jnp.real(p.n) + 0j)
    xs0 = cl.cross_sections(cl.solve(lossless, pos, wl, n_env, d, e, lmax=4))
    assert float(xs0.abs) == 0.0
    n_s = np.array([0.3, 0.8, -0.52])
    n_s /= np.linalg.norm(n_s)
    e_s = np.cross(n_s, [0.0, 0.0, 1.0])
    e_s /= np.linalg.norm(e_s)
    e_i = np.asarray(sol.polarization)
    f1 = np.asarray(cl.far_field(sol, jnp.asarray(n_s)))
    back = cl.solve(p, pos, wl, n_env, -n_s, e_s, lmax=4)
    f2 = np.asarray(cl.far_field(back, jnp.asarray(-d)))
    np.testing.assert_allclose(e_s @ f1, e_i @ f2, rtol=1e-11)


_GRADIENT_POSITIONS = np.array([[0.0, 0.0, 0.0], [95.0, 20.0, -10.0], [30.0, 110.0, 40.0]])


@functools.partial(jax.jit, static_argnames="method")
def _extinction(positions, r_shell, n_shell, wavelength, method):
    """ext (nm^2) of three core-shells at lmax = 4 as a function of the differentiated inputs."""
    p = jm.CoreShell(r_core=jnp.array([15.0, 20.0, 18.0]),
                     r_shell=r_shell * jnp.array([1.0, 1.1, 0.9]),
                     n_core=0.3 + 3.0j, n_shell=n_shell + 0.01j)
    sol = cl.solve(p, positions, wavelength, 1.33, (0.2, 0.1, 1.0), (1.0, 0.3j, 0.0), lmax=4,
                   method=method, tol=1e-13)
    return cl.cross_sections(sol).ext


def _check_gradients(method):
    """Reverse mode per argument and forward mode along a random direction of all four,
    against central differences."""
    rng = np.random.default_rng(3)
    # Arrays, not Python floats: a weakly typed argument would compile a second time.
    args = tuple(jnp.asarray(a, float) for a in
                 (_GRADIENT_POSITIONS + rng.uniform(-5, 5, (3, 3)), 40.0, 1.6, 550.0))
    directions = (rng.normal(size=(3, 3)), 1.0, 1.0, 1.0)
    steps = (1e-4, 1e-5, 1e-6, 1e-4)

    def along(i, h):
        """ext at args + h * directions[i] (i = None: every argument at once)."""
        moved = [a + h * s_ * jnp.asarray(v) if i in (None, j) else a
                 for j, (a, v, s_) in enumerate(zip(args, directions, steps))]
        return _extinction(*moved, method)

    grads = jax.grad(_extinction, argnums=(0, 1, 2, 3))(*args, method)
    # Central differences: O(h^2) truncation and ~1e-16 / h rounding, both <= 1e-9
    # relative here; the GMRES gradient solves the transposed system to tol = 1e-13.
    for i, h in enumerate(steps):
        fd = (along(i, 1.0) - along(i, -1.0)) / (2 * h)
        reverse = np.sum(np.asarray(grads[i]) * directions[i])
        np.testing.assert_allclose(reverse, fd, rtol=1e-7, err_msg=f"argument {i}")
    tangents = tuple(s_ * jnp.asarray(v) * jnp.ones_like(a)
                     for a, v, s_ in zip(args, directions, steps))
    _, forward = jax.jvp(lambda *a: _extinction(*a, method), args, tangents)
    fd = (along(None, 1.0) - along(None, -1.0)) / 2
    np.testing.assert_allclose(forward, fd, rtol=1e-7)


def test_gradients_match_finite_differences():
    """d(ext)/d(positions, shell radius, shell index, wavelength) of three core-shells at
    lmax = 4, dense solver, reverse (grad) and forward (jvp) mode."""
    _check_gradients("dense")


@pytest.mark.slow
def test_gmres_gradients_match_finite_differences():
    """The same through GMRES: implicit differentiation (custom_linear_solve), not through
    the iterations. Slow: compiling the GMRES gradient takes ~1 min on a CPU."""
    _check_gradients("gmres")


@pytest.mark.slow
def test_dense_and_gmres_agree():
    """The matrix-free GMRES solution (blocked on-the-fly translations) and the dense LU
    solution agree."""
    p, pos, wl, d, e = _random_cluster(1, 3, "coreshell")
    dense = cl.solve(p, pos, wl, 1.33, d, e, lmax=4, method="dense")
    it = cl.solve(p, pos, wl, 1.33, d, e, lmax=4, method="gmres", tol=1e-13)
    assert bool(it.converged) and float(it.residual) <= 1e-13
    scale = np.max(np.abs(np.asarray(dense.scattered)))
    assert np.max(np.abs(np.asarray(it.scattered - dense.scattered))) < 1e-11 * scale


def _converged_case(seed):
    """A dimer of size parameters 0.5-3 (metal, dielectric or core-shell spheres) with a
    surface gap of 0.25-0.5 of the sum of the radii, random incidence, in water."""
    rng = np.random.default_rng(seed)
    wl, n_env = rng.uniform(400, 900), 1.33
    k = 2 * np.pi * n_env / wl
    r = rng.uniform(0.5, 3.0, 2) / k
    p = jm.CoreShell(r_core=jnp.asarray(0.6 * r), r_shell=jnp.asarray(r),
                     n_core=jnp.asarray(rng.uniform(0.1, 0.5, 2) + 1j * rng.uniform(2, 5, 2)),
                     n_shell=jnp.asarray(rng.uniform(1.3, 2.5, 2) + 0.01j))
    u = rng.normal(size=3)
    pos = np.stack([np.zeros(3), u / np.linalg.norm(u) * (r[0] + r[1]) * rng.uniform(1.25, 1.5)])
    d = rng.normal(size=3)
    e = np.cross(d, rng.normal(size=3))
    return p, jnp.asarray(pos), wl, n_env, d / np.linalg.norm(d), e / np.linalg.norm(e)


def _check_converged(seed, reference_lmax=12):
    p, pos, wl, n_env, d, e = _converged_case(seed)
    sol = cl.solve(p, pos, wl, n_env, d, e)  # lmax=None: jaxmie.cluster.lmax_for
    xs = cl.cross_sections(sol)
    sca, ext, _, _ = _treams(p, pos, wl, n_env, d, e, reference_lmax)
    assert sol.lmax < reference_lmax - 1
    np.testing.assert_allclose([xs.ext, xs.sca, xs.abs], [ext, sca, ext - sca], rtol=0,
                               atol=1e-6 * ext)


@pytest.mark.slow
def test_default_lmax_is_converged():
    """lmax=None (jaxmie.cluster.lmax_for) against treams at lmax = 12: ext, sca and abs
    within 1e-6 of ext. Slow: ~60 s on the shared 2-core VM (treams at lmax 12)."""
    _check_converged(0)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, 6))
def test_default_lmax_is_converged_on_more_dimers(seed):
    _check_converged(seed)


def test_close_pairs_warn_that_lmax_is_capped():
    """Above CLOSE_PROXIMITY the default lmax is capped at 20 and solve's lmax=None warns
    (bench/cluster_close_gaps.py: 2e-6 of ext at proximity 0.95); at 0.8 it is silent
    (filterwarnings = error) and asks for 12."""
    radii = np.array([50.0, 50.0])
    with pytest.warns(RuntimeWarning, match="proximity"):
        assert cluster_lmax(radii, np.array([[0.0, 0.0, 0.0], [0.0, 105.0, 0.0]]), 0.01) == 20
    assert cluster_lmax(radii, np.array([[0.0, 0.0, 0.0], [0.0, 125.0, 0.0]]), 0.01) == 12
