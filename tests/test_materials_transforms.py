"""Materials under jax transformations: gradients in wavelength, jit, vmap, range handling."""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from jax.test_util import check_grads  # noqa: E402

import jaxmie  # noqa: E402
import jaxmie.materials as jm  # noqa: E402
from jaxmie.materials import _base as base  # noqa: E402


def _parts(material):
    """f(wavelength) -> (n, k) stacked, real, for check_grads."""
    return jax.jit(lambda w: jnp.stack([jnp.real(material(w)), jnp.imag(material(w))]))


@pytest.mark.parametrize("name", ["Au", "SiO2", "ZnS/Amotchkina"])
def test_wavelength_gradients_match_finite_differences(name):
    material = jm.get(name)
    lo, hi = material.wavelength_range
    if isinstance(material, jm.Tabulated):
        x = np.asarray(material.wavelength)
        between = 0.37 * x[3:6] + 0.63 * x[4:7]
        at_nodes = x[3:6]
    else:
        between = lo + (hi - lo) * np.array([0.21, 0.5, 0.83])
        at_nodes = between
    # order 1 and 2 between nodes, order 1 exactly at nodes (f' is continuous there)
    check_grads(_parts(material), (jnp.asarray(between),), order=2, modes=("fwd", "rev"),
                eps=1e-3)
    check_grads(_parts(material), (jnp.asarray(at_nodes),), order=1, modes=("fwd", "rev"),
                eps=1e-6)


def test_derivative_continuous_and_curvature_bounded_across_nodes():
    material = jm.get("Au")  # Johnson & Christy: 49 nodes, strongly varying n and k
    x = np.asarray(material.wavelength)
    values = np.stack([np.asarray(material.n), np.asarray(material.k)])
    delta = 1e-6
    nodes = x[1:-1]
    queries = jnp.asarray(np.concatenate([nodes - delta, nodes + delta]))
    parts = lambda w: jnp.stack([jnp.real(material(w)), jnp.imag(material(w))])
    first = jax.jit(jax.vmap(jax.jacfwd(parts)))(queries)          # (2M, 2)
    second = jax.jit(jax.vmap(jax.jacfwd(jax.jacfwd(parts))))(queries)
    left, right = np.split(np.asarray(first), 2)
    secants = np.abs(np.diff(values, axis=1) / np.diff(x))
    scale = secants.max(axis=1)
    assert np.all(np.abs(left - right) <= 1e-4 * scale)  # C1: no jump in dn/dl, dk/dl
    bound = 12.0 * scale / np.min(np.diff(x))             # |f''| <= 12 max|secant| / min h
    assert np.all(np.isfinite(second))
    assert np.all(np.abs(np.asarray(second)) <= bound)


def test_jit_vmap_and_eager_agree_without_recompiling():
    material = jm.get("Ag")
    w = jnp.linspace(300.0, 1000.0, 64)
    eager = material(w)
    np.testing.assert_allclose(jax.jit(material)(w), eager, rtol=1e-15)
    np.testing.assert_allclose(jax.vmap(material)(w), eager, rtol=1e-15)
    np.testing.assert_allclose(material(w.reshape(8, 8)), eager.reshape(8, 8), rtol=1e-15)
    size = base._kernel_jit._cache_size()
    jm.get("Ag")(w + 1.0)
    jm.get("Cu")(w)  # a table of another metal in the same length bucket shares the kernel
    assert base._kernel_jit._cache_size() == size


def test_out_of_range_under_jit_raises_when_it_runs(monkeypatch):
    """No silent clamping: traced wavelengths outside the data raise when the computation
    runs, naming the material, its range and the values (as eagerly); JAXMIE_ON_ERROR=nan
    gives NaN instead; in_range and validate report it as values."""
    material = jm.get("SiO2")
    w = jnp.array([150.0, 500.0, 7000.0])
    inside = np.asarray(jax.jit(material.in_range)(w))
    np.testing.assert_array_equal(inside, [False, True, False])
    with pytest.raises(jax.errors.JaxRuntimeError,
                       match=r"SiO2/Malitson.*210-6700 nm; got \[150.0, 7000.0\]"):
        jax.jit(lambda w: material(w))(w).block_until_ready()
    ok = jnp.array([300.0, 600.0])
    np.testing.assert_allclose(jax.jit(lambda w: material(w))(ok), material(ok), rtol=1e-15)
    monkeypatch.setenv("JAXMIE_ON_ERROR", "nan")
    assert np.all(np.isnan(np.asarray(jax.jit(lambda w: material(w))(w))))
    error = jax.jit(jm.validate)(material, w)
    with pytest.raises(Exception, match=r"SiO2/Malitson.*210-6700 nm"):
        error.throw()
    assert jm.validate(material, jnp.array([300.0, 600.0])).get() is None


def test_concrete_out_of_range_raises_even_under_grad():
    material = jm.get("Au")
    with pytest.raises(ValueError, match="Au/Johnson"):
        jax.grad(lambda w: jnp.real(material(w)))(2500.0)
    with pytest.raises(ValueError, match="> 0 nm"):
        jm.Drude(9.0, 0.1)(-1.0)


def test_materials_inside_particles():
    # the example: a material wherever jaxmie accepts an index, differentiable in
    # wavelength through the dispersion
    gold, silica = jm.get("Au"), jm.get("SiO2")

    def q_ext(wavelength):
        particle = jaxmie.CoreShell(r_core=30.0, r_shell=45.0, n_core=gold, n_shell=silica)
        return jaxmie.efficiencies(particle, wavelength, n_env=1.33, n_max=8).q_ext

    value, slope = jax.jit(jax.value_and_grad(q_ext))(560.0)
    assert np.isfinite(value) and value > 0
    assert np.isfinite(slope) and slope != 0.0
