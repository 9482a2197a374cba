"""jaxmie with JAX's default float32 (x64 off), as a user who has not enabled float64 gets it:
a warning once, then answers accurate to float32's precision against float64 references
computed by scattnlay (an independent code), finite gradients, no NaN.

These run in the float32 pass of .ci/run (JAXMIE_TEST_FLOAT32=1); the float64 run skips
them (x64 is process-wide)."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scattnlay

import jaxmie as jm

pytestmark = pytest.mark.float32_pass

CASES = [  # (radii nm, indices, wavelength nm): dielectric, absorbing, metal shell, large
    ((60.0,), (1.5 + 0.0j,), 500.0),
    ((30.0,), (1.7 + 0.3j,), 450.0),
    ((40.0, 60.0), (1.45 + 0.0j, 0.2 + 3.0j), 600.0),
    ((800.0,), (1.33 + 1e-4j,), 550.0),
]


def _scattnlay(radii, indices, wavelength):
    x = 2 * np.pi * np.asarray(radii) / wavelength
    _, q_ext, q_sca, q_abs, q_back, *_rest = scattnlay.scattnlay(x, np.asarray(indices))
    g = _rest[1]
    return {"q_ext": q_ext, "q_sca": q_sca, "q_abs": q_abs, "q_back": q_back, "g": g}


@pytest.fixture(autouse=True)
def _x64_warning_is_expected():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="jaxmie: JAX's float64 mode is off")
        yield


def test_float32_mode_is_on_and_warned_once():
    assert not jax.config.jax_enable_x64
    import jaxmie._dispatch as dispatch

    dispatch._warned_x64 = False
    with pytest.warns(RuntimeWarning, match="float64 mode is off"):
        jm.efficiencies(jm.Sphere(50.0, 1.5), 500.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jm.efficiencies(jm.Sphere(50.0, 1.5), 500.0)  # once per process


@pytest.mark.parametrize(("radii", "indices", "wavelength"), CASES)
def test_float32_efficiencies_against_scattnlay(radii, indices, wavelength):
    p = jm.Multilayer(radii=list(radii), n=list(indices))
    e = jm.efficiencies(p, wavelength)
    reference = _scattnlay(radii, indices, wavelength)
    assert e.q_ext.dtype == jnp.float32
    for field, expected in reference.items():
        # float32 carries ~6e-8; the order recurrences amplify it by ~n_max at most
        np.testing.assert_allclose(float(getattr(e, field)), expected, rtol=2e-4, atol=1e-6,
                                   err_msg=field)


def test_float32_gradients_are_finite_and_agree_with_float64_references():
    def q_sca(r_shell):
        return jm.efficiencies(jm.CoreShell(40.0, r_shell, 1.45, 0.2 + 3.0j), 600.0).q_sca

    grad = jax.grad(q_sca)(jnp.float32(60.0))
    h = 1e-2  # central difference of scattnlay in float64
    fd = (_scattnlay((40.0, 60.0 + h), (1.45, 0.2 + 3.0j), 600.0)["q_sca"]
          - _scattnlay((40.0, 60.0 - h), (1.45, 0.2 + 3.0j), 600.0)["q_sca"]) / (2 * h)
    assert grad.dtype == jnp.float32 and np.isfinite(grad)
    np.testing.assert_allclose(float(grad), fd, rtol=2e-3)


def test_float32_batch_under_jit_and_vmap_is_finite():
    radii = jnp.linspace(5.0, 2000.0, 64)
    wl = jnp.linspace(400.0, 900.0, 32)
    e = jax.jit(lambda r: jm.efficiencies(jm.Sphere(r, 1.59 + 0.01j), wl, n_max=180))(radii)
    assert e.q_ext.shape == (64, 32) and e.q_ext.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(e.q_ext)) & jnp.all(jnp.isfinite(e.g)))
