"""Riccati-Bessel log-derivatives and ratios, and the angular functions pi_n, tau_n.

Conventions (Bohren & Huffman, time dependence exp(-i omega t)):
psi_n(z) = z j_n(z), chi_n(z) = -z y_n(z), zeta_n(z) = psi_n(z) - i chi_n(z) = z h_n^(1)(z).

Nothing here evaluates psi_n or zeta_n of a complex argument directly: they overflow or
underflow long before the quantities that Mie theory needs do. The sequences computed are
bounded (or decay gracefully to zero) for every order and every argument with Im z >= 0:

- D1_n(z) = psi_n'(z) / psi_n(z) by downward recurrence (Wiscombe's start rule),
- D3_n(z) = zeta_n'(z) / zeta_n(z) from the Wronskian, D3_n = D1_n + i / (psi_n zeta_n),
  with psi_n zeta_n by upward recurrence (Pena & Pal 2009),
- ratios psi_n / psi_{n-1} and zeta_n / zeta_{n-1}, products of which give psi_n / zeta_n and
  the ratios between layers without forming any Riccati-Bessel function.

References:
    W. J. Wiscombe, Appl. Opt. 19, 1505 (1980).
    W. Yang, Appl. Opt. 42, 1710 (2003).
    O. Pena and U. Pal, Comput. Phys. Commun. 180, 2348 (2009).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

__all__ = [
    "angular_functions",
    "log_derivatives",
    "psi_ratio",
    "psi_zeta_ratio",
    "zeta_ratio",
]

# Orders above max(n_max, |z| + 4|z|^(1/3) + 2) at which the downward recurrence starts;
# the truncation error of the start value is damped below float64 rounding by then.
_EXTRA_START_ORDERS = 16
# A cap on the start order so that a non-finite argument cannot run the loop forever.
_MAX_START_ORDER = 10**8


def _start_order(z: jax.Array, n_max: int) -> jax.Array:
    """Order N at which the downward recurrence of psi_n / psi_{n-1} starts (int32 scalar)."""
    size = jnp.abs(z)
    needed = jnp.minimum(size + 4.0 * jnp.cbrt(size) + 2.0, _MAX_START_ORDER)
    needed = jnp.where(jnp.isfinite(needed), needed, 0.0)
    return jnp.maximum(n_max, jnp.ceil(needed).astype(jnp.int32)) + _EXTRA_START_ORDERS


def _psi_ratio_above(z: jax.Array, n_max: int) -> jax.Array:
    """psi_{n_max+1}(z) / psi_{n_max}(z) by downward recurrence from the start order.

    The recurrence r_k = 1 / ((2k+1)/z - r_{k+1}), started from r = 0 far enough above
    n_max, evaluates the continued fraction for the ratio. Its length depends on |z| and
    is dynamic, hence a while loop (never differentiated: see log_derivatives' rule).
    """
    one = jnp.ones((), z.dtype)
    inv_z = one / z

    def step(state):
        k, r = state
        r = one / ((2 * k + 1).astype(jnp.real(z).dtype) * inv_z - r)
        return k - 1, r

    start = _start_order(z, n_max)
    _, r = lax.while_loop(lambda s: s[0] > n_max, step, (start, jnp.zeros((), z.dtype)))
    return r


def _log_derivatives(z: jax.Array, n_max: int) -> tuple[jax.Array, jax.Array]:
    one = jnp.ones((), z.dtype)
    inv_z = one / z  # divisions are the costly step: take 1/z once
    orders = jnp.arange(1, n_max + 1).astype(jnp.real(z).dtype)

    def down(r_above, k):
        # D1_k = (k+1)/z - psi_{k+1}/psi_k, and psi_k/psi_{k-1} = 1 / (D1_k + k/z).
        d1 = (k + 1) * inv_z - r_above
        r = one / (d1 + k * inv_z)
        return r, (d1, r)

    r1, (d1, r) = lax.scan(down, _psi_ratio_above(z, n_max), orders, reverse=True)
    d1_0 = inv_z - r1  # cot z without overflow for large Im z

    def up(carry, inputs):
        psi_zeta, d3_prev = carry
        k, d1_k, r_k = inputs
        # psi_k zeta_k = psi_{k-1} zeta_{k-1} * (psi_k/psi_{k-1}) * (zeta_k/zeta_{k-1}).
        psi_zeta = psi_zeta * r_k * (k * inv_z - d3_prev)
        d3 = d1_k + 1j / psi_zeta
        return (psi_zeta, d3), d3

    psi_zeta_0 = -0.5 * jnp.expm1(2j * z)
    d3_0 = jnp.asarray(1j, z.dtype)
    _, d3 = lax.scan(up, (psi_zeta_0, d3_0), (orders, d1, r))
    return (
        jnp.concatenate([d1_0[None], d1]),
        jnp.concatenate([d3_0[None], d3]),
    )


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def log_derivatives(z: jax.Array, n_max: int) -> tuple[jax.Array, jax.Array]:
    r"""Log-derivatives D1_n = psi_n'/psi_n and D3_n = zeta_n'/zeta_n for n = 0..n_max.

    Args:
        z: complex scalar argument (m x), Im z >= 0 for passive media.
        n_max: highest order (static int).

    Returns:
        (D1, D3), each complex of shape (n_max + 1,), order n at index n.

    Both satisfy the Riccati equation of the Riccati-Bessel functions, which gives the
    derivative rule used here instead of differentiating through the recurrences:

    .. math::
        \frac{dD_n}{dz} = \frac{n(n+1)}{z^2} - 1 - D_n^2 .

    Every order is finite for every finite z with Im z >= 0 (the zeros of psi_n on the
    real axis are poles of D1_n, hit only on a set of measure zero).
    """
    return _log_derivatives(z, n_max)


@log_derivatives.defjvp
def _log_derivatives_jvp(n_max, primals, tangents):
    (z,), (dz,) = primals, tangents
    d1, d3 = log_derivatives(z, n_max)
    n = jnp.arange(n_max + 1).astype(jnp.real(z).dtype)
    inv_z = 1 / z
    riccati = n * (n + 1) * (inv_z * inv_z) - 1
    return (d1, d3), ((riccati - d1 * d1) * dz, (riccati - d3 * d3) * dz)


def psi_ratio(d1: jax.Array, z: jax.Array) -> jax.Array:
    """psi_n(z) / psi_{n-1}(z) = 1 / (D1_n + n/z) for n = 1..N. Shape (N,) from D1 (N+1,)."""
    n = jnp.arange(1, d1.shape[-1]).astype(jnp.real(z).dtype)
    return 1 / (d1[1:] + n * (1 / z))


def zeta_ratio(d3: jax.Array, z: jax.Array) -> jax.Array:
    """zeta_n(z) / zeta_{n-1}(z) = n/z - D3_{n-1} for n = 1..N. Shape (N,) from D3 (N+1,).

    This form (not 1 / (D3_n + n/z)) avoids cancellation when |z| is small.
    """
    n = jnp.arange(1, d3.shape[-1]).astype(jnp.real(z).dtype)
    return n * (1 / z) - d3[:-1]


def psi_zeta_ratio(d1: jax.Array, d3: jax.Array, z: jax.Array) -> jax.Array:
    """psi_n(z) / zeta_n(z) for n = 1..N (shape (N,)), as a product of order ratios.

    For real z the values are bounded by 1; for small |z| and high orders they underflow
    gracefully to zero. Only use it where Im z is small (the host medium): for large Im z,
    psi/zeta grows like exp(2 Im z).
    """
    ratio_0 = -0.5 * jnp.expm1(-2j * z)
    return ratio_0 * jnp.cumprod(psi_ratio(d1, z) / zeta_ratio(d3, z), axis=-1)


def angular_functions(mu: jax.Array, n_max: int) -> tuple[jax.Array, jax.Array]:
    r"""Angular functions pi_n(mu) and tau_n(mu) for n = 1..n_max (Bohren & Huffman 4.47).

    Args:
        mu: cos(theta), real array of any shape (...).
        n_max: highest order (static int).

    Returns:
        (pi, tau), each of shape (..., n_max), order n at index n - 1.

    .. math::
        \pi_n = \frac{2n-1}{n-1}\mu\pi_{n-1} - \frac{n}{n-1}\pi_{n-2},\qquad
        \tau_n = n\mu\pi_n - (n+1)\pi_{n-1}

    The upward recurrence is stable; it is a polynomial in mu, so derivatives with respect
    to the angle are exact and finite at 0 and pi.
    """
    mu = jnp.asarray(mu)

    def step(carry, n):
        pi_prev2, pi_prev = carry
        pi = ((2 * n - 1) * mu * pi_prev - n * pi_prev2) / (n - 1)
        return (pi_prev, pi), pi

    pi_1 = jnp.ones_like(mu)
    orders = jnp.arange(2, n_max + 1).astype(mu.dtype)
    _, pis = lax.scan(step, (jnp.zeros_like(mu), pi_1), orders)
    pi = jnp.concatenate([pi_1[None], pis], axis=0)  # (n_max, ...)
    pi_prev = jnp.concatenate([jnp.zeros_like(mu)[None], pi[:-1]], axis=0)
    n = jnp.arange(1, n_max + 1).astype(mu.dtype).reshape((-1,) + (1,) * mu.ndim)
    tau = n * mu * pi - (n + 1) * pi_prev
    return jnp.moveaxis(pi, 0, -1), jnp.moveaxis(tau, 0, -1)
