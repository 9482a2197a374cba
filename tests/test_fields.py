"""Near fields (jaxmie._fields) against scattnlay's fieldnlay, miepython and physics.

Error metric: max over components of |E - E_ref| divided by the local |E_ref| (Euclidean
norm of the three components), the same for H. scattnlay reports H in units of E_0 / Z_0
(with Z_0 = mu_0 c, mu_0 = 4 pi 1e-7) for a host of index 1, jaxmie relative to the
incident H_0, so scattnlay's H is multiplied by Z_0 (the tests use n_env = 1 with scattnlay,
which takes relative indices and coordinates in units of 1/k).
"""

import importlib
import itertools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmie as jm
from jaxmie import _vsh as vsh

# jm.fields is the function; the module (internal helpers) is imported by its path.
F = importlib.import_module("jaxmie._fields")

scattnlay = pytest.importorskip("scattnlay")

Z0 = 4e-7 * np.pi * 299792458.0
WAVELENGTH = 500.0
K = 2 * np.pi / WAVELENGTH

# (radii nm, indices): homogeneous, metal, core-shell with metal shell, Au/Si-like, 3 layers
# with a metal middle, and a thick lossy shell (|Im m x| ~ 40) where Q-ratios are tiny.
CASES = {
    "dielectric": ([150.0], [1.5 + 0.01j]),
    "metal": ([60.0], [0.3 + 3.0j]),
    "silica_silver": ([50.0, 70.0], [1.45 + 0j, 0.13 + 3.1j]),
    "gold_silicon": ([20.0, 100.0], [0.313 + 2.778j, 3.99 + 0.0228j]),
    "three_layer": ([30.0, 45.0, 90.0], [2.0 + 0.1j, 0.2 + 4.0j, 1.4 + 0j]),
    "thick_lossy_shell": ([40.0, 200.0], [1.5 + 0j, 1.0 + 1.6j]),
}
N_MAX = 40


def _fields(particle, points, **kwargs):
    """jaxmie.fields at (N, 3) points, padded to a multiple of 48 so that the tests share
    compilations (the padding point is discarded)."""
    points = np.asarray(points, float)
    count = points.shape[0]
    padded = np.concatenate([points, np.tile([[1.0, 2.0, 3.0]], (-count % 48, 1))])
    kwargs.setdefault("n_max", N_MAX)
    e, h = F.fields(particle, kwargs.pop("wavelength", WAVELENGTH), padded, **kwargs)
    return np.asarray(e)[:count], np.asarray(h)[:count]


def _scattnlay(radii, n, positions, n_max):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, e, h = scattnlay.fieldnlay(K * np.asarray(radii), np.asarray(n), *(K * positions.T),
                                      nmax=n_max)
    return e, h * Z0


def _random_points(radii, per_region, rng):
    """Points at random directions in every region: core (away from the centre, where
    scattnlay loses digits), each shell, and outside up to 1.5 r_out."""
    edges = [0.1 * radii[0], *radii, 1.5 * radii[-1]]
    out = []
    for lo, hi in itertools.pairwise(edges):
        r = rng.uniform(lo + 1e-3 * (hi - lo), hi - 1e-3 * (hi - lo), per_region)
        d = rng.normal(size=(per_region, 3))
        out.append(r[:, None] * d / np.linalg.norm(d, axis=1, keepdims=True))
    return np.concatenate(out)


def _relative_error(value, ref):
    return np.max(np.abs(np.asarray(value) - ref), axis=-1) / np.linalg.norm(ref, axis=-1)


@pytest.mark.parametrize("name", CASES)
def test_matches_scattnlay_in_every_region(name):
    radii, n = CASES[name]
    points = _random_points(radii, 12, np.random.default_rng(1))
    e, h = _fields(jm.Multilayer(radii=radii, n=n), points)
    e_ref, h_ref = _scattnlay(radii, n, points, N_MAX)
    assert np.max(_relative_error(e, e_ref)) < 1e-8
    assert np.max(_relative_error(h, h_ref)) < 1e-8


@pytest.mark.slow
def test_default_orders_converge():
    """The near-field rule converges the field at the surface to 1e-8 (scattnlay at 60)."""
    radii, n = CASES["gold_silicon"]
    d = np.random.default_rng(2).normal(size=(20, 3))
    points = radii[-1] * (1 + 1e-9) * d / np.linalg.norm(d, axis=1, keepdims=True)
    e, _ = F.fields(jm.Multilayer(radii=radii, n=n), WAVELENGTH, points)
    e_ref, _ = _scattnlay(radii, n, points, 60)
    assert np.max(_relative_error(e, e_ref)) < 1e-8


def test_matches_miepython_lossless_sphere():
    """miepython's near fields (a third code) for a lossless sphere, inside and out.

    (miepython 3.3 disagrees with both scattnlay and jaxmie by ~1e-2 inside absorbing
    spheres, so only the lossless interior is compared.)"""
    mf = pytest.importorskip("miepython.field")
    radius, m = 60.0, 1.5
    points = _random_points([radius], 10, np.random.default_rng(3))
    e, h = _fields(jm.Multilayer(radii=[radius], n=[m]), points)
    e_ref, h_ref = mf.eh_near_cartesian(WAVELENGTH, 2 * radius, m, 1.0, *points.T,
                                        n_pole=N_MAX)
    assert np.max(_relative_error(e, np.asarray(e_ref).T)) < 1e-8
    assert np.max(_relative_error(h, np.asarray(h_ref).T)) < 1e-8


@pytest.mark.slow
def test_host_medium_and_y_polarisation():
    """n_env scales wavelength and indices (scattnlay in relative units); y polarisation
    equals scattnlay's x-polarised field rotated by 90 degrees about z."""
    radii, n = CASES["silica_silver"]
    n_env = 1.33
    points = _random_points(radii, 6, np.random.default_rng(4))
    p = jm.Multilayer(radii=radii, n=n)
    e, h = F.fields(p, WAVELENGTH, points, n_env=n_env, n_max=N_MAX, polarization="y")
    k = K * n_env
    rotated = np.stack([points[:, 1], -points[:, 0], points[:, 2]], -1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, e_ref, h_ref = scattnlay.fieldnlay(k * np.asarray(radii), np.asarray(n) / n_env,
                                              *(k * rotated.T), nmax=N_MAX)
    turn = lambda v: np.stack([-v[:, 1], v[:, 0], v[:, 2]], -1)
    assert np.max(_relative_error(e, turn(e_ref))) < 1e-8
    assert np.max(_relative_error(h, turn(h_ref * Z0))) < 1e-8


@pytest.mark.slow
def test_scattered_and_incident_options():
    radii, n = CASES["three_layer"]
    points = _random_points(radii, 5, np.random.default_rng(5))
    p = jm.Multilayer(radii=radii, n=n)
    total = F.fields(p, WAVELENGTH, points, n_max=N_MAX)
    scattered = F.fields(p, WAVELENGTH, points, n_max=N_MAX, field="scattered")
    incident = F.fields(p, WAVELENGTH, points, n_max=N_MAX, field="incident")
    phase = np.exp(1j * K * points[:, 2])
    np.testing.assert_allclose(incident[0][:, 0], phase, rtol=1e-14)
    np.testing.assert_allclose(incident[1][:, 1], phase, rtol=1e-14)
    e_ref, h_ref = _scattnlay(radii, n, points, N_MAX)
    e_ref[:, 0] -= phase  # scattered = total - incident everywhere
    h_ref[:, 1] -= phase
    e_s, h_s = (np.asarray(v) for v in scattered)
    assert np.max(np.abs(e_s - e_ref)) < 1e-8 * np.max(np.abs(e_ref))
    assert np.max(np.abs(h_s - h_ref)) < 1e-8 * np.max(np.abs(h_ref))
    np.testing.assert_allclose(np.asarray(total[0]), e_s + np.asarray(incident[0]), atol=1e-13)


@pytest.mark.parametrize("name", ["gold_silicon", "three_layer", "thick_lossy_shell"])
def test_tangential_fields_continuous(name):
    """Tangential E, H continuous at every interface; normal D = m^2 E continuous."""
    radii, n = CASES[name]
    p = jm.Multilayer(radii=radii, n=n)
    d = np.random.default_rng(6).normal(size=(8, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    eps = 1e-12
    index = [*n, 1.0]
    for layer, radius in enumerate(radii):
        inner, outer = radius * (1 - eps) * d, radius * (1 + eps) * d
        (e_i, h_i), (e_o, h_o) = (_fields(p, q) for q in (inner, outer))
        for a, b in ((e_i, e_o), (h_i, h_o)):
            a, b = np.asarray(a), np.asarray(b)
            tangential = lambda v: v - np.sum(v * d, -1, keepdims=True) * d
            scale = np.linalg.norm(a, axis=-1)
            assert np.max(np.linalg.norm(tangential(a) - tangential(b), axis=-1) / scale) < 1e-9
        normal_i = index[layer] ** 2 * np.sum(np.asarray(e_i) * d, -1)
        normal_o = index[layer + 1] ** 2 * np.sum(np.asarray(e_o) * d, -1)
        scale = np.abs(index[layer] ** 2) * np.linalg.norm(np.asarray(e_i), axis=-1)
        assert np.max(np.abs(normal_i - normal_o) / scale) < 1e-9


def test_strongly_absorbing_shell_is_finite_and_continuous():
    """Im(m) k d ~ 940 in the shell: psi_n(m x) would overflow by ~400 decades, and
    scattnlay returns NaN/0 inside. jaxmie stays finite; outside it matches scattnlay; the
    field decays into the shell as exp(-Im(m) k depth) (skin effect, the independent check
    inside); the core is screened to zero; tangential E is continuous at the surface."""
    radii, n = [50.0, 300.0], [1.5 + 0j, 1.0 + 300j]
    p = jm.Multilayer(radii=radii, n=n)
    r = np.array([10.0, 49.9, 50.1, 150.0, 280.0, 290.0, 300.0 * (1 - 1e-12),
                  300.0 * (1 + 1e-12), 310.0, 400.0])
    direction = np.array([0.6, 0.0, 0.8])
    e, h = _fields(p, r[:, None] * direction)
    e, h = np.asarray(e), np.asarray(h)
    assert np.all(np.isfinite(e)) and np.all(np.isfinite(h))
    magnitude = np.linalg.norm(e, axis=-1)
    assert np.all(magnitude[:3] < 1e-300)
    decay = np.log(magnitude[5] / magnitude[4]) / (K * np.imag(n[1]) * 10.0)
    assert abs(decay - 1) < 1e-2
    tangential = lambda v: v - np.sum(v * direction, -1, keepdims=True) * direction
    jump = np.linalg.norm(tangential(e[6]) - tangential(e[7])) / magnitude[7]
    assert jump < 1e-9
    e_ref, _ = _scattnlay(radii, n, r[-3:, None] * direction, N_MAX)
    assert np.max(_relative_error(e[-3:], e_ref)) < 1e-8
    grad = jax.grad(lambda q: jnp.sum(jnp.abs(F.fields(p, WAVELENGTH, q, n_max=N_MAX)[0]) ** 2))(
        jnp.asarray(r[:, None] * direction))
    assert np.all(np.isfinite(grad))


@pytest.mark.slow
def test_far_field_matches_amplitudes():
    """E_s (-ikr) exp(-ikr) -> (cos(phi) S2, -sin(phi) S1) in (theta, phi) (B&H 4.74),
    extrapolated in 1/kr from two large distances (error O(1/(kr)^2))."""
    radii, n = CASES["three_layer"]
    p = jm.Multilayer(radii=radii, n=n)
    theta, phi = np.array([0.3, 1.2, 2.5]), np.array([0.4, 1.0, 2.2])
    direction = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi),
                          np.cos(theta)], -1)
    theta_hat = np.stack([np.cos(theta) * np.cos(phi), np.cos(theta) * np.sin(phi),
                          -np.sin(theta)], -1)
    phi_hat = np.stack([-np.sin(phi), np.cos(phi), np.zeros_like(phi)], -1)
    estimates = []
    for kr in (2e5, 4e5):
        e, _ = F.fields(p, WAVELENGTH, kr / K * direction, n_max=N_MAX, field="scattered")
        e = np.asarray(e) * (-1j * kr) * np.exp(-1j * kr)
        estimates.append(np.stack([np.sum(e * theta_hat, -1), np.sum(e * phi_hat, -1)]))
    limit = 2 * estimates[1] - estimates[0]
    s1, s2 = jm.amplitudes(p, WAVELENGTH, jnp.asarray(theta), n_max=N_MAX)
    expected = np.stack([np.cos(phi) * np.asarray(s2), -np.sin(phi) * np.asarray(s1)])
    scale = np.max(np.abs(expected))
    assert np.max(np.abs(limit - expected)) < 1e-7 * scale


def _intensity(p_fn, n_max=N_MAX):
    def f(position, radii, n_re):
        p = p_fn(radii, n_re)
        e, _ = F.fields(p, WAVELENGTH, position, n_max=n_max)
        return jnp.sum(jnp.abs(e) ** 2)
    return f


def test_origin_and_axis_are_finite_with_gradients():
    radii, n = CASES["gold_silicon"]
    p = jm.Multilayer(radii=radii, n=n)
    points = np.array([[0.0, 0, 0], [0, 0, 10.0], [0, 0, -60.0], [0, 0, 150.0],
                       [0, 0, -20.0], [0, 0, 100.0]])
    e, h = _fields(p, points)
    assert np.all(np.isfinite(e)) and np.all(np.isfinite(h))
    # On the axis scattnlay is exact. At the centre (where scattnlay loses digits) compare
    # with a Richardson extrapolation of scattnlay's field averaged over +-x, +-y, +-z at
    # 0.5 and 1 nm: the odd terms cancel, the r^2 term is eliminated, r^4 leaves ~4e-9.
    e_ref, h_ref = _scattnlay(radii, n, points[1:], N_MAX)
    assert np.max(_relative_error(e[1:], e_ref)) < 1e-8
    assert np.max(_relative_error(h[1:], h_ref)) < 1e-8
    star = np.concatenate([np.eye(3), -np.eye(3)])
    mean_at = lambda r: _scattnlay(radii, n, r * star, N_MAX)[0].mean(0)
    centre = (4 * mean_at(0.5) - mean_at(1.0)) / 3
    assert np.max(_relative_error(e[:1], centre)) < 2e-8
    f = lambda q: jnp.sum(jnp.abs(F.fields(p, WAVELENGTH, q, n_max=N_MAX)[0]) ** 2)
    grads = jax.jit(jax.vmap(jax.grad(f)))(jnp.asarray(points))
    jac = jax.jit(jax.jacfwd(lambda q: jnp.imag(F.fields(p, WAVELENGTH, q, n_max=N_MAX)[1])))(
        jnp.zeros(3))
    assert np.all(np.isfinite(grads)) and np.all(np.isfinite(jac))
    # On the axis the gradient is the true one: compare with a central difference.
    q = jnp.asarray([0.0, 0.0, 60.0])
    step = 1e-4
    fd = [(f(q + step * e_i) - f(q - step * e_i)) / (2 * step) for e_i in jnp.eye(3)]
    np.testing.assert_allclose(jax.grad(f)(q), fd, rtol=1e-6, atol=1e-9 * abs(f(q)))


def test_gradients_match_finite_differences():
    """d|E|^2 at a point in the shell with respect to position, radii and indices."""
    n_core_im, n_shell_im = 2.778, 0.0228

    def particle(radii, n_re):
        return jm.CoreShell(r_core=radii[0], r_shell=radii[1], n_core=n_re[0] + 1j * n_core_im,
                            n_shell=n_re[1] + 1j * n_shell_im)

    f = _intensity(particle)
    args = (jnp.asarray([30.0, -10.0, 45.0]), jnp.asarray([20.0, 100.0]),
            jnp.asarray([0.313, 3.99]))
    grads = jax.grad(f, argnums=(0, 1, 2))(*args)
    for i, (arg, g) in enumerate(zip(args, grads)):
        for j in range(arg.shape[0]):
            step = 1e-5 * max(1.0, float(abs(arg[j])))
            plus = list(args)
            minus = list(args)
            plus[i] = arg.at[j].add(step)
            minus[i] = arg.at[j].add(-step)
            fd = (f(*plus) - f(*minus)) / (2 * step)
            assert abs(g[j] - fd) <= 1e-6 * abs(fd) + 1e-8 * float(f(*args)), (i, j, g[j], fd)


def test_jit_vmap_over_1e5_positions():
    radii, n = CASES["gold_silicon"]
    p = jm.Multilayer(radii=jnp.asarray(radii), n=jnp.asarray(n))
    rng = np.random.default_rng(7)
    points = rng.uniform(-200, 200, (100_000, 3))

    @jax.jit
    def run(q):
        return F.fields(p, WAVELENGTH, q, n_max=24)

    e, h = run(jnp.asarray(points))
    assert e.shape == (100_000, 3) and np.all(np.isfinite(e)) and np.all(np.isfinite(h))
    pick = rng.choice(100_000, 20, replace=False)
    pick = pick[np.linalg.norm(points[pick], axis=1) > 2.0]
    e_ref, _ = _scattnlay(radii, n, points[pick], 24)
    assert np.max(_relative_error(np.asarray(e)[pick], e_ref)) < 1e-8


@pytest.mark.slow
def test_batches_and_shapes():
    p = jm.CoreShell(r_core=jnp.asarray([20.0, 30.0]), r_shell=jnp.asarray([60.0, 80.0]),
                     n_core=1.5 + 0.1j, n_shell=2.0 + 0j)
    wavelength = jnp.asarray([450.0, 500.0, 650.0])
    points = jnp.zeros((4, 5, 3)).at[..., 0].set(jnp.linspace(0, 100, 5))
    e, h = F.fields(p, wavelength, points, n_max=16)
    assert e.shape == h.shape == (2, 3, 4, 5, 3)
    one, _ = F.fields(jm.CoreShell(r_core=30.0, r_shell=80.0, n_core=1.5 + 0.1j, n_shell=2.0),
                      650.0, points, n_max=16)
    np.testing.assert_allclose(e[1, 2], one, rtol=1e-13, atol=1e-15)
    fmap = F.field_map(p, 500.0, n_points=9, half_width=100.0, n_max=16)
    assert fmap.e2.shape == (2, 9, 9) and fmap.u.shape == (9,)


def test_bad_input_and_traced_sizes():
    p = jm.Sphere(radius=50.0, n=1.5)
    with pytest.raises(ValueError, match="field"):
        F.fields(p, 500.0, jnp.zeros(3), field="near")
    with pytest.raises(ValueError, match="polarization"):
        F.fields(p, 500.0, jnp.zeros(3), polarization="z")
    with pytest.raises(ValueError, match="positions"):
        F.fields(p, 500.0, jnp.zeros(2))
    with pytest.raises(ValueError, match="n_max"):
        jax.jit(lambda r: F.fields(jm.Sphere(radius=r, n=1.5), 500.0, jnp.zeros(3))[0])(50.0)


def test_coefficients_against_closed_forms():
    """Outer a_n, b_n agree with jaxmie.coefficients (another route); a homogeneous
    sphere's c_n, d_n agree with Bohren & Huffman 4.52-4.53 evaluated with scipy."""
    from scipy.special import spherical_jn, spherical_yn

    radii, n = CASES["three_layer"]
    p = jm.Multilayer(radii=radii, n=n)
    c = F.internal_coefficients(p, WAVELENGTH, n_max=24)
    a, b = jm.coefficients(p, WAVELENGTH, n_max=24)
    np.testing.assert_allclose(c.a_out, a, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(c.b_out, b, rtol=1e-10, atol=1e-14)
    assert np.all(c.a[0] == 0) and np.all(c.b[0] == 0)

    radius, m = 60.0, 1.5 + 0.1j
    x = K * radius
    cs = F.internal_coefficients(jm.Sphere(radius=radius, n=m), WAVELENGTH, n_max=12)
    orders = np.arange(1, 13)
    j = lambda nu, z: spherical_jn(nu, z)
    dj = lambda nu, z: spherical_jn(nu, z, derivative=True)
    h = spherical_jn(orders, x) + 1j * spherical_yn(orders, x)
    dh = spherical_jn(orders, x, True) + 1j * spherical_yn(orders, x, True)
    xj, xjp = x * j(orders, x), j(orders, x) + x * dj(orders, x)
    xh, xhp = x * h, h + x * dh
    mxj = m * x * j(orders, m * x)
    mxjp = j(orders, m * x) + m * x * dj(orders, m * x)
    c_ref = (j(orders, x) * xhp - h * xjp) / (j(orders, m * x) * xhp - h * mxjp)
    d_ref = m * (j(orders, x) * xhp - h * xjp) / (m**2 * j(orders, m * x) * xhp - h * mxjp)
    del xj, xh, mxj
    np.testing.assert_allclose(cs.c[0], c_ref, rtol=1e-9)
    np.testing.assert_allclose(cs.d[0], d_ref, rtol=1e-9)


def test_vector_harmonics_curl():
    """curl M = k N and curl N = k M (B&H 4.19-4.20), by automatic differentiation,
    including points on the z axis; degrees 1..6, both kinds, complex k."""
    k = 0.05 + 0.01j
    points = jnp.asarray([[10.0, -20.0, 15.0], [0.0, 0.0, 30.0], [0.0, 0.0, -12.0],
                          [25.0, 5.0, 0.0]])

    def curl_of(p, kind):
        """(values, curls) of the four harmonics at one point, each (4, n, 3)."""
        value = lambda q: jnp.stack(vsh.vector_spherical_harmonics(q, k, 6, kind))
        jac = (jax.jacfwd(lambda q: jnp.real(value(q)))(p)
               + 1j * jax.jacfwd(lambda q: jnp.imag(value(q)))(p))  # (..., component, d/dq)
        curl = jnp.stack([jac[..., 2, 1] - jac[..., 1, 2], jac[..., 0, 2] - jac[..., 2, 0],
                          jac[..., 1, 0] - jac[..., 0, 1]], -1)
        return value(p), curl

    for kind in (1, 3):
        values, curls = jax.jit(jax.vmap(lambda p: curl_of(p, kind)))(points)
        # order in VectorHarmonics: m_o1n, m_e1n, n_o1n, n_e1n; curl M_o = k N_o, etc.
        target = k * values[:, jnp.array([2, 3, 0, 1])]
        scale = np.max(np.abs(target), axis=-1, keepdims=True)
        assert np.max(np.abs(curls - target) / scale) < 1e-9, kind
