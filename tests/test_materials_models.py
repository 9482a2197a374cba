"""Analytic models against their formulas and published fits; pytree behaviour; dtypes."""

import dataclasses

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from jax.test_util import check_grads  # noqa: E402

import jaxmie.materials as jm  # noqa: E402

HC = 1239.8419843320026  # eV nm (CODATA h c)
WAVELENGTH = np.linspace(250.0, 1600.0, 64)


def _root(eps):
    """Reference n + ik: the square root with k >= 0."""
    n = np.sqrt(eps.astype(complex))
    return np.where(n.imag < 0, -n, n)


def test_constant():
    got = jm.Constant(1.5 + 0.01j)(jnp.asarray(WAVELENGTH).reshape(8, 8))
    assert got.shape == (8, 8) and got.dtype == jnp.complex128
    np.testing.assert_array_equal(got, 1.5 + 0.01j)


def test_drude_matches_formula():
    omega_p, gamma, eps_inf = 9.03, 0.053, 1.2
    e = HC / WAVELENGTH
    expected = _root(eps_inf - omega_p**2 / (e**2 + 1j * gamma * e))
    got = jm.Drude(omega_p, gamma, eps_inf)(jnp.asarray(WAVELENGTH))
    np.testing.assert_allclose(got, expected, rtol=1e-13)


def test_lossless_drude_metal_is_purely_imaginary_with_positive_k():
    got = np.asarray(jm.Drude(9.0, 0.0)(jnp.asarray(WAVELENGTH)))
    assert np.all(got.imag > 0) and np.all(got.real >= 0)


def test_drude_lorentz_matches_formula():
    params = dict(omega_p=8.0, gamma=0.06, delta_eps=[1.2, 0.5], omega_0=[2.8, 4.1],
                  gamma_0=[0.4, 0.9], eps_inf=1.5)
    e = HC / WAVELENGTH
    eps = params["eps_inf"] - params["omega_p"] ** 2 / (e * (e + 1j * params["gamma"]))
    for de, w0, g0 in zip(params["delta_eps"], params["omega_0"], params["gamma_0"], strict=True):
        eps = eps + de * w0**2 / (w0**2 - e**2 - 1j * g0 * e)
    got = jm.DrudeLorentz(**params)(jnp.asarray(WAVELENGTH))
    np.testing.assert_allclose(got, _root(eps), rtol=1e-13)
    assert np.all(np.asarray(got).imag >= 0)


def test_rakic_lorentz_drude_gold_reproduces_database_table():
    # Rakic et al., Appl. Opt. 37, 5271 (1998), Table 1 (Au, LD model); the
    # refractiveindex.info table Au/Rakic-LD was generated from the same model (4 digits).
    gold = jm.drude_lorentz_rakic(
        omega_p=9.03, f0=0.760, gamma0=0.053,
        f=[0.024, 0.010, 0.071, 0.601, 4.384], gamma=[0.241, 0.345, 0.870, 2.494, 2.214],
        omega=[0.415, 0.830, 2.969, 4.304, 13.32])
    table = jm.get("Au/Rakic-LD")
    w = np.asarray(table.wavelength)
    got = np.asarray(gold(jnp.asarray(w)))
    np.testing.assert_allclose(got.real, np.asarray(table.n), rtol=2e-4)
    np.testing.assert_allclose(got.imag, np.asarray(table.k), rtol=2e-4)


def test_sellmeier_in_nm_matches_database_formula_1():
    # Malitson fused silica, coefficients from the database (formula 1, lambda in um)
    b = [0.6961663, 0.4079426, 0.8974794]
    c_um = [0.0684043, 0.1162414, 9.896161]
    sellmeier = jm.Sellmeier(b=b, c=[1000.0 * v for v in c_um])
    w = jnp.linspace(210.0, 6700.0, 77)
    np.testing.assert_allclose(sellmeier(w), jm.get("SiO2/Malitson")(w), rtol=1e-14)


def test_cauchy():
    coefficients = [1.458, 3540.0, 1.2e7]  # nm^2, nm^4
    got = jm.Cauchy(coefficients)(jnp.asarray(WAVELENGTH))
    expected = 1.458 + 3540.0 / WAVELENGTH**2 + 1.2e7 / WAVELENGTH**4
    np.testing.assert_allclose(got, expected, rtol=1e-14)


def test_parameter_gradients():
    w = jnp.array([420.0, 633.0, 910.0])

    def drude(params):
        omega_p, gamma = params
        n = jm.Drude(omega_p, gamma)(w)
        return jnp.stack([jnp.real(n), jnp.imag(n)])

    check_grads(jax.jit(drude), (jnp.array([9.0, 0.07]),), order=2, modes=("fwd", "rev"))

    def lorentz(delta_eps):
        n = jm.DrudeLorentz(0.0, 0.0, delta_eps, jnp.array([3.0, 5.0]), jnp.array([0.3, 0.5]),
                            eps_inf=1.0)(w)
        return jnp.stack([jnp.real(n), jnp.imag(n)])

    check_grads(jax.jit(lorentz), (jnp.array([1.0, 2.0]),), order=1, modes=("fwd", "rev"))

    def sellmeier(b):
        return jnp.real(jm.Sellmeier(b=b, c=jnp.array([70.0, 10_000.0]))(w))

    check_grads(jax.jit(sellmeier), (jnp.array([1.1, 0.9]),), order=1, modes=("fwd", "rev"))

    def formula(coefficients):
        material = jm.Formula(coefficients=coefficients, formula=1,
                              wavelength_range=(210.0, 6700.0))
        return jnp.real(material(w))

    check_grads(jax.jit(formula), (jnp.array([0.0, 0.696, 0.068, 0.408, 0.116]),), order=1,
                modes=("fwd", "rev"))

    def table(k):
        material = jm.tabulated(np.array([400.0, 600.0, 800.0, 1000.0]),
                                np.array([1.5, 1.45, 1.42, 1.41]),
                                np.array([0.1, 0.05, 0.03, 0.02]))
        material = dataclasses.replace(material, k=k)
        return jnp.imag(material(w))

    check_grads(jax.jit(table), (jnp.array([0.1, 0.05, 0.03, 0.02]),), order=1,
                modes=("fwd", "rev"))


def test_pytree_round_trip_with_placeholder_leaves():
    materials = [jm.get("Au"), jm.get("SiO2"), jm.get("Si/Chandler-Horowitz"),
                 jm.Drude(9.0, 0.1), jm.MaxwellGarnett(1.33, jm.get("Au"), 0.1)]
    for material in materials:
        leaves, treedef = jax.tree_util.tree_flatten(material)
        rebuilt = jax.tree_util.tree_unflatten(treedef, [object()] * len(leaves))
        assert type(rebuilt) is type(material)
        assert jax.tree_util.tree_unflatten(treedef, leaves).name == material.name
    names = [f.name for f in dataclasses.fields(jm.get("Au"))]
    assert names[:3] == ["wavelength", "n", "k"]
    assert len(jax.tree_util.tree_leaves(jm.get("Au"))) == 3  # name, range, citation static


def test_vmap_over_material_parameters():
    omega_p = jnp.array([8.0, 9.0, 10.0])
    batch = jax.vmap(lambda wp: jm.Drude(wp, 0.07))(omega_p)  # a batched material pytree
    got = jax.vmap(lambda m: m(jnp.array([500.0, 700.0])))(batch)
    assert got.shape == (3, 2)
    np.testing.assert_allclose(got[1], jm.Drude(9.0, 0.07)(jnp.array([500.0, 700.0])))


@pytest.mark.parametrize("name", ["Au", "Si/Chandler-Horowitz"])
def test_float32_input_gives_complex64(name):
    material = jm.get(name)
    lo, hi = material.wavelength_range
    w64 = np.linspace(lo, min(hi, 1e5), 64)
    got = material(jnp.asarray(w64, jnp.float32))
    assert got.dtype == jnp.complex64
    assert np.all(np.isfinite(np.asarray(got)))
    np.testing.assert_allclose(got, material(jnp.asarray(w64)), rtol=2e-5, atol=1e-6)
    assert material(jnp.asarray(w64)).dtype == jnp.complex128
    assert material(int(np.ceil(lo)) + 1).dtype == jnp.complex128  # integers -> float64


def test_strict_dtype_and_rank_promotion():
    # one material per code path (Formula is inside Composite, Drude inside DrudeLorentz)
    materials = [jm.get("Au"), jm.get("Si/Chandler-Horowitz"),
                 jm.DrudeLorentz(9.0, 0.07, [1.0], [3.0], [0.5]),
                 jm.Sellmeier([1.0], [100.0]), jm.Cauchy([1.5, 4000.0]),
                 jm.Constant(1.5 + 0.1j), jm.MaxwellGarnett(1.33, jm.get("Au"), 0.1),
                 jm.Bruggeman(jm.get("Ag"), 1.5, 0.3)]
    with jax.numpy_rank_promotion("raise"), jax.numpy_dtype_promotion("strict"):
        for dtype in (jnp.float64, jnp.float32):
            for material in materials:
                lo, hi = material.wavelength_range
                lo, hi = max(lo, 400.0), min(hi, 9000.0)
                w = jnp.linspace(lo, hi, 6, dtype=dtype).reshape(2, 3)
                got = material(w)
                assert got.shape == (2, 3) and np.all(np.isfinite(np.asarray(got)))
