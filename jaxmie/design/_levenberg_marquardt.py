"""Bounded Levenberg-Marquardt for a batch of starts: fits whose loss is a sum of squares.

Fitting a spectrum is a least-squares problem, and Gauss-Newton steps use that: near a
zero-residual (or small-residual) optimum they converge quadratically, where first-order
optimisers crawl along the narrow, curved valleys that sharp Mie resonances make (on the
Soun et al. inverse-design notebook, 30 iterations here beat 100 Adam steps by 7x in mean
relative error). The residual's Jacobian comes from `jax.jacfwd` (a few parameters, many
residuals: forward mode is the cheap direction).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from .._errors import errors_as_nan
from ._bijections import from_unconstrained, to_unconstrained

__all__ = ["least_squares"]

# A ridge, relative to trace(J^T J), for directions the residual ignores (e.g. the split
# between a core and a shell of the same material), so that the step stays finite.
_RIDGE = 1e-12


def _levenberg_marquardt(residual: Callable[[jax.Array], jax.Array], u: jax.Array, steps: int,
                         damping: float) -> tuple[jax.Array, jax.Array]:
    """`steps` iterations on sum(residual(u)^2), u of shape (P,); returns (u, cost).

    A fixed iteration count (a scan, not a while loop), so that vmapped starts never wait for
    the slowest. Marquardt's diag(J^T J) scaling; a step that does not lower the cost (or
    gives NaN) is rejected and the damping doubled, an accepted one divides it by 3.
    """

    def with_value(v):
        r = residual(v)
        return r, r

    def iteration(carry, _):
        u, lam, cost = carry
        jac, r = jax.jacfwd(with_value, has_aux=True)(u)
        normal = jac.T @ jac
        damped = normal + jnp.diag(lam * jnp.diag(normal) + _RIDGE * jnp.trace(normal))
        trial = u - jnp.linalg.solve(damped, jac.T @ r)
        trial_cost = jnp.sum(residual(trial) ** 2)
        better = trial_cost < cost
        return (jnp.where(better, trial, u), jnp.where(better, lam / 3.0, lam * 2.0),
                jnp.where(better, trial_cost, cost)), None

    cost = jnp.sum(residual(u) ** 2)
    lam = jnp.asarray(damping, dtype=cost.dtype)
    (u, _, cost), _ = jax.lax.scan(iteration, (u, lam, cost), None, steps)
    return u, cost


@functools.partial(jax.jit, static_argnames=("residual", "with_data", "steps"))
def _fit(u, data, bounds, damping, *, residual, with_data, steps):
    """Every start's LM run in one vmapped call, at module level so that repeated calls with
    the same residual function reuse the compilation; returns (u, mean squared residual)."""
    _, unravel = ravel_pytree(jax.tree.map(lambda x: x[0], u))

    def one(u, d):
        def res(v):
            p = from_unconstrained(unravel(v), bounds)
            return jnp.ravel(residual(p, d) if with_data else residual(p))

        flat, cost = _levenberg_marquardt(res, ravel_pytree(u)[0], steps, damping)
        return unravel(flat), cost / jax.eval_shape(res, flat).shape[0]

    return jax.vmap(one)(u, data)


def least_squares(residual: Callable[..., jax.Array], init_params: Any, data: Any = None, *,
                  bounds=None, steps: int = 30,
                  damping: float = 1e-3) -> tuple[Any, jax.Array]:
    """Levenberg-Marquardt from N starts at once, every iterate inside `bounds`.

    Args:
        residual: residual(params) or residual(params, data) -> real array (any shape, M
            values), for one start; params a pytree of real scalars or arrays. The same
            function object reuses the compilation across calls.
        init_params: the starts: the same pytree with a leading axis N on every leaf.
        data: optional pytree with a leading axis N (one target per start, e.g. a measured
            spectrum), passed to residual; None for none.
        bounds: as in `multi_start`: a pytree prefix of params with `Bounded` / `Positive`
            / `Unbounded` leaves (the iteration runs in the unconstrained coordinates of
            `to_unconstrained`), or None.
        steps: iterations (static); no early stop, so that the batch stays in lock step.
        damping: initial Marquardt damping.

    Returns:
        (params, loss) in start order (not sorted): params like init_params, inside the
        bounds; loss = mean(residual^2) per start, shape (N,).
    """
    u = to_unconstrained(init_params, bounds)
    with errors_as_nan():  # a trial step outside the physical domain is a rejected step
        u, loss = _fit(u, data, bounds, damping, residual=residual,
                       with_data=data is not None, steps=steps)
    return from_unconstrained(u, bounds), loss
