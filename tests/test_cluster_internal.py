"""Fields inside the spheres of a multipole cluster (jaxmie.cluster.near_field with
inside=True): one sphere against scattnlay's fieldnlay, the boundary conditions across every
sphere's surface and a shell interface in a three-sphere cluster (converging with lmax), and
gradients against central differences.

Error metric as in tests/test_fields.py: max over components of |E - E_ref| over the local
|E_ref|; scattnlay works in host-relative units (k = 2 pi n_env / wavelength, m / n_env)
and reports H in units of E_0 / Z_0, which Z_0 turns into jaxmie's Z H.
"""

import itertools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmie as jm
from jaxmie import cluster as cl

scattnlay = pytest.importorskip("scattnlay")

Z0 = 4e-7 * np.pi * 299792458.0
WAVELENGTH, N_ENV = 600.0, 1.33
K = 2 * np.pi * N_ENV / WAVELENGTH

# One sphere each (outer size parameters 1.1-1.7): homogeneous, silica core in a metal
# shell, three layers with a metal middle.
SINGLE = {
    "sphere": ([80.0], [1.9 + 0.02j]),
    "core_shell": ([60.0, 90.0], [1.45 + 0j, 0.2 + 3.5j]),
    "three_layer": ([40.0, 55.0, 120.0], [2.0 + 0.1j, 0.2 + 4.0j, 1.4 + 0j]),
}


def _relative_error(value, ref):
    return np.max(np.abs(np.asarray(value) - ref), axis=-1) / np.linalg.norm(ref, axis=-1)


def _scattnlay(radii, n, positions, n_max):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, e, h = scattnlay.fieldnlay(K * np.asarray(radii), np.asarray(n) / N_ENV,
                                      *(K * np.asarray(positions).T), nmax=n_max)
        return e, h * Z0


def _check_single(name, lmax=16):
    """A sphere centred off the origin, plane wave along z polarised along x: the field at
    r_c + p is exp(i k z_c) times scattnlay's at p, in every layer."""
    radii, n = SINGLE[name]
    particle = jm.Multilayer(radii=radii, n=n) if len(radii) == 3 else (
        jm.Sphere(radius=radii[0], n=n[0]) if len(radii) == 1 else
        jm.CoreShell(r_core=radii[0], r_shell=radii[1], n_core=n[0], n_shell=n[1]))
    centre = np.array([30.0, -20.0, 45.0])
    rng = np.random.default_rng(len(radii))
    d = rng.normal(size=(24, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    # Points in every layer, away from the centre (where scattnlay loses digits), and on
    # the +z axis through the centre (scattnlay returns NaN on the -z axis: there, and at
    # the centre, only finiteness is checked).
    edges = np.array([0.1 * radii[0], *radii])
    r = np.concatenate([rng.uniform(lo, hi, 8) for lo, hi in itertools.pairwise(edges)])
    p = np.concatenate([d[: r.size] * r[:, None], [[0, 0, 0.5 * radii[0]]]])
    unchecked = np.array([[0, 0, 0], [0, 0, -0.99 * radii[-1]]])
    sol = cl.solve(particle, centre[None], WAVELENGTH, N_ENV, lmax=lmax)
    e, h = cl.near_field(sol, jnp.asarray(np.concatenate([p, unchecked]) + centre),
                         inside=True)
    assert np.all(np.isfinite(e)) and np.all(np.isfinite(h))
    e_ref, h_ref = _scattnlay(radii, n, p, lmax)
    # scattnlay also returns NaN at a few points in metal shells (one of 17 here).
    valid = np.all(np.isfinite(e_ref) & np.isfinite(h_ref), -1)
    assert valid.sum() >= 0.9 * valid.size
    phase = np.exp(1j * K * centre[2])
    return (_relative_error(e[:-2][valid], phase * e_ref[valid]).max(),
            _relative_error(h[:-2][valid], phase * h_ref[valid]).max())


@pytest.mark.slow
def test_one_core_shell_inside_matches_scattnlay():
    """Low order (lmax = 4, as scattnlay's nmax): the same truncated series."""
    err_e, err_h = _check_single("core_shell", lmax=4)
    # Measured 1.8e-14 (E), 1.3e-14 (Z H).
    assert err_e < 1e-12 and err_h < 1e-12


@pytest.mark.slow
@pytest.mark.parametrize("name", SINGLE)
def test_one_sphere_inside_matches_scattnlay(name):
    """Converged orders (lmax = 16; the terms beyond 13 are below 1e-14)."""
    err_e, err_h = _check_single(name)
    # Measured 7e-15 (sphere), 1.8e-14 (core-shell), 2.4e-14 (three layers).
    assert err_e < 1e-12 and err_h < 1e-12


# Three touching-close spheres (outer size parameters 0.97, 1.18, 1.53; surface gaps 12, 15
# and 20 nm), a homogeneous sphere, a silica core in a metal shell and three layers.
CLUSTER = [jm.Sphere(radius=70.0, n=1.9 + 0.02j),
           jm.CoreShell(r_core=50.0, r_shell=85.0, n_core=1.45, n_shell=0.2 + 3.5j),
           jm.Multilayer(radii=[35.0, 50.0, 110.0], n=[2.0 + 0.1j, 0.2 + 4.0j, 1.4])]
OUTER = np.array([70.0, 85.0, 110.0])
OUTER_INDEX = np.array([1.9 + 0.02j, 0.2 + 3.5j, 1.4]) / N_ENV
CENTRES = np.array([[0.0, 0.0, 0.0], [167.0, 0.0, 0.0], [60.0, 185.0, 40.0]])
INCIDENCE = {"direction": (0.3, 0.2, 1.0), "polarization": (1.0, 0.5j, 0.0)}


def _directions(count=24, seed=7):
    """Unit vectors: random ones and those from each sphere towards the others (where the
    fields vary fastest and the expansions converge slowest)."""
    d = np.random.default_rng(seed).normal(size=(count, 3))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def _interface_mismatch(sol, centre, radius, index_in, index_out, toward):
    """Largest jump of tangential E and Z H and of normal D and B across a sphere of the
    given radius about centre (the fields a relative 1e-12 inside and outside), over the
    largest |E| or |Z H| there."""
    d = np.concatenate([_directions(), toward])
    points = np.concatenate([centre + d * radius * (1 - 1e-12),
                             centre + d * radius * (1 + 1e-12)])
    e, h = (np.asarray(v).reshape(2, -1, 3) for v in cl.near_field(sol, jnp.asarray(points),
                                                                    inside=True))
    normal = lambda v: np.sum(d * v, -1)
    tangential = lambda v: v - d * normal(v)[:, None]
    jumps = [tangential(e[0]) - tangential(e[1]), tangential(h[0]) - tangential(h[1]),
             (index_in ** 2 * normal(e[0]) - index_out ** 2 * normal(e[1]))[:, None],
             (normal(h[0]) - normal(h[1]))[:, None]]
    scale = max(np.abs(e).max(), np.abs(h).max())
    return max(np.abs(j).max() for j in jumps) / scale


def _cluster_mismatch(lmax):
    """(outer surfaces, the core-shell's inner interface) mismatches of the cluster."""
    sol = cl.solve(CLUSTER, CENTRES, WAVELENGTH, N_ENV, lmax=lmax, **INCIDENCE)
    surfaces = []
    for i in range(3):
        toward = np.delete(CENTRES, i, 0) - CENTRES[i]
        toward /= np.linalg.norm(toward, axis=1, keepdims=True)
        surfaces.append(_interface_mismatch(sol, CENTRES[i], OUTER[i], OUTER_INDEX[i], 1.0,
                                            toward))
    shell = _interface_mismatch(sol, CENTRES[1], 50.0, 1.45 / N_ENV, OUTER_INDEX[1],
                                np.zeros((0, 3)))
    return max(surfaces), shell


@pytest.mark.slow
def test_boundary_conditions_converge_with_lmax():
    """Tangential E and Z H, normal D and B are continuous across every sphere's surface up
    to the truncation: the exciting field of sphere i, kept to lmax, misses the tail of the
    neighbours' waves about its centre, which falls like (r_i / d_ij)^l (0.55 here, with a
    polynomial factor). Across the core-shell's inner interface, within one sphere's
    expansion, they hold to rounding at any lmax."""
    surfaces, shells = zip(*(_cluster_mismatch(lmax) for lmax in (4, 8, 12)))
    # Measured: surfaces 0.26, 0.053, 0.0085; shell interface 2e-11 (the 1e-12 offsets
    # times the fields' radial derivatives).
    assert surfaces[1] < 0.3 * surfaces[0] and surfaces[2] < 0.3 * surfaces[1]
    assert surfaces[2] < 1.2e-2
    assert max(shells) < 1e-10


@jax.jit
def _interior_intensity(positions, r_shell, n_shell, wavelength):
    """|E|^2 at a point in the homogeneous sphere plus |E|^2 at one in the core-shell's
    shell (lmax = 4)."""
    particles = [CLUSTER[0], jm.CoreShell(r_core=50.0, r_shell=r_shell, n_core=1.45,
                                          n_shell=n_shell), CLUSTER[2]]
    sol = cl.solve(particles, positions, wavelength, N_ENV, lmax=4, method="dense",
                   **INCIDENCE)
    probes = jnp.stack([positions[0] + jnp.array([20.0, -30.0, 25.0]),
                        positions[1] + jnp.array([-40.0, 50.0, 10.0])])
    e, _ = cl.near_field(sol, probes, inside=True)
    return jnp.sum(jnp.abs(e) ** 2)


def _gradient_errors():
    """Relative differences of reverse and forward derivatives from central differences
    (step h: error ~h^2), for a sphere's x and z position, a shell radius, a shell index
    and the wavelength (forward mode only for the first three)."""
    args = (jnp.asarray(CENTRES), 85.0, 0.2 + 3.5j, WAVELENGTH)
    reverse = jax.grad(_interior_intensity, argnums=(0, 1, 2, 3))(*args)
    forward = jax.jacfwd(_interior_intensity, argnums=(0, 1))(*args)
    f = lambda *a: float(_interior_intensity(*a))
    assert np.isfinite(f(*args)) and f(*args) > 0
    h = 1e-3

    def moved(i, j, step):
        return (args[0].at[i, j].add(step), *args[1:])

    def changed(index, step):
        return tuple(a + step if n == index else a for n, a in enumerate(args))

    central = lambda plus, minus, step: (f(*plus) - f(*minus)) / (2 * step)
    checks = [
        (central(moved(1, 0, h), moved(1, 0, -h), h), reverse[0][1, 0], forward[0][1, 0]),
        (central(moved(0, 2, h), moved(0, 2, -h), h), reverse[0][0, 2], forward[0][0, 2]),
        (central(changed(1, h), changed(1, -h), h), reverse[1], forward[1]),
        # d/d Re(n): the real part of JAX's gradient of a real function of a complex input
        (central(changed(2, 1e-6), changed(2, -1e-6), 1e-6), np.real(reverse[2]), None),
        (central(changed(3, h), changed(3, -h), h), reverse[3], None),
    ]
    return [abs(float(d) - fd) / abs(fd) for fd, *derivatives in checks
            for d in derivatives if d is not None]


@pytest.mark.slow
def test_interior_gradients_match_finite_differences():
    """Reverse and forward derivatives of |E|^2 at two interior points (the homogeneous
    sphere and the core-shell's metal shell) against central differences."""
    errors = _gradient_errors()
    # Measured <= 6.8e-9 (the central differences' own error).
    assert max(errors) < 1e-7
    # At the centres and on the z axes through them the derivatives stay finite.
    sol = cl.solve(CLUSTER, CENTRES, WAVELENGTH, N_ENV, lmax=4, **INCIDENCE)
    probes = jnp.asarray(np.concatenate([CENTRES, CENTRES + [0.0, 0.0, 30.0]]))
    intensity = lambda q: jnp.sum(jnp.abs(cl.near_field(sol, q, inside=True)[0]) ** 2)
    assert np.all(np.isfinite(jax.grad(intensity)(probes)))
    assert np.all(np.isfinite(jax.jacfwd(intensity)(probes)))
