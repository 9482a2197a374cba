"""Public API behaviour: shapes, broadcasting, jit/vmap/grad, dtypes, input checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmie as jm


def test_shapes_broadcast_particles_by_wavelengths_by_angles():
    p = jm.CoreShell(r_core=jnp.linspace(10, 40, 5), r_shell=60.0, n_core=2 + 0.1j, n_shell=1.5)
    wl = jnp.linspace(400, 800, 7)
    e = jm.efficiencies(p, wl)
    assert e.q_ext.shape == (5, 7)
    a, b = jm.coefficients(p, wl, n_max=12)
    assert a.shape == b.shape == (5, 7, 12)
    s1, s2 = jm.amplitudes(p, wl, jnp.linspace(0, np.pi, 3))
    assert s1.shape == s2.shape == (5, 7, 3)
    assert jm.multipoles(p, wl, n_max=12).q_ext_electric.shape == (5, 7, 12)
    assert jm.efficiencies(jm.Sphere(radius=50.0, n=1.5), 500.0).q_sca.shape == ()


def test_batch_equals_loop_and_vmap():
    radii = jnp.array([30.0, 70.0, 120.0])
    wl = jnp.array([450.0, 600.0])
    batch = jm.efficiencies(jm.Sphere(radius=radii, n=1.7 + 0.05j), wl, n_max=24)
    for i, r in enumerate(radii):
        single = jm.efficiencies(jm.Sphere(radius=r, n=1.7 + 0.05j), wl, n_max=24)
        np.testing.assert_allclose(batch.q_ext[i], single.q_ext, rtol=1e-14)
    vmapped = jax.vmap(lambda p: jm.efficiencies(p, wl, n_max=24).q_ext)(
        jm.Sphere(radius=radii, n=jnp.full(3, 1.7 + 0.05j)))
    np.testing.assert_allclose(vmapped, batch.q_ext, rtol=1e-14)


def test_jit_matches_eager_and_compiles_once():
    traces = []

    @jax.jit
    def q_sca(r, n):
        traces.append(1)
        return jm.efficiencies(jm.CoreShell(r_core=r / 2, r_shell=r, n_core=n, n_shell=1.4),
                               550.0, n_max=16).q_sca

    eager = jm.efficiencies(jm.CoreShell(r_core=40.0, r_shell=80.0, n_core=2.5 + 0.1j,
                                         n_shell=1.4), 550.0, n_max=16).q_sca
    np.testing.assert_allclose(q_sca(80.0, 2.5 + 0.1j), eager, rtol=1e-14)
    q_sca(90.0, 2.0 + 0.2j)
    assert len(traces) == 1


def test_multilayer_accepts_array_layers_with_a_batch():
    radii = jnp.array([[10.0, 20.0, 30.0], [15.0, 25.0, 40.0]])
    n = jnp.array([[2.0, 1.5 + 0.1j, 1.3], [2.0, 1.5 + 0.1j, 1.3]])
    e = jm.efficiencies(jm.Multilayer(radii=radii, n=n), 500.0)
    e0 = jm.efficiencies(jm.Multilayer(radii=[15.0, 25.0, 40.0], n=[2.0, 1.5 + 0.1j, 1.3]),
                         500.0)
    assert e.q_ext.shape == (2,)
    np.testing.assert_allclose(e.q_ext[1], e0.q_ext, rtol=1e-14)


def test_material_callable_is_evaluated_at_each_wavelength():
    drude = lambda wl: jnp.sqrt(1 - (wl / 150.0) ** 2 / (1 + 0.05j * wl / 150.0) + 0j)
    wl = jnp.array([400.0, 500.0, 600.0])
    e = jm.efficiencies(jm.Sphere(radius=40.0, n=drude), wl)
    for i, w in enumerate(wl):
        ref = jm.efficiencies(jm.Sphere(radius=40.0, n=complex(drude(w))), w)
        np.testing.assert_allclose(e.q_ext[i], ref.q_ext, rtol=1e-13)


def test_float32_in_float32_out_and_finite():
    p = jm.Sphere(radius=jnp.float32(80.0), n=jnp.complex64(1.5 + 0.1j))
    e = jm.efficiencies(p, jnp.float32(500.0))
    e64 = jm.efficiencies(jm.Sphere(radius=80.0, n=1.5 + 0.1j), 500.0)
    assert e.q_ext.dtype == jnp.float32
    # Documented float32 accuracy: ~1e-5 relative for moderate sizes.
    np.testing.assert_allclose(e.q_ext, e64.q_ext, rtol=1e-5)
    for x, m in [(1e-4, 1.5 + 0.1j), (300.0, 10 + 10j), (1000.0, 1.33)]:
        e = jm.efficiencies(jm.Sphere(radius=jnp.float32(x), n=jnp.complex64(m)),
                            jnp.float32(2 * np.pi))
        assert all(bool(jnp.isfinite(v)) for v in jax.tree_util.tree_leaves(e))


BAD_PARTICLES = [
    (lambda r, n: jm.Sphere(radius=r, n=n), (-1.0, 1.5), "radius"),
    (lambda r, n: jm.Sphere(radius=r, n=n), (float("nan"), 1.5), "radius"),
    (lambda r, n: jm.Sphere(radius=r, n=n), (50.0, 1.5 - 0.1j), "imaginary part of n"),
    (lambda r, n: jm.Sphere(radius=r, n=n), (50.0, complex("nan")), "n"),
    (lambda r, n: jm.CoreShell(r_core=r, r_shell=50.0, n_core=n, n_shell=2.0), (60.0, 1.5),
     "r_shell - r_core"),
    (lambda r, n: jm.Multilayer(radii=[10.0, r, 20.0], n=[n, 1.6, 1.7]), (5.0, 1.5),
     "radii[1] - radii[0]"),
]


@pytest.mark.parametrize("make, values, field", BAD_PARTICLES)
def test_bad_particles_raise_value_error_naming_the_field(make, values, field):
    """The same error whether the values are concrete (at construction, plain numbers or
    arrays) or traced (when the computation runs under jit)."""
    pattern = field.replace("[", r"\[").replace("]", r"\]")
    with pytest.raises(ValueError, match=pattern):
        make(*values)
    with pytest.raises(ValueError, match=pattern):
        make(*map(jnp.asarray, values))
    run = jax.jit(lambda r, n: jm.efficiencies(make(r, n), 500.0, n_max=8).q_ext)
    with pytest.raises(jax.errors.JaxRuntimeError, match=f"ValueError: {pattern}"):
        run(*values).block_until_ready()


@pytest.mark.parametrize("wavelength, n_env, field", [
    (-500.0, 1.0, "wavelength"), (0.0, 1.0, "wavelength"), (500.0, 0.0, "n_env"),
    (500.0, -1.33, "n_env"), (500.0, 1.33 + 0.1j, "n_env"), (float("nan"), 1.0, "wavelength"),
])
def test_bad_illumination_raises(wavelength, n_env, field):
    with pytest.raises(ValueError, match=field):
        jm.efficiencies(jm.Sphere(radius=50.0, n=1.5), wavelength, n_env=n_env)


def test_per_wavelength_index_array_raises_naming_the_fields():
    # A (P, W) index array is P x W constants, not a spectrum: with P != W it cannot
    # broadcast against the radii and must fail with a message that names the fix.
    wavelength = jnp.linspace(400.0, 800.0, 7)

    def make(n_core):
        return jm.CoreShell(r_core=jnp.full(4, 40.0), r_shell=jnp.full(4, 60.0),
                            n_core=n_core, n_shell=1.5)

    with pytest.raises(ValueError, match=r"n_core \(4, 7\).*materials.tabulated"):
        make(jnp.full((4, 7), 2.0 + 0.1j))
    with pytest.raises(ValueError, match=r"n_core \(4, 7\)"):
        jax.jit(lambda n: jm.efficiencies(make(n), wavelength, n_max=8).q_ext)(
            jnp.full((4, 7), 2.0 + 0.1j))


def test_layer_count_mismatch_raises():
    with pytest.raises(ValueError, match="radii has 3 layers but n has 2"):
        jm.Multilayer(radii=[1.0, 2.0, 3.0], n=[1.5, 1.6])


def test_n_max_required_under_jit():
    f = jax.jit(lambda r: jm.efficiencies(jm.Sphere(radius=r, n=1.5), 500.0).q_sca)
    with pytest.raises(ValueError, match="pass a static n_max|Pass a static n_max"):
        f(50.0)
    # Eager jax.grad sees concrete primal values: n_max is chosen automatically.
    g = jax.grad(lambda r: jm.efficiencies(jm.Sphere(radius=r, n=1.5), 500.0).q_sca)(50.0)
    assert np.isfinite(float(g))


def test_validate_reports_traced_bad_input_under_jit(monkeypatch):
    monkeypatch.setenv("JAXMIE_ON_ERROR", "off")  # validate's error value instead

    @jax.jit
    def q_sca(r):
        p = jm.Sphere(radius=r, n=1.5)
        return jm.validate(p, 500.0), jm.efficiencies(p, 500.0, n_max=8).q_sca

    err, _ = q_sca(-3.0)
    with pytest.raises(Exception, match="radius must be finite and > 0"):
        err.throw()
    err, value = q_sca(50.0)
    err.throw()
    assert np.isfinite(float(value))
    with pytest.raises(ValueError, match="r_shell - r_core"):
        jm.validate(jm.CoreShell(r_core=2.0, r_shell=1.0, n_core=1.5, n_shell=1.5), 500.0)


def test_particles_are_pytrees_that_vmap_and_grad():
    p = jm.CoreShell(r_core=30.0, r_shell=50.0, n_core=2.0 + 0.1j, n_shell=1.5 + 0j)
    leaves, treedef = jax.tree_util.tree_flatten(p)
    assert len(leaves) == 4
    assert jax.tree_util.tree_unflatten(treedef, leaves) == p
    grads = jax.grad(lambda p: jm.efficiencies(p, 500.0, n_max=12).q_sca)(p)
    assert isinstance(grads, jm.CoreShell)
    assert all(np.isfinite(complex(v)) for v in jax.tree_util.tree_leaves(grads))


@pytest.mark.parametrize("particle", [
    jm.Sphere(radius=40.0, n=1.5 + 0.1j),
    jm.CoreShell(r_core=20.0, r_shell=40.0, n_core=0.2 + 3j, n_shell=1.5),
    jm.Multilayer(radii=[10.0, 20.0, 40.0], n=[1.5, 0.2 + 3j, 2.0]),
], ids=["sphere", "core-shell", "3 layers"])
def test_dipole_only_series_has_the_dipole_coefficients(particle):
    # n_max = 1 leaves no order ratios at all (empty running products): a_1, b_1 must be
    # those of any longer series, which do not depend on the truncation.
    a1, b1 = jm.coefficients(particle, 500.0, n_max=1)
    a, b = jm.coefficients(particle, 500.0, n_max=16)
    assert a1.shape == b1.shape == (1,)
    np.testing.assert_allclose(a1[0], a[0], rtol=1e-14)
    np.testing.assert_allclose(b1[0], b[0], rtol=1e-14)
