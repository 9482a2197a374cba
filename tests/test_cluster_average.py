"""Orientation-averaged cross sections of multipole clusters (jaxmie.cluster.averaged_cross_
sections) against treams (test-only dependency, MIT: its cluster T-matrix expanded about one
origin and its own averages), against a Lebedev quadrature of jaxmie's fixed-orientation
cross sections over incidence and polarisation, and against Mie for one sphere; the regular
translation coefficients against treams'; gradients against finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmie as jm
from jaxmie import cluster as cl
from jaxmie._particles import layer_indices, layer_radii
from jaxmie.cluster._translation import translation_matrices
from jaxmie.cluster._waves import mode_orders

treams = pytest.importorskip("treams")


def _random_cluster(seed, n, mixed=True):
    """n random non-overlapping particles (outer radius 20-60 nm, 2 nm apart at least) in a
    300 nm box, alternately lossy spheres and metal-core core-shells (a list of particles),
    or (mixed=False) lossy spheres only, one particle of batch shape (n,); a wavelength
    400-900 nm."""
    rng = np.random.default_rng(seed)
    r = rng.uniform(20, 60, n)
    index = rng.uniform(1.4, 2.5, n) + 1j * rng.uniform(0, 0.3, n)
    shells = dict(r_core=r * rng.uniform(0.3, 0.8, n), r_shell=r,
                  n_core=0.3 + 1j * rng.uniform(2, 4, n),
                  n_shell=rng.uniform(1.3, 2.0, n) + 0.01j)
    if mixed:
        particles = [
            jm.Sphere(radius=r[i], n=index[i]) if i % 2 == 0
            else jm.CoreShell(**{key: v[i] for key, v in shells.items()}) for i in range(n)]
    else:
        particles = [jm.Sphere(radius=jnp.asarray(r), n=jnp.asarray(index))]
    pos: list[np.ndarray] = []
    while len(pos) < n:
        c = rng.uniform(-150, 150, 3)
        if all(np.linalg.norm(c - q) > r[len(pos)] + r[j] + 2 for j, q in enumerate(pos)):
            pos.append(c)
    return particles, np.array(pos), float(rng.uniform(400, 900))


def _single(group):
    """The particles of a group, one by one."""
    radii = layer_radii(group)
    if radii.ndim == 1:
        return [group]
    return [jax.tree.map(lambda v, i=i: v[i] if jnp.ndim(v) else v, group)
            for i in range(radii.shape[0])]


def _treams_average(particles, positions, wavelength, n_env, lmax, extra=12):
    """treams' averaged (ext, sca): its cluster T-matrix (each sphere to lmax) expanded about
    the centroid into one T-matrix to degree L = lmax + k R + extra (R: the farthest centre),
    where the expansion's truncation is below rounding (checked in
    test_more_clusters_against_treams), then its xs_ext_avg and xs_sca_avg (Tr T and
    sum |T|^2: the latter an independent formula for the scattering)."""
    k0 = 2 * np.pi / wavelength
    env = treams.Material(n_env ** 2)
    spheres = [treams.TMatrix.sphere(
        lmax, k0, list(np.atleast_1d(np.asarray(layer_radii(p)))),
        [treams.Material(complex(x) ** 2) for x in np.atleast_1d(np.asarray(
            layer_indices(p, wavelength)))] + [env], poltype="parity")
        for group in particles for p in _single(group)]
    centred = positions - positions.mean(0)
    tm = treams.TMatrix.cluster(spheres, centred).interaction.solve()
    reach = k0 * n_env * np.max(np.linalg.norm(centred, axis=-1))
    big = tm.expand(treams.SphericalWaveBasis.default(lmax + int(np.ceil(reach)) + extra))
    return big.xs_ext_avg, big.xs_sca_avg


def _check_against_treams(seed, n, lmax, n_env=1.33, mixed=True, converged=False):
    particles, pos, wl = _random_cluster(seed, n, mixed)
    xs = cl.averaged_cross_sections(particles, jnp.asarray(pos), wl, n_env, lmax=lmax)
    ext, sca = _treams_average(particles, pos, wl, n_env, lmax)
    if converged:  # the reference's own truncation: 8 more degrees change nothing
        ext_8, sca_8 = _treams_average(particles, pos, wl, n_env, lmax, extra=20)
        np.testing.assert_allclose([ext_8, sca_8], [ext, sca], rtol=1e-13)
    # Measured on every case: <= 1.1e-14 relative (both sides' rounding in O(N n_modes)
    # sums and one LU; treams' expansion adds products with the regular translations).
    np.testing.assert_allclose([xs.ext, xs.sca, xs.abs], [ext, sca, ext - sca], rtol=1e-12)


def test_average_against_treams():
    """Three lossy spheres in water at lmax = 2 (core-shells: the slow cases): averaged ext,
    sca and abs equal treams' (its sca = 2 pi sum |T|^2 / k^2 of the global T-matrix,
    independent of jaxmie's ext - abs)."""
    _check_against_treams(0, 3, 2, mixed=False)


@pytest.mark.slow
@pytest.mark.parametrize("seed, n, lmax", [(0, 3, 2), (1, 2, 2), (2, 4, 2), (1, 2, 4),
                                           (3, 3, 4), (2, 4, 4)])
def test_more_clusters_against_treams(seed, n, lmax):
    """Lossy spheres and core-shells mixed (a list of particles)."""
    _check_against_treams(seed, n, lmax, converged=True)


@pytest.mark.slow
def test_one_sphere_is_mie():
    """One core-shell anywhere: the average is the fixed-orientation Mie cross sections with
    n_max = lmax (a sphere looks the same from every direction)."""
    p = jm.CoreShell(r_core=30.0, r_shell=70.0, n_core=0.3 + 3.0j, n_shell=1.6 + 0.01j)
    wl, n_env, lmax = 600.0, 1.33, 4
    ref = jm.cross_sections(p, wl, n_env, n_max=lmax)
    xs = cl.averaged_cross_sections(p, jnp.array([[30.0, -5.0, 7.0]]), wl, n_env, lmax=lmax)
    np.testing.assert_allclose([xs.ext, xs.sca, xs.abs], [ref.c_ext, ref.c_sca, ref.c_abs],
                               rtol=1e-13)


def _lebedev_average(particles, pos, wl, n_env, lmax, order):
    """(ext, sca, abs) of jaxmie.cluster.solve + cross_sections, averaged over the Lebedev
    directions of the given order (exact for harmonics up to that degree) and, at each, two
    orthonormal polarisations."""
    from scipy.integrate import lebedev_rule

    x, w = lebedev_rule(order)
    d = x.T
    axis = np.where(np.abs(d[:, 2:]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    e1 = np.cross(d, axis)
    e1 /= np.linalg.norm(e1, axis=-1, keepdims=True)
    e2 = np.cross(d, e1)

    def one(direction, polarization):
        xs = cl.cross_sections(cl.solve(particles, pos, wl, n_env, direction, polarization,
                                        lmax=lmax, method="dense"))
        return jnp.stack([xs.ext, xs.sca, xs.abs])

    values = jax.vmap(one)(jnp.asarray(np.concatenate([d, d])),
                           jnp.asarray(np.concatenate([e1, e2])))
    values = np.asarray(values).reshape(2, -1, 3).sum(0)
    return np.sum(w[:, None] * values, 0) / (8 * np.pi)


@pytest.mark.slow
@pytest.mark.parametrize("lmax", [1, 3])
def test_average_is_the_quadrature_of_fixed_orientations(lmax):
    """Two orders of Lebedev quadrature (590 and 974 directions, two polarisations each) of
    cluster.solve + cross_sections agree with each other and with the average to ~1e-15:
    the cross sections are band-limited in the incident direction (degree ~ 2 lmax + 2 k D
    with D the cluster's size, here ~ 12). lmax = 1 goes through the coupled-dipole solver."""
    particles, pos, wl = _random_cluster(4, 3)
    pos = jnp.asarray(pos)
    xs = cl.averaged_cross_sections(particles, pos, wl, 1.33, lmax=lmax)
    coarse = _lebedev_average(particles, pos, wl, 1.33, lmax, 41)
    fine = _lebedev_average(particles, pos, wl, 1.33, lmax, 53)
    # Measured: <= 1.7e-15 relative (lmax = 1 and 3, both orders).
    np.testing.assert_allclose(coarse, fine, rtol=1e-12)
    np.testing.assert_allclose([xs.ext, xs.sca, xs.abs], fine, rtol=1e-12)


@pytest.mark.slow
def test_regular_translation_coefficients_against_treams():
    """The regular-to-regular coefficients (j_p in place of h_p) entrywise against
    treams.special.tl_vsw_rA, tl_vsw_rB at kd = 0.045 .. 36, lmax = 6, on and off the z
    axis."""
    lmax, k = 6, 0.012
    ls, ms = mode_orders(lmax)
    ds = np.array([[30.0, -40.0, 55.0], [0.0, 0.0, 21.0], [0.0, 0.0, -80.0],
                   [3000.0, 200.0, -100.0], [1.0, 2.0, 3.0]])
    tables = jax.jit(translation_matrices, static_argnums=(2, 4))(jnp.asarray(ds), k, lmax,
                                                                  None, True)
    for d, a, b in zip(ds, *map(np.asarray, tables)):
        r = np.linalg.norm(d)
        angles = (k * r, np.arccos(d[2] / r), np.arctan2(d[1], d[0]))
        for ours, theirs in ((a, treams.special.tl_vsw_rA), (b, treams.special.tl_vsw_rB)):
            ref = theirs(ls[:, None], ms[:, None], ls[None], ms[None], *angles)
            # Measured: <= 7e-15 absolute (entries are at most 1).
            nonzero = np.abs(ref) > 0
            assert np.max(np.abs(ours - ref)) < 1e-13
            assert np.all(ours[~nonzero] == 0)


@pytest.mark.slow
def test_gradients_against_finite_differences():
    """d<C>/d(position, radius, shell index, wavelength) by reverse mode against central
    differences, for two spheres on the z axis (pairs along z: no division by sin theta)
    and a core-shell off it; vmap over wavelengths gives the single-wavelength values."""
    wl, n_env, lmax = 550.0, 1.33, 3
    pos = jnp.array([[0.0, 0.0, 0.0], [0.0, 0.0, 95.0], [70.0, 40.0, 30.0]])

    def averaged(pos, radius, n_shell, wavelength):
        particles = [jm.Sphere(radius=radius, n=2.0 + 0.1j),
                     jm.Sphere(radius=35.0, n=1.5 + 0.0j),
                     jm.CoreShell(r_core=15.0, r_shell=30.0, n_core=0.2 + 3.0j, n_shell=n_shell)]
        xs = cl.averaged_cross_sections(particles, pos, wavelength, n_env, lmax=lmax)
        return jnp.stack([xs.ext, xs.sca, xs.abs])

    args = (pos, 45.0, 1.6 + 0.05j, wl)
    value = averaged(*args)
    assert np.all(np.isfinite(np.asarray(value)))
    for which in (0, 1):  # ext and sca (abs = ext - sca)
        grads = jax.jit(jax.grad(lambda *a: averaged(*a)[which], argnums=(0, 1, 2, 3)))(*args)
        assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)
        h = 1e-3  # fourth-order central differences: truncation ~h^4, rounding ~1e-12
        cases = [(0, (1, 2)), (0, (2, 0)), (1, None), (2, None), (3, None)]
        for argnum, index in cases:
            def shifted(step, argnum=argnum, index=index):
                a = list(args)
                if index is None:
                    a[argnum] = a[argnum] + step
                else:
                    a[argnum] = a[argnum].at[index].add(step)
                return float(averaged(*a)[which])
            def difference(unit, shifted=shifted):
                return (8 * (shifted(unit * h) - shifted(-unit * h))
                        - (shifted(2 * unit * h) - shifted(-2 * unit * h))) / (12 * h)
            g = grads[argnum] if index is None else grads[argnum][index]
            if argnum == 2:  # JAX: grad of a real f of complex n is df/dRe n - i df/dIm n
                expected = difference(1.0) - 1j * difference(1j)
            else:
                expected = difference(1.0)
            np.testing.assert_allclose(g, expected, rtol=1e-8)
    spectrum = jax.vmap(lambda w: averaged(pos, 45.0, 1.6 + 0.05j, w))(jnp.array([wl, 700.0]))
    np.testing.assert_allclose(spectrum[0], value, rtol=1e-13)
