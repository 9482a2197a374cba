"""Bijections between a box and unconstrained space, applied leaf-wise to parameter pytrees.

Optimisers run on unconstrained u; the loss sees constrained x = forward(u), so every iterate
stays inside its bounds. `Bounded` (sigmoid), `Positive` (softplus), `Unbounded` (identity);
`uniform_starts` draws starts inside `Bounded` boxes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Bounded", "Positive", "Unbounded", "from_unconstrained", "to_unconstrained",
           "uniform_starts"]


class _Bijection:
    """Base class: `forward` maps unconstrained u to the constrained x, `inverse` back."""

    def forward(self, u: jax.Array) -> jax.Array:  # pragma: no cover - interface
        raise NotImplementedError

    def inverse(self, x: jax.Array) -> jax.Array:  # pragma: no cover - interface
        raise NotImplementedError


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Unbounded(_Bijection):
    """The identity: a parameter left unconstrained."""

    def forward(self, u):
        return jnp.asarray(u)

    def inverse(self, x):
        return jnp.asarray(x)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Bounded(_Bijection):
    """A real parameter in the open box (lo, hi), through a sigmoid.

    .. math::
        x = lo + (hi - lo)\\,\\sigma(u), \\qquad u = \\log t - \\log(1 - t),\\;
        t = (x - lo) / (hi - lo)

    Attributes:
        lo, hi: bounds (same units as the parameter, e.g. nm), scalars or arrays that
            broadcast against the parameter leaf; lo < hi (checked when concrete).

    The map is smooth with nonzero derivative everywhere inside the box; the bounds
    themselves are reached only as u -> +-inf.
    """

    lo: Any
    hi: Any

    def __post_init__(self):
        try:
            lo, hi = np.asarray(self.lo), np.asarray(self.hi)
        except (TypeError, jax.errors.TracerArrayConversionError):
            return
        if lo.dtype != object and hi.dtype != object and not np.all(lo < hi):
            raise ValueError(f"Bounded: need lo < hi; got lo={self.lo!r}, hi={self.hi!r}")

    def forward(self, u):
        u = jnp.asarray(u)
        return self.lo + (self.hi - self.lo) * jax.nn.sigmoid(u)

    def inverse(self, x):
        t = (jnp.asarray(x) - self.lo) / (self.hi - self.lo)
        return jnp.log(t) - jnp.log1p(-t)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Positive(_Bijection):
    """A real parameter above lo (default 0), through a softplus.

    .. math::
        x = lo + \\log(1 + e^u), \\qquad u = y + \\log(1 - e^{-y}),\\; y = x - lo

    Attributes:
        lo: lower bound (e.g. a thickness > 0 nm), scalar or array broadcasting against the
            leaf.
    """

    lo: Any = 0.0

    def forward(self, u):
        return self.lo + jax.nn.softplus(jnp.asarray(u))

    def inverse(self, x):
        y = jnp.asarray(x) - self.lo
        return y + jnp.log(-jnp.expm1(-y))


def _is_bound(x) -> bool:
    return x is None or isinstance(x, _Bijection)


def _map_bounds(method: str, tree, bounds):
    if bounds is None:
        return jax.tree.map(jnp.asarray, tree)

    def apply(b, sub):
        if b is None:
            return jax.tree.map(jnp.asarray, sub)
        return jax.tree.map(getattr(b, method), sub)

    return jax.tree.map(apply, bounds, tree, is_leaf=_is_bound)


def to_unconstrained(params, bounds):
    """Map constrained parameters to unconstrained space, leaf by leaf.

    Args:
        params: pytree of real arrays (any shapes, e.g. a leading axis of starts).
        bounds: a pytree prefix of `params` whose leaves are `Bounded`, `Positive`,
            `Unbounded` or None (left unconstrained); a single bijection applies to every
            leaf. None for no bounds at all.

    Returns:
        pytree like `params`, same shapes.
    """
    return _map_bounds("inverse", params, bounds)


def from_unconstrained(u, bounds):
    """Inverse of `to_unconstrained`: unconstrained pytree -> parameters inside the bounds."""
    return _map_bounds("forward", u, bounds)


def uniform_starts(key: jax.Array, bounds, n: int):
    """n starts drawn uniformly inside a pytree of `Bounded` boxes.

    Args:
        key: a `jax.random` key.
        bounds: pytree whose leaves are `Bounded` (lo, hi set the leaf's shape by
            broadcasting).
        n: number of starts (static).

    Returns:
        pytree like `bounds` with `Bounded` leaves replaced by arrays of shape
        (n, *broadcast(lo, hi).shape).
    """
    leaves, treedef = jax.tree.flatten(bounds, is_leaf=_is_bound)
    if not all(isinstance(b, Bounded) for b in leaves):
        raise ValueError("uniform_starts: every leaf of bounds must be Bounded(lo, hi)")
    keys = jax.random.split(key, len(leaves))
    out = []
    for k, b in zip(keys, leaves, strict=True):
        lo, hi = jnp.asarray(b.lo, float), jnp.asarray(b.hi, float)
        shape = (n, *jnp.broadcast_shapes(lo.shape, hi.shape))
        out.append(lo + (hi - lo) * jax.random.uniform(k, shape, dtype=lo.dtype))
    return jax.tree.unflatten(treedef, out)
