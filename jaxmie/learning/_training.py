"""Minibatch training with optax: one jitted `lax.scan` per epoch over shuffled batches."""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from ..design._multistart import _n_starts, _optax

__all__ = ["TrainResult", "train"]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class TrainResult:
    """Trained parameters and the loss curves.

    Attributes:
        params: the parameters after the last epoch (pytree like the initial ones).
        train_loss: mean minibatch loss of each epoch, shape (epochs,) (the parameters change
            during the epoch, as usual).
        held_out_loss: loss on the held-out data before training and after each epoch,
            shape (epochs + 1,); empty when no held-out data was given.
        seconds: wall time of each epoch (training and held-out evaluation), shape (epochs,).
    """

    params: Any
    train_loss: jax.Array
    held_out_loss: jax.Array
    seconds: jax.Array


@functools.partial(jax.jit, static_argnames=("loss", "opt", "batch_size"))
def _epoch(params, state, data, key, *, loss, opt, batch_size):
    """One pass over a random permutation of data in batches (the remainder is dropped)."""
    n = jax.tree.leaves(data)[0].shape[0]
    order = jax.random.permutation(key, n)[: n // batch_size * batch_size]

    def step(carry, idx):
        params, state = carry
        value, grad = jax.value_and_grad(loss)(params, jax.tree.map(lambda x: x[idx], data))
        updates, state = opt.update(grad, state, params)
        return (_optax().apply_updates(params, updates), state), value

    (params, state), values = jax.lax.scan(step, (params, state),
                                           order.reshape(-1, batch_size))
    return params, state, jnp.mean(values)


@functools.partial(jax.jit, static_argnames=("loss",))
def _evaluate(params, data, *, loss):
    return loss(params, data)


def train(loss: Callable[[Any, Any], jax.Array], params, data, optimizer, key: jax.Array, *,
          epochs: int, batch_size: int, held_out=None, verbose: bool = False) -> TrainResult:
    """Minimise `loss(params, batch)` over shuffled minibatches of `data`.

    Each epoch is one compiled call (a `lax.scan` over n // batch_size batches of a fresh
    permutation, fold_in(key, epoch); the last n % batch_size samples of each permutation
    are skipped, different ones every epoch). The same loss and optimizer objects reuse the
    compilation. The held-out loss is evaluated in one batch after every epoch.

    Args:
        loss: `loss(params, batch) -> scalar`, batch a pytree like `data` with leading axis
            batch_size (e.g. mean squared error of the spectra a network predicts).
        params: initial parameters, a pytree (e.g. from `mlp_init`).
        data: pytree of arrays with a common leading axis n (e.g. target spectra (n, W)).
        optimizer: an `optax.GradientTransformation` (schedules count steps, not epochs).
        key: `jax.random` key for the shuffling.
        epochs: number of passes over the data.
        batch_size: samples per optimiser step, 1 <= batch_size <= n.
        held_out: optional pytree like `data` (other samples) for the held-out curve.
        verbose: print one line per epoch.

    Returns:
        `TrainResult` with the final params, train_loss (epochs,), held_out_loss
        (epochs + 1,) and seconds (epochs,).
    """
    n = _n_starts(data, "train: every leaf of data")
    if not 1 <= batch_size <= n or epochs < 0:
        raise ValueError(f"train: need 1 <= batch_size <= n = {n} and epochs >= 0; got "
                         f"batch_size={batch_size}, epochs={epochs}")
    state = optimizer.init(params)
    held = [] if held_out is None else [float(_evaluate(params, held_out, loss=loss))]
    train_loss, seconds = [], []
    for epoch in range(epochs):
        start = time.perf_counter()
        params, state, value = _epoch(params, state, data, jax.random.fold_in(key, epoch),
                                      loss=loss, opt=optimizer, batch_size=batch_size)
        train_loss.append(float(value))
        if held_out is not None:
            held.append(float(_evaluate(params, held_out, loss=loss)))
        seconds.append(time.perf_counter() - start)
        if verbose:
            print(f"train: epoch {epoch + 1}/{epochs}  train loss {train_loss[-1]:.6g}"
                  + (f"  held-out loss {held[-1]:.6g}" if held else "")
                  + f"  ({seconds[-1]:.1f} s)", flush=True)
    return TrainResult(params=params, train_loss=jnp.asarray(train_loss),
                       held_out_loss=jnp.asarray(held), seconds=jnp.asarray(seconds))
