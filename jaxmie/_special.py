"""Riccati-Bessel log-derivatives and ratios, and the angular functions pi_n, tau_n.

Conventions (Bohren & Huffman, time dependence exp(-i omega t)):
psi_n(z) = z j_n(z), chi_n(z) = -z y_n(z), zeta_n(z) = psi_n(z) - i chi_n(z) = z h_n^(1)(z).

Nothing here evaluates psi_n or zeta_n of a complex argument directly: they overflow or
underflow long before the quantities that Mie theory needs do. The sequences computed are
bounded (or decay gracefully to zero) for every order and every argument with Im z >= 0:

- D1_n(z) = psi_n'(z) / psi_n(z) by downward recurrence, started where a bound on the
  continued fraction's convergence puts the start error below rounding (_start_order),
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
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

__all__ = [
    "RiccatiBessel",
    "abs_squared",
    "angular_functions",
    "cumulative_product",
    "log_derivative_difference",
    "psi_zeta_ratio",
    "riccati_bessel",
    "zeta_ratio_1",
]

# The downward recurrence starts e orders above M = max(n_max, |z| + 4|z|^(1/3) + 2) (the
# order of Wiscombe's rule), from r = 0. For every k >= M, |psi_{k+1}/psi_k| <= rho, the root
# below 1 of rho = |z| / (2M + 1 - |z| rho) (by induction down the continued fraction, for
# the exact ratios and the truncated ones alike), and an error in r shrinks by two such
# ratios per order: the start value leaves a relative error below 3 rho^(2e) at M. e is the
# fewest orders with 3 rho^(2e) <= _START_TOLERANCE. For n_max well above |z|, the usual case
# for small particles and ensembles, that is 8-10 orders (Wiscombe's rule takes 16); for
# large |z|, where rho -> 1 near the turning point k ~ |z|, it is more (68 at |z| = 1000),
# and the top orders keep every digit (16 orders leave ~1e-4 there).
_START_TOLERANCE = 1e-17  # below float64 rounding
# A cap on the start order so that a non-finite argument cannot run the loop forever.
_MAX_START_ORDER = 10**8


def _start_order(z: jax.Array, n_max: int) -> jax.Array:
    """Order N at which the downward recurrence of psi_n / psi_{n-1} starts (int32 scalar)."""
    size = jnp.abs(z)
    needed = jnp.minimum(size + 4.0 * jnp.cbrt(size) + 2.0, _MAX_START_ORDER)
    needed = jnp.where(jnp.isfinite(needed), needed, 0.0)
    order = jnp.maximum(n_max, jnp.ceil(needed).astype(jnp.int32))
    two_m_1 = 2 * order + 1
    rho = 2 * size / (two_m_1 + jnp.sqrt((two_m_1 - 2 * size) * (two_m_1 + 2 * size)))
    extra = jnp.ceil(jnp.log(_START_TOLERANCE / 3) / (2 * jnp.log(rho)))
    extra = jnp.where(jnp.isfinite(extra), jnp.clip(extra, 1, _MAX_START_ORDER), 1)
    return order + extra.astype(jnp.int32)


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
    _, r = lax.while_loop(lambda s: s[0] > n_max, step, (start, jnp.zeros_like(z)))
    return r


class RiccatiBessel(NamedTuple):
    """Bounded functions of the Riccati-Bessel functions at one argument z, orders 1..N.

    Attributes:
        d1: D1_n = psi_n'/psi_n, shape (N,), order n at index n - 1.
        d3: D3_n = zeta_n'/zeta_n, shape (N,).
        psi_ratio: psi_n/psi_{n-1} for n = 2..N, shape (N - 1,).
        zeta_ratio: zeta_n/zeta_{n-1} for n = 2..N, shape (N - 1,).
        psi_1_scaled: exp(iz) psi_1(z), scalar: bounded for Im z >= 0.

    Order 0 is left out on purpose: psi_0 = sin z vanishes at z = k pi, which round inputs
    hit (radius / wavelength = k / 2), and every quantity built on psi_0 would be singular
    there. Everything here is finite at z = k pi; the remaining singular points (zeros of
    psi_n, n >= 1, on the real axis) are irrational and hit only by accident.
    """

    d1: jax.Array
    d3: jax.Array
    psi_ratio: jax.Array
    zeta_ratio: jax.Array
    psi_1_scaled: jax.Array


def _psi_1_scaled(z: jax.Array, psi_1_over_psi_0: jax.Array) -> jax.Array:
    """exp(iz) psi_1(z), bounded for Im z >= 0, consistent with the downward ratios.

    Usually exp(iz) sin z times psi_1/psi_0 from the downward recurrence, so that psi_1 and
    the ratios psi_n/psi_{n-1} built on it agree to rounding even where psi_1 nearly
    vanishes. Near the zeros of sin z (z close to k pi, |z| >= 1), where psi_1/psi_0 blows
    up, the closed form e/(2iz) - (e + 2)/2 with e = expm1(2iz) takes over; psi_1 is far
    from zero there, so the closed form has no cancellation.
    """
    e = jnp.expm1(2j * z)  # 2i exp(iz) sin z
    use_product = (jnp.abs(e) > 0.5) | (jnp.abs(z) < 1)
    product = e / 2j * psi_1_over_psi_0
    direct = e / (2j * jnp.where(use_product, 1, z)) - (e + 2) / 2
    return jnp.where(use_product, product, direct)


def _riccati_bessel(z: jax.Array, n_max: int) -> RiccatiBessel:
    one = jnp.ones((), z.dtype)
    inv_z = one / z  # divisions are the costly step: take 1/z once
    orders = jnp.arange(1, n_max + 1).astype(jnp.real(z).dtype)

    def down(r_above, k):
        # D1_k = (k+1)/z - psi_{k+1}/psi_k, and psi_k/psi_{k-1} = 1 / (D1_k + k/z).
        d1 = (k + 1) * inv_z - r_above
        r = one / (d1 + k * inv_z)
        return r, (d1, r)

    _, (d1, r) = lax.scan(down, _psi_ratio_above(z, n_max), orders, reverse=True)
    u = _psi_1_scaled(z, r[0])
    # Upward for D3. Near the real axis the direct recurrence D3_k = 1/s_k - k/z, with
    # s_k = zeta_k/zeta_{k-1} = k/z - D3_{k-1}, is stable and, unlike the Wronskian form,
    # stays accurate where psi_k(z) vanishes. For Im z >= 1 it loses digits (psi grows
    # like exp(Im z)) and D3_k = D1_k + i/(psi_k zeta_k) is used (Pena & Pal 2009);
    # psi_k has no zeros there.
    direct = jnp.imag(z) < 1

    def up(carry, inputs):
        psi_zeta, d3_prev = carry
        k, d1_k, r_k = inputs
        # psi_k zeta_k = psi_{k-1} zeta_{k-1} (psi_k/psi_{k-1}) (zeta_k/zeta_{k-1}).
        s_k = k * inv_z - d3_prev
        psi_zeta = psi_zeta * r_k * s_k
        d3 = jnp.where(direct, -k * inv_z, d1_k) + one / jnp.where(direct, s_k, -1j * psi_zeta)
        return (psi_zeta, d3), (d3, s_k)

    s_1 = inv_z - 1j  # zeta_1/zeta_0 = 1/z - D3_0, D3_0 = i
    psi_zeta_1 = -1j * u * s_1  # psi_1 zeta_1 = psi_1 (-i e^{iz}) (zeta_1/zeta_0)
    d3_1 = jnp.where(direct, -inv_z, d1[0]) + one / jnp.where(direct, s_1, -1j * psi_zeta_1)
    _, (d3, s) = lax.scan(up, (psi_zeta_1, d3_1), (orders[1:], d1[1:], r[1:]))
    return RiccatiBessel(d1=d1, d3=jnp.concatenate([d3_1[None], d3]), psi_ratio=r[1:],
                         zeta_ratio=s, psi_1_scaled=u)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def riccati_bessel(z: jax.Array, n_max: int) -> RiccatiBessel:
    r"""Log-derivatives and order ratios of the Riccati-Bessel functions at z, n = 1..n_max.

    Args:
        z: complex scalar argument (m x), Im z >= 0 for passive media.
        n_max: highest order (static int, >= 1).

    Returns:
        RiccatiBessel with D1_n, D3_n (shape (n_max,)), psi_n/psi_{n-1} and
        zeta_n/zeta_{n-1} (shape (n_max - 1,)) and exp(iz) psi_1(z).

    Derivatives come from closed forms, not from differentiating the recurrences (whose
    start and length depend on z): both log-derivatives satisfy the Riccati equation

    .. math::
        rac{dD_n}{dz} = rac{n(n+1)}{z^2} - 1 - D_n^2,

    and d(psi_n/psi_{n-1})/dz = (psi_n/psi_{n-1})(D1_n - D1_{n-1}) (likewise for zeta),
    d(e^{iz} psi_1)/dz = e^{iz} psi_1 (i + D1_1). The rule is itself differentiable, so
    Hessians and higher orders work.
    """
    return _riccati_bessel(z, n_max)


@riccati_bessel.defjvp
def _riccati_bessel_jvp(n_max, primals, tangents):
    (z,), (dz,) = primals, tangents
    rb = riccati_bessel(z, n_max)
    n = jnp.arange(1, n_max + 1).astype(jnp.real(z).dtype)
    inv_z = 1 / z
    riccati = n * (n + 1) * (inv_z * inv_z) - 1
    d1_dot = (riccati - rb.d1 * rb.d1) * dz
    d3_dot = (riccati - rb.d3 * rb.d3) * dz
    tangent = RiccatiBessel(
        d1=d1_dot,
        d3=d3_dot,
        psi_ratio=rb.psi_ratio * (rb.d1[1:] - rb.d1[:-1]) * dz,
        zeta_ratio=rb.zeta_ratio * (rb.d3[1:] - rb.d3[:-1]) * dz,
        psi_1_scaled=rb.psi_1_scaled * (1j + rb.d1[0]) * dz,
    )
    return rb, tangent


def _riccati_slope(n: jax.Array, z: jax.Array, d: jax.Array) -> jax.Array:
    """dD_n/dz = n(n+1)/z^2 - 1 - D_n^2 (the Riccati equation of D1 and D3)."""
    inv_z = 1 / z
    return n * (n + 1) * (inv_z * inv_z) - 1 - d * d


def _log_derivative_difference(z1: jax.Array, dz: jax.Array, n_max: int):
    z2 = z1 + dz
    one = jnp.ones((), z1.dtype)
    real = jnp.real(z1).dtype
    inv_z1, inv_z2 = one / z1, one / z2
    w = dz * inv_z1 * inv_z2  # 1/z1 - 1/z2, from dz without cancellation

    # Above n_max: the continued fractions of both arguments from one start order, and their
    # difference t = r(z2) - r(z1) by t_k = ((2k+1) w + t_{k+1}) r_k(z1) r_k(z2).
    def above(state):
        k, r1, r2, t = state
        c = (2 * k + 1).astype(real)
        r1, r2 = one / (c * inv_z1 - r1), one / (c * inv_z2 - r2)
        return k - 1, r1, r2, (c * w + t) * r1 * r2

    start = jnp.maximum(_start_order(z1, n_max), _start_order(z2, n_max))
    zero = jnp.zeros_like(z1)
    _, r1, r2, t = lax.while_loop(lambda s: s[0] > n_max, above, (start, zero, zero, zero))

    # D_k = (k+1)/z - r_{k+1}, so E_k = -(k+1) w - t_{k+1}; r_k = 1/(D_k + k/z), so
    # t_k = -(E_k - k w) r_k(z1) r_k(z2).
    def down(carry, k):
        r1, r2, t = carry
        d1, d2 = (k + 1) * inv_z1 - r1, (k + 1) * inv_z2 - r2
        e = -(k + 1) * w - t
        r1, r2 = one / (d1 + k * inv_z1), one / (d2 + k * inv_z2)
        return (r1, r2, -(e - k * w) * r1 * r2), (e, d1, d2)

    orders = jnp.arange(1, n_max + 1).astype(real)
    _, (e, d1, d2) = lax.scan(down, (r1, r2, t), orders, reverse=True)
    return e, d1, d2


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def log_derivative_difference(z1: jax.Array, dz: jax.Array, n_max: int):
    r"""E_n = D1_n(z1 + dz) - D1_n(z1) for n = 1..n_max, accurate for small dz.

    The difference of the log-derivatives at the two sides of an interface between nearly
    equal indices (z1 = m_in x, dz = (m_out - m_in) x) is small; subtracting two separately
    computed D1 would leave only eps |D1| / |E| of it. Here the difference has a downward
    recurrence of its own, exact in dz: with r_k = psi_k/psi_{k-1} = 1/(D_k + k/z) and
    w = 1/z1 - 1/z2 = dz / (z1 z2),

    .. math::
        E_k = -(k+1) w - t_{k+1},\qquad t_k = r_k(z_2) - r_k(z_1) = -(E_k - k w)\,
        r_k(z_1)\,r_k(z_2),

    started with t = 0 where both continued fractions start. So E is exactly zero for dz = 0
    and keeps its relative accuracy as dz -> 0.

    Args:
        z1: complex scalar, Im z1 >= 0. dz: complex scalar (z2 = z1 + dz, Im z2 >= 0).
        n_max: highest order (static int >= 1).

    Returns:
        (E, D1(z1), D1(z2)), each complex of shape (n_max,).

    Derivatives from the Riccati equation, in the form without cancellation:
    dE = D'(z2) d(dz) + [D'(z2) - D'(z1)] dz1 with
    D'(z2) - D'(z1) = -n(n+1) w (1/z1 + 1/z2) - E (D1(z1) + D1(z2)), w = dz / (z1 z2).
    """
    return _log_derivative_difference(z1, dz, n_max)


@log_derivative_difference.defjvp
def _log_derivative_difference_jvp(n_max, primals, tangents):
    (z1, dz), (t1, t_dz) = primals, tangents
    e, d1, d2 = log_derivative_difference(z1, dz, n_max)
    z2 = z1 + dz
    n = jnp.arange(1, n_max + 1).astype(jnp.real(z1).dtype)
    slope2 = _riccati_slope(n, z2, d2)
    # n(n+1) (1/z2^2 - 1/z1^2) as -n(n+1) w (1/z1 + 1/z2), w = dz / (z1 z2): (z1 z2)^2
    # itself underflows in float32 for |z| < 1e-10
    inv_z1, inv_z2 = 1 / z1, 1 / z2
    gap = -n * (n + 1) * (dz * inv_z1 * inv_z2) * (inv_z1 + inv_z2) - e * (d1 + d2)
    de = slope2 * t_dz + gap * t1
    return (e, d1, d2), (de, _riccati_slope(n, z1, d1) * t1, slope2 * (t1 + t_dz))


def cumulative_product(factors: jax.Array) -> jax.Array:
    """Running product over the last axis (shape kept), with a leading 1 prepended.

    A sequential scan: its reverse-mode derivative is a cheap linear scan, where
    jnp.cumprod's goes through an associative scan. Returns shape (..., N + 1).
    """
    moved = jnp.moveaxis(factors, -1, 0)

    def step(product, factor):
        product = product * factor
        return product, product

    _, products = lax.scan(step, jnp.ones(moved.shape[1:], moved.dtype), moved)
    products = jnp.concatenate([jnp.ones((1, *moved.shape[1:]), moved.dtype), products])
    return jnp.moveaxis(products, 0, -1)


def abs_squared(z: jax.Array) -> jax.Array:
    """|z|^2 as Re(z)^2 + Im(z)^2: no square root, so its derivative is finite at z = 0."""
    return jnp.real(z) ** 2 + jnp.imag(z) ** 2


def zeta_ratio_1(z: jax.Array) -> jax.Array:
    """zeta_1(z)/zeta_0(z) = 1/z - i."""
    return 1 / z - 1j


def psi_zeta_ratio(rb: RiccatiBessel, z: jax.Array) -> jax.Array:
    """psi_n(z)/zeta_n(z) for n = 1..N (shape (N,)), as a product of order ratios.

    psi_1/zeta_1 = i e^{iz} psi_1 e^{-2iz} / (zeta_1/zeta_0); bounded by 1 for real z and
    underflowing gracefully to zero for small |z| at high orders. Only for arguments with
    small Im z (the host medium): it grows like exp(2 Im z).
    """
    ratio_1 = 1j * rb.psi_1_scaled * jnp.exp(-2j * z) / zeta_ratio_1(z)
    return ratio_1 * cumulative_product(rb.psi_ratio / rb.zeta_ratio)


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
