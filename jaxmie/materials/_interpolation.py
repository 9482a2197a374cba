"""Monotone piecewise-cubic (PCHIP) interpolation in pure jax.numpy.

Tabulated optical constants are interpolated with the Fritsch-Carlson monotone cubic Hermite
scheme, with the same slopes as `scipy.interpolate.PchipInterpolator`:

- the interpolant passes through every node exactly (it is a Hermite cubic on each interval);
- its first derivative is continuous (one slope per node, shared by both neighbouring
  intervals), so gradients with respect to the abscissa do not jump at nodes, and its second
  derivative is bounded (it may jump at nodes, by a finite amount);
- it is shape preserving: on each interval it stays between the two node values, so it
  never overshoots. Interpolating a non-negative extinction coefficient k therefore gives a
  non-negative k everywhere, without clamping.

Every function is pure, jittable and differentiable with respect to the query points and to
the table itself (the slopes are recomputed from the table at each call, with gradient-safe
"double where" branches). Several curves on one grid (e.g. n and k) share one node search.

A table may be padded at its end to a bucketed length (so that tables of different lengths
share one compiled program): `count` then gives the number of real nodes, and the padding,
which must continue x increasingly with finite values, is ignored.

References:
    F. N. Fritsch and R. E. Carlson, "Monotone piecewise cubic interpolation",
    SIAM J. Numer. Anal. 17, 238-246 (1980).
    F. N. Fritsch and J. Butland, "A method for constructing local monotone piecewise cubic
    interpolants", SIAM J. Sci. Stat. Comput. 5, 300-304 (1984).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["pchip", "pchip_evaluate", "pchip_slopes"]


def _edge_slope(h0: jax.Array, h1: jax.Array, m0: jax.Array, m1: jax.Array) -> jax.Array:
    """One-sided three-point slope at an end node, limited to keep the shape.

    h0, m0 belong to the interval at the end, h1, m1 to its neighbour (broadcasting).
    """
    d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    d = jnp.where(jnp.sign(d) != jnp.sign(m0), jnp.zeros_like(d), d)
    overshoot = (jnp.sign(m0) != jnp.sign(m1)) & (jnp.abs(d) > 3.0 * jnp.abs(m0))
    return jnp.where(overshoot, 3.0 * m0, d)


def pchip_slopes(x: jax.Array, y: jax.Array, count: Any = None) -> jax.Array:
    """Node slopes dy/dx of the monotone cubic interpolant.

    Args:
        x: nodes, shape (N,), strictly increasing, N >= 2.
        y: values, shape (..., N) (several curves on one grid), same dtype as x.
        count: number of real nodes (2 <= count <= N, may be traced) when the table is
            padded at its end; None when all N nodes are real.

    Returns:
        slopes, shape (..., N). Interior slopes are the weighted harmonic mean of the two
        neighbouring secants (zero at a local extremum); end slopes use the one-sided
        three-point rule of Fritsch & Butland. With two nodes the interpolant is linear.
        Slopes beyond `count` are finite and meaningless.
    """
    lead = (1,) * (y.ndim - 1)  # explicit broadcasting over leading curve axes
    h = jnp.diff(x)
    secant = jnp.diff(y, axis=-1) / h.reshape(lead + h.shape)
    if x.shape[0] == 2:
        return jnp.concatenate([secant, secant], axis=-1)
    m0, m1 = secant[..., :-1], secant[..., 1:]
    h0, h1 = h[:-1].reshape(lead + (-1,)), h[1:].reshape(lead + (-1,))
    w1 = 2.0 * h1 + h0
    w2 = h1 + 2.0 * h0
    same_sign = jnp.sign(m0) * jnp.sign(m1) > 0  # m0 * m1 underflows for tiny secants
    # "double where": the harmonic mean is evaluated on safe values only, so neither the
    # value nor its gradient is NaN where a secant vanishes.
    safe0 = jnp.where(same_sign, m0, jnp.ones_like(m0))
    safe1 = jnp.where(same_sign, m1, jnp.ones_like(m1))
    # Written as s H(m0 / s, m1 / s) with H(m0, m1) = m0 m1 (w1 + w2) / (w1 m1 + w2 m0),
    # homogeneous of degree 1, and s = max(|m0|, |m1|) held constant: the scaled denominator
    # is at least min(w1, w2), so neither the value nor its derivatives under- or overflow
    # for tiny secants (a 1/m0^2 does at |m0| ~ 1e-154, e.g. k ~ 1e-150 in a relaxed mixture).
    scale = jax.lax.stop_gradient(jnp.maximum(jnp.abs(safe0), jnp.abs(safe1)))
    t0, t1 = safe0 / scale, safe1 / scale
    harmonic = scale * (t0 * t1 * (w1 + w2) / (w1 * t1 + w2 * t0))
    interior = jnp.where(same_sign, harmonic, jnp.zeros_like(harmonic))
    first = _edge_slope(h[0], h[1], secant[..., 0], secant[..., 1])
    if count is None:
        last = _edge_slope(h[-1], h[-2], secant[..., -1], secant[..., -2])
        return jnp.concatenate([first[..., None], interior, last[..., None]], axis=-1)
    # Padded table: the last real node is `count - 1`; its slope uses the end rule on the
    # real intervals count - 2 and count - 3 (with two real nodes: the secant).
    count = jnp.asarray(count)
    j = jnp.maximum(count - 3, 0)
    last = _edge_slope(h[count - 2], h[j], secant[..., count - 2], secant[..., j])
    last = jnp.where(count == 2, secant[..., 0], last)
    first = jnp.where(count == 2, secant[..., 0], first)
    slopes = jnp.concatenate([first[..., None], interior, interior[..., -1:]], axis=-1)
    at_last = (jnp.arange(x.shape[0], dtype=count.dtype) == count - 1).reshape(lead + (-1,))
    return jnp.where(at_last, last[..., None], slopes)


def pchip_evaluate(x: jax.Array, y: jax.Array, slopes: jax.Array, xq: jax.Array,
                   count: Any = None) -> jax.Array:
    """Evaluate the cubic Hermite interpolant with the given node slopes.

    Args:
        x: nodes, shape (N,), strictly increasing.
        y: values at the nodes, shape (..., N).
        slopes: dy/dx at the nodes, shape (..., N) (from `pchip_slopes`).
        xq: query points, any shape Q. Points outside [x[0], x[count - 1]] extrapolate the
            end cubics; callers clamp first when that is not wanted.
        count: number of real nodes of a padded table, or None (all N).

    Returns:
        interpolated values, shape (..., *Q). At a node the value is y at that node exactly.
    """
    i = jnp.searchsorted(x, xq, side="right") - 1
    last = x.shape[0] - 2 if count is None else jnp.asarray(count).astype(i.dtype) - 2
    i = jnp.clip(i, 0, last)
    x0, x1 = x[i], x[i + 1]
    h = x1 - x0
    t = (xq - x0) / h
    t2 = t * t
    t3 = t2 * t
    h00 = 2.0 * t3 - 3.0 * t2 + 1.0
    h10 = t3 - 2.0 * t2 + t
    h01 = -2.0 * t3 + 3.0 * t2
    h11 = t3 - t2
    lead = (1,) * (y.ndim - 1)
    h00, h01, h10, h11, h = (c.reshape(lead + c.shape) for c in (h00, h01, h10, h11, h))
    return (h00 * y[..., i] + h01 * y[..., i + 1]
            + h * (h10 * slopes[..., i] + h11 * slopes[..., i + 1]))


def pchip(x: jax.Array, y: jax.Array, xq: jax.Array) -> jax.Array:
    """Monotone cubic interpolation of the table (x, y) at xq.

    Args:
        x: nodes, shape (N,), strictly increasing, N >= 2.
        y: values, shape (..., N) (one or several curves on the grid x).
        xq: query points, any shape Q, inside [x[0], x[-1]].

    Returns:
        values, shape (..., *Q); C1 in xq, exact at the nodes, never outside the range of
        the two neighbouring node values.
    """
    return pchip_evaluate(x, y, pchip_slopes(x, y), xq)
