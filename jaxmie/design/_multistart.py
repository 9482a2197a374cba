"""Multi-start optimisation: N starts in one jitted, vmapped optax step, sorted by loss."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import errors_as_nan
from ._bijections import from_unconstrained, to_unconstrained

__all__ = ["MultiStartResult", "multi_start"]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class MultiStartResult:
    """Every start's outcome, sorted by final loss (best first; NaN last).

    Attributes:
        params: pytree like the initial parameters, every leaf with leading axis N
            (constrained values, inside the bounds).
        loss: final losses, shape (N,).
        order: the starts' original positions, shape (N,) int: params[i] came from start
            order[i].
        history: loss of every start at each check, shape (n_checks, N), in the original
            start order.
        steps: number of optimisation steps run (early stopping may end before `steps`).
    """

    params: Any
    loss: jax.Array
    order: jax.Array
    history: jax.Array
    steps: int = dataclasses.field(metadata={"static": True}, default=0)

    @property
    def best(self):
        """The best start's parameters (pytree without the leading axis)."""
        return jax.tree.map(lambda x: x[0], self.params)


def _has_linesearch(state) -> bool:
    try:
        return (_optax().tree_utils.tree_get(state, "value") is not None
                and _optax().tree_utils.tree_get(state, "grad") is not None)
    except (KeyError, ValueError):
        return False


def _optax():
    """optax, an optional dependency (jaxmie[design]) that multi_start composes with."""
    try:
        import optax
    except ImportError:
        raise ImportError("jaxmie.design.multi_start needs optax: pip install "
                          "'jaxmie[design]' (or optax)") from None
    return optax


def _n_starts(tree, what: str = "multi_start: every leaf of init_params") -> int:
    """The common leading size of every leaf; ValueError starting with `what` otherwise."""
    sizes = {np.shape(x)[0] if np.ndim(x) else None for x in jax.tree.leaves(tree)}
    size = sizes.pop() if len(sizes) == 1 else None
    if size is None:
        raise ValueError(f"{what} must have the same leading axis (the starts); got leading "
                         f"sizes {sorted(map(str, sizes | {size}))}")
    return int(size)


@functools.cache
def _default_optimizer():
    return _optax().adam(0.05)  # one object, so its compiled steps are reused


def _loss_of_u(loss, u, d, bounds, noise):
    """The loss at unconstrained u; noise None, or (step, key) passed as keywords."""
    p = from_unconstrained(u, bounds)
    args = (p,) if d is None else (p, d)
    return loss(*args) if noise is None else loss(*args, step=noise[0], key=noise[1])


@functools.partial(jax.jit, static_argnames=("loss", "opt", "linesearch"))
def _chunk(u, state, d, keys, first, count, bounds, *, loss, opt, linesearch):
    """`count` vmapped optimiser steps from step `first` (both traced: one compilation).

    keys: None, or one key per start; step s then gets fold_in(key, s), so the noise depends
    only on the start and the step, not on how the steps are chunked.
    """
    opt = _optax().with_extra_args_support(opt)

    def one(u, state, d, k, step):
        noise = None if k is None else (step, jax.random.fold_in(k, step))
        fd = functools.partial(_loss_of_u, loss, d=d, bounds=bounds, noise=noise)
        if linesearch:
            value, grad = _optax().value_and_grad_from_state(fd)(u, state=state)
        else:
            value, grad = jax.value_and_grad(fd)(u)
        updates, state = opt.update(grad, state, u, value=value, grad=grad, value_fn=fd)
        return _optax().apply_updates(u, updates), state

    batched = jax.vmap(one, in_axes=(0, 0, 0, 0, None))
    u, state = jax.lax.fori_loop(0, count, lambda i, c: batched(*c, d, keys, first + i),
                                 (u, state))
    # reported losses are noise-free (key=None) at the step reached
    noise = None if keys is None else (first + count, None)
    losses = jax.vmap(lambda v, dd: _loss_of_u(loss, v, dd, bounds, noise))(u, d)
    return u, state, losses


def _optimize(loss, init_params, optimizer, steps, bounds, tol, check_every, verbose, data,
              key=None):
    """Unsorted multi-start run: (params, loss, history, steps run, n)."""
    with errors_as_nan():  # a start that leaves the physical domain gets a NaN loss
        return _run(loss, init_params, optimizer, steps, bounds, tol, check_every, verbose,
                    data, key)


def _run(loss, init_params, optimizer, steps, bounds, tol, check_every, verbose, data, key):
    n = _n_starts(init_params)
    u = to_unconstrained(init_params, bounds)
    state = jax.vmap(optimizer.init)(u)
    keys = None if key is None else jax.random.split(key, n)
    chunk = functools.partial(_chunk, loss=loss, opt=optimizer,
                              linesearch=_has_linesearch(state))
    # same loss and optimizer objects -> the compiled step is reused across calls
    u, state, previous = chunk(u, state, data, keys, 0, 0, bounds)
    history = [previous]
    done = 0
    while done < steps:
        count = min(check_every, steps - done)
        u, state, current = chunk(u, state, data, keys, done, count, bounds)
        done += count
        history.append(current)
        change = np.abs(np.asarray(current) - np.asarray(previous))
        finite = np.isfinite(change)
        converged = tol is not None and bool(np.all(change[finite] < tol))
        if verbose:
            c = np.asarray(current)
            best = np.nanmin(c) if np.any(np.isfinite(c)) else np.nan
            print(f"multi_start: step {done}/{steps}  best loss {best:.6g}  "
                  f"median {np.nanmedian(c):.6g}  max change {np.nanmax(change, initial=0):.3g}"
                  + ("  (converged)" if converged else ""), flush=True)
        previous = current
        if converged:
            break
    return from_unconstrained(u, bounds), previous, jnp.stack(history), done, n


def multi_start(loss: Callable[..., jax.Array], init_params, optimizer=None,
                steps: int = 200, *, bounds=None, tol: float | None = None,
                check_every: int = 10, verbose: bool = False, data=None,
                key: jax.Array | None = None) -> MultiStartResult:
    """Optimise N starts at once: one jitted, vmapped optax step for all of them.

    The loss is written for one start; the optimiser runs in unconstrained space,
    u = to_unconstrained(params, bounds), so every iterate stays inside the bounds. Steps run
    on the device in chunks of `check_every`; between chunks the host checks for early
    stopping and prints progress.

    Args:
        loss: `loss(params) -> scalar` (or `loss(params, data)` when `data` is given), for one
            start's parameters (a pytree of real arrays, constrained values).
        init_params: pytree of real arrays, every leaf with leading axis N (the starts), e.g.
            from `uniform_starts`.
        optimizer: any `optax.GradientTransformation`; default `optax.adam(0.05)` (a step of
            about 1 % of a `Bounded` range at its centre). Line-search methods
            (`optax.lbfgs`, or chains with `optax.scale_by_zoom_linesearch`) are detected from
            their state and driven with `optax.value_and_grad_from_state` and
            `update(..., value=, grad=, value_fn=)`.
        steps: maximum number of optimisation steps (each start takes the same number).
        bounds: pytree prefix of the parameters with `Bounded` / `Positive` / `Unbounded` /
            None leaves (see `to_unconstrained`); None: unconstrained.
        tol: stop early when, at a check, every start's loss changed by less than `tol`
            (absolute, in the loss's units) since the previous check; starts with non-finite
            loss are ignored. None: run all steps.
        check_every: steps between host checks (early stopping, progress).
        verbose: print one progress line per check.
        data: optional pytree with leading axis N passed to the loss start by start (e.g. a
            material choice or a target spectrum per start).
        key: optional `jax.random` key for stochastic losses. When given, the loss is called
            as `loss(params[, data], step=step, key=k)`: step is the optimisation step (a
            traced int, 0 at the first update) and k = fold_in(split(key, N)[start], step),
            a fresh key per start and step. Derive annealed quantities from step inside the
            loss (e.g. a Gumbel-softmax temperature from an optax schedule,
            `optax.exponential_decay(1.0, steps, 0.01)(step)`), so the jitted, vmapped step
            stays pure. The losses reported (history, sorting, early stopping) are evaluated
            with `key=None` (the loss must then be noise-free) at the step reached.

    Returns:
        `MultiStartResult`: params (leaves with leading axis N) and loss (N,) sorted by loss,
        the original order, the loss history at each check (n_checks, N), the steps run.
    """
    optimizer = _default_optimizer() if optimizer is None else optimizer
    if steps < 0 or check_every < 1:
        raise ValueError(f"multi_start: need steps >= 0 and check_every >= 1; got steps={steps}"
                         f", check_every={check_every}")
    params, final, history, done, _ = _optimize(loss, init_params, optimizer, steps, bounds,
                                                tol, check_every, verbose, data, key)
    order = jnp.argsort(final)
    return MultiStartResult(params=jax.tree.map(lambda x: x[order], params), loss=final[order],
                            order=order, history=history, steps=done)
