r"""The Mie series of a batch and its order sums: the one place that picks the backend.

Every coefficient and efficiency in jaxmie comes from two functions of layer size
parameters x and relative indices m of shape (*batch, L):

- `series(x, m, n_max)`: a_n, b_n and their absorbed parts, each (*batch, n_max);
- `efficiency_sums(x, m, n_max)`: the sums over orders behind every efficiency
  (`EfficiencySums`), the coefficients never stored.

Each runs either jaxmie's native CPU kernel (jaxmie._native: the same algorithm with the
recurrences in registers, eight particles in vector lanes) or the JAX implementation
(jaxmie._layered, vmapped and streamed by jaxmie._batching). The choice is made here and
only here, at trace time (`uses_native`): the kernel for float64 inputs of at most four
layers when the computation runs on the CPU and the kernel is installed; the JAX
implementation otherwise (GPU, TPU, float32, more layers, ``JAXMIE_NATIVE=0``). The two
agree to rounding, as the README guarantees (tests/test_native.py: every efficiency to 2e-11
of Q_ext and g to 1e-12 on random particles, coefficients to 1e-12 of the largest,
derivatives to 1e-10).

Derivatives. Each function carries one `jax.custom_jvp`. On the JAX path its rule is the
JVP of the JAX implementation itself (whose special functions have closed-form rules, see
jaxmie._special), so forward and reverse mode and every higher order work as if there were
no wrapper. On the native path the first derivatives come from the kernel's own Jacobian
along the 3L real directions (x_l, Re m_l, Im m_l), contracted with the tangents; the
Jacobian's derivatives (Hessians and higher) are the JVP of the same Jacobian computed by
forward mode through the JAX implementation.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from . import _layered, _native, _special
from ._batching import map_batch

__all__ = ["EfficiencySums", "efficiency_sums", "series", "uses_native"]


def _platform() -> str:
    """The platform the computation is placed on: the default device's (a
    `jax.default_device` context included), else the default backend's."""
    device = jax.config.jax_default_device  # type: ignore[attr-defined]
    if device is not None and not isinstance(device, str):
        return device.platform
    return jax.default_backend() if device is None else str(device)


def uses_native(x: jax.Array, m: jax.Array) -> bool:
    """Whether the series of these inputs (*batch, L) runs in the native CPU kernel:
    float64 / complex128, L <= jaxmie._native.MAX_LAYERS, on the CPU, kernel installed."""
    return (x.dtype == jnp.float64 and m.dtype == jnp.complex128
            and x.shape[-1] <= _native.MAX_LAYERS and _platform() == "cpu"
            and _native.available())


# ------------------------------------------------------------------------------------------
# The JAX implementation
# ------------------------------------------------------------------------------------------


def _map_items(kernel, x: jax.Array, m: jax.Array):
    """kernel(x_i, m_i) of one particle's (L,) arrays over every leading axis of x, m
    (*batch, L), vmapped and streamed by jaxmie._batching; leaves (*batch, *out)."""
    batch_shape, n_layers = x.shape[:-1], x.shape[-1]
    flat = (x.reshape(-1, n_layers), m.reshape(-1, n_layers))
    out = map_batch(lambda xm: kernel(*xm), flat)
    return jax.tree.map(lambda v: v.reshape(*batch_shape, *v.shape[1:]), out)


def _jax_series(x: jax.Array, m: jax.Array, n_max: int) -> tuple[jax.Array, ...]:
    """jaxmie._layered.layered_series over every leading axis of x, m (*batch, L)."""
    return tuple(_map_items(lambda x, m: _layered.layered_series(x, m, n_max), x, m))


def _jax_order_sums(a, b, absorption_a, absorption_b, x) -> jax.Array:
    """The seven scaled sums of EfficiencySums, shape (*batch, 7), in JAX.

    The coefficients are scaled by 1/x before any product: in float32 |a_1|^2 ~ x^6 is
    subnormal (flushed to zero) for x < 5e-7, while Q_sca ~ |a_1 / x|^2 is not.
    """
    inv_x = (1 / x)[..., None]
    a, b = a * inv_x, b * inv_x
    absorption = (absorption_a + absorption_b) * (inv_x * inv_x)
    n = jnp.arange(1, a.shape[-1] + 1).astype(x.dtype)
    two_n_1 = 2 * n + 1
    sign = jnp.where(n % 2 == 0, 1, -1).astype(n.dtype)
    a_next = jnp.concatenate([a[..., 1:], jnp.zeros_like(a[..., :1])], axis=-1)
    b_next = jnp.concatenate([b[..., 1:], jnp.zeros_like(b[..., :1])], axis=-1)
    back = two_n_1 * sign * (a - b)
    fwd = two_n_1 * (a + b)
    # Every sum over orders in one reduction: for a few particles the cost is the number of
    # kernels XLA launches, not the arithmetic.
    terms = jnp.stack([
        2 * two_n_1 * (_special.abs_squared(a) + _special.abs_squared(b)),
        2 * two_n_1 * absorption,
        jnp.real(back), jnp.imag(back), jnp.real(fwd), jnp.imag(fwd),
        4 * (n * (n + 2) / (n + 1) * jnp.real(a * jnp.conj(a_next) + b * jnp.conj(b_next))
             + two_n_1 / (n * (n + 1)) * jnp.real(a * jnp.conj(b))),
    ], axis=-1)
    return jnp.sum(terms, axis=-2)


def _scaled_native_sums(sums: jax.Array, x: jax.Array) -> jax.Array:
    """The native kernels' raw order sums (*batch, 7) in EfficiencySums' scaling."""
    inv_x = 1 / x
    inv_x2 = inv_x * inv_x
    scale = jnp.stack([inv_x2, inv_x2, inv_x, inv_x, inv_x, inv_x, 4 * inv_x2], axis=-1)
    return sums * scale


def _jacobian_by_real_parts(f, x: jax.Array, m: jax.Array):
    """Per-item derivatives of f(x, m) (a pytree of arrays (*batch, *out)) along x_l,
    Re m_l and Im m_l: for each leaf an array (*batch, *out, 3L), by forward mode in JAX.
    The layout of the native Jacobian kernels."""

    def by_real_parts(x, m_re, m_im):
        return f(x, jax.lax.complex(m_re, m_im))

    flat = lambda v: v.reshape(-1, v.shape[-1])
    jac = jax.vmap(jax.jacfwd(by_real_parts, argnums=(0, 1, 2)))(
        flat(x), flat(jnp.real(m)), flat(jnp.imag(m)))
    return jax.tree.map(lambda *d: jnp.concatenate(d, axis=-1).reshape(
        *x.shape[:-1], *d[0].shape[1:-1], -1), *jac)


def _contract(jacobian: jax.Array, direction: jax.Array) -> jax.Array:
    """jacobian (..., k, d) times direction (..., d) -> (..., k), as a batched dot: XLA's CPU
    backend runs it and its transpose (the gradient's) ~5x faster than multiply-and-sum."""
    return jnp.einsum("...kd,...d->...k", jacobian, direction)


def _real_directions(dx: jax.Array, dm: jax.Array) -> jax.Array:
    """Tangents of x (..., L) and m (..., L) as the 3L real directions (x, Re m, Im m)."""
    return jnp.concatenate([dx, jnp.real(dm), jnp.imag(dm)], axis=-1)


def _item_sums(x: jax.Array, m: jax.Array, n_max: int) -> jax.Array:
    """The seven scaled sums (7,) of one particle (x, m of shape (L,))."""
    a, b, absorption_a, absorption_b = _layered.layered_series(x, m, n_max)
    return _jax_order_sums(a, b, absorption_a, absorption_b, x[-1])


def _jax_efficiency_sums(x: jax.Array, m: jax.Array, n_max: int) -> jax.Array:
    """The scaled sums (*batch, 7) in JAX. Each particle's coefficients are summed where they
    are made, so a streamed batch never holds (*batch, n_max) arrays: its memory is that of
    the inputs and the sums, as on the native path."""
    return _map_items(lambda x, m: _item_sums(x, m, n_max), x, m)


# ------------------------------------------------------------------------------------------
# The series
# ------------------------------------------------------------------------------------------


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def series(x: jax.Array, m: jax.Array, n_max: int) -> tuple[jax.Array, ...]:
    """Mie coefficients of a batch of layered spheres.

    Args:
        x: layer size parameters, real, shape (*batch, L), non-decreasing.
        m: relative complex indices, shape (*batch, L), same dtype precision as x.
        n_max: number of orders (static).

    Returns:
        (a, b, absorption_a, absorption_b), each of shape (*batch, n_max); see
        jaxmie.MieSeries.
    """
    if uses_native(x, m):
        return tuple(_native.series(x, m, n_max))
    return _jax_series(x, m, n_max)


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _native_series_jacobian(x, m, n_max):
    """(values, derivatives) from the native Jacobian kernel: a_n, b_n along the 2L complex
    directions (x_l, m_l; they are analytic in m), the absorbed parts along the 3L real ones."""
    out = _native.series_jacobian(x, m, n_max)
    return tuple(out[:4]), tuple(out[4:])


def _jax_series_jacobian(x, m, n_max):
    """_native_series_jacobian's outputs in JAX (for its derivatives)."""
    values = _jax_series(x, m, n_max)
    jac = _jacobian_by_real_parts(lambda x, m: _jax_series(x, m, n_max), x, m)
    # a_n, b_n are analytic in m: their d/dRe m is the complex derivative; Im m is dropped.
    n_layers = x.shape[-1]
    derivatives = tuple(d[..., :2 * n_layers] for d in jac[:2]) + tuple(jac[2:])
    return values, derivatives


@_native_series_jacobian.defjvp
def _native_series_jacobian_jvp(n_max, primals, tangents):
    return jax.jvp(lambda x, m: _jax_series_jacobian(x, m, n_max), primals, tangents)


@series.defjvp
def _series_jvp(n_max, primals, tangents):
    x, m = primals
    if not uses_native(x, m):
        return jax.jvp(lambda x, m: _jax_series(x, m, n_max), primals, tangents)
    dx, dm = tangents
    values, (da, db, dabs_a, dabs_b) = _native_series_jacobian(x, m, n_max)
    analytic = jnp.concatenate([dx.astype(m.dtype), dm], axis=-1)
    real = _real_directions(dx, dm)
    return values, tuple(_contract(d, t) for d, t in ((da, analytic), (db, analytic),
                                                      (dabs_a, real), (dabs_b, real)))


# ------------------------------------------------------------------------------------------
# Order sums
# ------------------------------------------------------------------------------------------


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class EfficiencySums:
    r"""The sums over orders behind every efficiency, each of shape (*batch), scaled by the
    outer size parameter x so that

    .. math::
        Q_{sca} = s_{sca},\quad Q_{abs} = s_{abs},\quad
        Q_{back} = |s_{back}|^2,\quad Q_{fwd} = |s_{fwd}|^2,\quad g\,Q_{sca} = s_g,

    with s_sca = (2/x^2) sum (2n+1)(|a_n|^2 + |b_n|^2), s_abs the same with the absorbed
    parts, s_back = (1/x) sum (2n+1)(-1)^n (a_n - b_n), s_fwd = (1/x) sum (2n+1)(a_n + b_n)
    and s_g = (4/x^2) [sum n(n+2)/(n+1) Re(a_n a_{n+1}^* + b_n b_{n+1}^*)
    + sum (2n+1)/(n(n+1)) Re(a_n b_n^*)] (Bohren & Huffman 4.61, 4.62, 4.74, 4.80).
    """

    sca: jax.Array
    abs: jax.Array
    back: jax.Array
    fwd: jax.Array
    g_sca: jax.Array


def _unpack(sums: jax.Array) -> EfficiencySums:
    s = jnp.moveaxis(sums, -1, 0)
    return EfficiencySums(sca=s[0], abs=s[1], back=jax.lax.complex(s[2], s[3]),
                          fwd=jax.lax.complex(s[4], s[5]), g_sca=s[6])


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _efficiency_sums(x, m, n_max):
    if uses_native(x, m):
        return _scaled_native_sums(_native.efficiency_sums(x, m, n_max), x[..., -1])
    return _jax_efficiency_sums(x, m, n_max)


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _native_efficiency_jacobian(x, m, n_max):
    """(scaled sums (*batch, 7), their derivatives along the 3L real directions
    (*batch, 7, 3L)) from the native kernel, accumulated order by order."""
    sums, jac = _native.efficiency_sums_jacobian(x, m, n_max)
    x_outer = x[..., -1]
    # d(s / x^k) = ds / x^k - k s / x^(k+1) dx_outer (x_outer is the last of the L x's)
    power = jnp.array([2, 2, 1, 1, 1, 1, 2], x.dtype)
    scaled = _scaled_native_sums(sums, x_outer)
    jac = _scaled_native_sums(jnp.moveaxis(jac, -1, -2), x_outer[..., None])
    jac = jnp.moveaxis(jac, -2, -1)
    outer = x.shape[-1] - 1
    jac = jac.at[..., outer].add(-power * scaled / x_outer[..., None])
    return scaled, jac


@_native_efficiency_jacobian.defjvp
def _native_efficiency_jacobian_jvp(n_max, primals, tangents):
    def value_and_jacobian(x, m):
        sums = lambda x, m: _jax_efficiency_sums(x, m, n_max)
        return sums(x, m), _jacobian_by_real_parts(sums, x, m)

    return jax.jvp(value_and_jacobian, primals, tangents)


@_efficiency_sums.defjvp
def _efficiency_sums_jvp(n_max, primals, tangents):
    x, m = primals
    if not uses_native(x, m):
        return jax.jvp(lambda x, m: _jax_efficiency_sums(x, m, n_max), primals, tangents)
    sums, jac = _native_efficiency_jacobian(x, m, n_max)
    return sums, _contract(jac, _real_directions(*tangents))


def efficiency_sums(x: jax.Array, m: jax.Array, n_max: int) -> EfficiencySums:
    """EfficiencySums of a batch of layered spheres (x, m of shape (*batch, L)) without
    storing their coefficients: on the CPU one native kernel from size parameters to sums,
    whose first derivatives are accumulated order by order (an (*batch, 7, 3L) Jacobian
    instead of (*batch, n_max, ...) arrays)."""
    return _unpack(_efficiency_sums(x, m, n_max))
