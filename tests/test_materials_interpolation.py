"""PCHIP interpolation: scipy as the independent reference, node exactness, smoothness."""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from jax.test_util import check_grads  # noqa: E402
from scipy.interpolate import PchipInterpolator  # noqa: E402

from jaxmie.materials._interpolation import pchip, pchip_evaluate, pchip_slopes  # noqa: E402

DETERMINISTIC = settings(derandomize=True, deadline=None, database=None, max_examples=30)
QUERY = 1024

_pchip = jax.jit(pchip)
_padded = jax.jit(lambda x, y, xq, count: pchip_evaluate(x, y, pchip_slopes(x, y, count), xq,
                                                         count))
_slope = jax.jit(jax.vmap(jax.grad(pchip, argnums=2), in_axes=(None, None, 0)))
_curvature = jax.jit(jax.vmap(jax.grad(jax.grad(pchip, argnums=2), argnums=2),
                              in_axes=(None, None, 0)))


def _table(seed, size, positive=False):
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.uniform(0.05, 2.0, size)) + 100.0
    y = rng.uniform(0.0, 3.0, size) if positive else rng.normal(size=size)
    return x, y


@pytest.mark.parametrize("size", [2, 3, 4, 7, 60])
def test_matches_scipy_pchip(size):
    x, y = _table(size, size)
    xq = np.linspace(x[0], x[-1], QUERY)
    reference = PchipInterpolator(x, y)
    got = _pchip(jnp.asarray(x), jnp.asarray(y), jnp.asarray(xq))
    np.testing.assert_allclose(got, reference(xq), rtol=0, atol=1e-13)
    np.testing.assert_allclose(jax.jit(pchip_slopes)(jnp.asarray(x), jnp.asarray(y)),
                               reference.derivative()(x), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(_slope(jnp.asarray(x), jnp.asarray(y), jnp.asarray(xq)),
                               reference.derivative()(xq), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("size", [2, 3, 5, 17])
def test_padded_table_matches_scipy_and_nodes(size):
    # Materials pad tables to bucketed lengths; `count` marks the real nodes.
    x, y = _table(100 + size, size)
    y = np.stack([y, y[::-1] ** 2])
    pad = 32 - size
    xp = np.concatenate([x, x[-1] + np.arange(1, pad + 1)])
    yp = np.concatenate([y, np.repeat(y[:, -1:], pad, axis=1)], axis=1)
    xq = np.concatenate([x, np.linspace(x[0], x[-1], QUERY - size)])
    got = np.asarray(_padded(jnp.asarray(xp), jnp.asarray(yp), jnp.asarray(xq), size))
    np.testing.assert_array_equal(got[:, :size], y)
    np.testing.assert_allclose(got, PchipInterpolator(x, y, axis=1)(xq), rtol=0, atol=1e-13)


def test_nodes_are_reproduced_exactly():
    x, y = _table(1, 60)
    xq = np.concatenate([x, np.full(QUERY - x.size, x[0])])
    got = np.asarray(_pchip(jnp.asarray(x), jnp.asarray(y), jnp.asarray(xq)))
    np.testing.assert_array_equal(got[:x.size], y)


def test_first_derivative_is_continuous_and_second_bounded_at_nodes():
    x, y = _table(2, 30)
    args = (jnp.asarray(x), jnp.asarray(y))
    eps = 1e-7 * np.min(np.diff(x))
    interior = x[1:-1]
    queries = jnp.asarray(np.concatenate([interior - eps, interior + eps, interior]))
    d1 = np.asarray(_slope(*args, queries)).reshape(3, -1)
    scale = np.max(np.abs(np.diff(y) / np.diff(x)))
    np.testing.assert_allclose(d1[0], d1[1], atol=1e-5 * scale)
    np.testing.assert_allclose(d1[2], d1[1], atol=1e-5 * scale)
    # Bounded curvature on and around the nodes: |f''| <= 12 max|secant| / min h.
    dense = np.linspace(x[0], x[-1], QUERY - queries.shape[0])
    curvature = np.asarray(_curvature(*args, jnp.concatenate([queries, jnp.asarray(dense)])))
    assert np.all(np.isfinite(curvature))
    assert np.max(np.abs(curvature)) <= 12.0 * scale / np.min(np.diff(x))


@DETERMINISTIC
@given(st.integers(0, 10_000), st.sampled_from([2, 5, 25]))
def test_non_negative_data_gives_non_negative_interpolant(seed, size):
    x, y = _table(seed, size, positive=True)
    y[np.random.default_rng(seed).random(size) < 0.4] = 0.0  # zeros next to peaks
    xq = np.linspace(x[0], x[-1], QUERY)
    got = np.asarray(_pchip(jnp.asarray(x), jnp.asarray(y), jnp.asarray(xq)))
    assert np.all(got >= 0.0)
    # shape preserving: between the two neighbouring node values on every interval
    i = np.clip(np.searchsorted(x, xq, side="right") - 1, 0, size - 2)
    lo, hi = np.minimum(y[i], y[i + 1]), np.maximum(y[i], y[i + 1])
    assert np.all(got >= lo - 1e-12) and np.all(got <= hi + 1e-12)


def test_gradients_wrt_query_and_table():
    x, y = _table(3, 12)
    xq = jnp.asarray([x[0] + 0.3, 0.5 * (x[4] + x[5]), x[7] + 1e-3])
    check_grads(jax.jit(lambda q: pchip(jnp.asarray(x), jnp.asarray(y), q)), (xq,), order=1,
                modes=("fwd", "rev"))
    check_grads(jax.jit(lambda v: pchip(jnp.asarray(x), v, xq)), (jnp.asarray(y),), order=1,
                modes=("fwd", "rev"))
    flat = jnp.asarray([0.0, 0.0, 1.0, 1.0, 0.5])  # zero secants: still finite gradients
    grads = jax.jit(jax.grad(lambda v: jnp.sum(pchip(jnp.asarray(x[:5]), v, xq))))(flat)
    assert np.all(np.isfinite(grads))
    # tiny secants (k ~ 1e-170 where a relaxed mixture holds a trace of an absorber): the
    # interpolant is linear in the table, so value and gradient scale exactly
    unit = jax.value_and_grad(lambda v: jnp.sum(pchip(jnp.asarray(x), v, xq)))
    tiny = jax.value_and_grad(lambda v: jnp.sum(pchip(jnp.asarray(x), 1e-170 * v, xq)) * 1e170)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12),
                 tiny(jnp.asarray(y)), unit(jnp.asarray(y)))


def test_float32():
    x, y = _table(4, 60)
    xq = np.concatenate([x, np.linspace(x[0], x[-1], QUERY - x.size)])
    got = _pchip(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32),
                 jnp.asarray(xq, jnp.float32))
    assert got.dtype == jnp.float32
    # float32 rounds t = (x - x_i) / h: about 1e-4 here
    np.testing.assert_allclose(got, PchipInterpolator(x, y)(xq), rtol=0, atol=1e-3)
