"""Effective media (Maxwell Garnett, Bruggeman) and stacked tables for material choice."""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from jax.test_util import check_grads  # noqa: E402

import jaxmie.materials as jm  # noqa: E402

RNG = np.random.default_rng(7)
SIZE = 4096


def _passive(size, lossless_fraction=0.2):
    """Random passive permittivities: metals, dielectrics, some lossless."""
    metal = RNG.random(size) < 0.4
    real = np.where(metal, RNG.uniform(-60.0, -0.1, size), RNG.uniform(1.0, 20.0, size))
    imag = np.where(RNG.random(size) < lossless_fraction, 0.0, 10 ** RNG.uniform(-6, 1.5, size))
    return real + 1j * imag


A, B, F = _passive(SIZE), _passive(SIZE), RNG.uniform(0.0, 1.0, SIZE)
_mg = jax.jit(jm.maxwell_garnett)
_bg = jax.jit(jm.bruggeman)


def test_maxwell_garnett_limits_and_first_order():
    host, inclusion = A, B
    np.testing.assert_allclose(_mg(host, inclusion, np.zeros(SIZE)), host, rtol=1e-14)
    np.testing.assert_allclose(_mg(host, inclusion, np.ones(SIZE)), inclusion, rtol=1e-12)
    f = np.full(SIZE, 1e-7)
    beta = (inclusion - host) / (inclusion + 2 * host)
    dilute = np.abs(f * beta) < 1e-4  # away from the inclusion resonance eps_i = -2 eps_h
    expected = host * (1 + 3 * f * beta + 3 * (f * beta) ** 2)  # series in f (Rayleigh limit)
    np.testing.assert_allclose(_mg(host, inclusion, f)[dilute], expected[dilute], rtol=1e-11)


def test_bruggeman_solves_its_equation_and_is_passive_and_symmetric():
    eps = np.asarray(_bg(A, B, F))
    residual = F * (A - eps) / (A + 2 * eps) + (1 - F) * (B - eps) / (B + 2 * eps)
    assert np.max(np.abs(residual)) < 1e-10
    assert np.all(eps.imag >= -1e-12 * np.abs(eps))
    np.testing.assert_allclose(_bg(B, A, 1.0 - F), eps, rtol=1e-10)


def test_bruggeman_limits_and_agreement_with_maxwell_garnett():
    np.testing.assert_allclose(_bg(A, B, np.zeros(SIZE)), B, rtol=1e-12)
    np.testing.assert_allclose(_bg(A, B, np.ones(SIZE)), A, rtol=1e-12)
    # dilute inclusions of a in host b: both rules agree to first order in f, so their
    # difference scales as f^2
    lossy = (np.abs(A + 2 * B) > 1.0) & (A.imag > 1e-3) & (B.imag > 1e-3)
    a, b = A[lossy], B[lossy]
    gaps = [np.abs(np.asarray(_bg(a, b, np.full(a.size, f)) - _mg(b, a, np.full(a.size, f))))
            for f in (1e-4, 2e-4)]
    ratio = gaps[1] / gaps[0]
    assert np.quantile(ratio, [0.05, 0.5, 0.95]) == pytest.approx([4.0, 4.0, 4.0], rel=0.05)


def test_lossless_dielectrics_mix_to_a_real_permittivity_between_them():
    a, b = np.full(SIZE, 2.25 + 0j), RNG.uniform(1.0, 2.25, SIZE) + 0j
    eps = np.asarray(_bg(a, b, F))
    assert np.all(eps.imag == 0)
    assert np.all((eps.real >= b.real - 1e-12) & (eps.real <= 2.25 + 1e-12))


def test_mixture_materials():
    gold, water = jm.get("Au"), 1.33
    w = jnp.linspace(400.0, 900.0, 64)
    mg = jm.MaxwellGarnett(host=water, inclusion=gold, fraction=0.0)
    np.testing.assert_allclose(mg(w), np.full(64, 1.33), rtol=1e-14)
    full = jm.MaxwellGarnett(host=water, inclusion=gold, fraction=1.0)
    np.testing.assert_allclose(full(w), gold(w), rtol=1e-12)
    assert full.wavelength_range == gold.wavelength_range
    with pytest.raises(ValueError, match="187.9-1937 nm"):
        full(2500.0)
    bg = jm.Bruggeman(a=gold, b=jm.get("SiO2"), fraction=0.3)
    assert bg.wavelength_range == pytest.approx((210.0, 1937.0))
    values = np.asarray(bg(w))
    assert np.all(np.isfinite(values)) and np.all(values.imag >= 0)

    def absorption(fraction):
        n = jm.MaxwellGarnett(host=water, inclusion=gold, fraction=fraction)(w)
        return jnp.imag(n)

    check_grads(jax.jit(absorption), (0.2,), order=1, modes=("fwd", "rev"))


def test_stacked_table_rows_vmap_and_mixing():
    grid = jnp.linspace(400.0, 1200.0, 41)
    materials = [jm.get("Au"), jm.get("Si"), jm.get("SiO2"), 1.5]
    table = jm.stack(materials, grid)
    assert table.index.shape == (4, 41) and table.names[:2] == ("Au/Johnson", "Si/Schinke")
    np.testing.assert_allclose(table.index[1], materials[1](grid), rtol=1e-14)
    rows = jax.jit(jax.vmap(lambda i: table.material(i)(grid)))(jnp.arange(4))
    np.testing.assert_allclose(rows, table.index, rtol=1e-14)
    onehot = table.mix(jnp.array([0.0, 1.0, 0.0, 0.0]))
    np.testing.assert_allclose(onehot(grid), table.index[1], rtol=1e-12)
    blend = table.mix(jax.nn.softmax(jnp.array([0.3, -0.2, 1.0, 0.1])))(grid)
    assert np.all(np.asarray(blend).imag >= 0)

    def loss(logits):
        n = table.mix(jax.nn.softmax(logits))(jnp.array([450.0, 700.0, 1100.0]))
        return jnp.real(n) + jnp.imag(n)

    check_grads(jax.jit(loss), (jnp.array([0.3, -0.2, 1.0, 0.1]),), order=1,
                modes=("fwd", "rev"))
    with pytest.raises(ValueError, match="strictly increasing"):
        jm.stack(materials, jnp.array([500.0, 400.0]))
    with pytest.raises(ValueError, match="Si/Schinke"):
        jm.stack(materials, jnp.array([400.0, 1600.0]))  # outside silicon's range
