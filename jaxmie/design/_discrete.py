"""Discrete material choice over a `StackedTable`: exact enumeration and relaxations.

References:
    J. Soun et al., Opt. Express 33, 25945 (2025) (discrete material choice).
    E. Jang, S. Gu and B. Poole, ICLR (2017) (Gumbel-softmax).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..materials._mixing import StackedTable
from ._multistart import _default_optimizer, _n_starts, _optimize

__all__ = ["EnumerationResult", "enumerate_materials", "relaxed_materials", "softmax_mixture"]


def softmax_mixture(logits: jax.Array, table: StackedTable, temperature=1.0, *,
                    key: jax.Array | None = None):
    """Continuous relaxation of a discrete material choice over a `StackedTable`.

    weights = softmax((logits + g) / temperature), with g = 0, or Gumbel noise when `key` is
    given (Gumbel-softmax); the material is `table.mix(weights)` (linear in permittivity).
    As temperature -> 0 the weights approach one-hot and the material a table row; anneal it
    with an optax schedule evaluated at the step (`multi_start(..., key=)` passes the step and
    a key to the loss).

    Args:
        logits: shape (n_materials,), real.
        table: from `jaxmie.materials.stack`.
        temperature: positive scalar.
        key: optional `jax.random` key for Gumbel noise.

    Returns:
        a `Tabulated` material on the table's grid.
    """
    logits = jnp.asarray(logits)
    if key is not None:
        logits = logits + jax.random.gumbel(key, logits.shape, logits.dtype)
    return table.mix(jax.nn.softmax(logits / temperature))


def relaxed_materials(logits: jax.Array, table: StackedTable, temperature=1.0, *,
                      key: jax.Array | None = None) -> tuple:
    """One relaxed material per layer: `softmax_mixture` of each row of `logits`.

    The relaxed counterpart of the materials tuple that `enumerate_materials` passes to its
    loss, so one `loss(params, materials)` serves both. Inside `multi_start(..., key=key)`
    pass the loss's `key` (None when multi_start reports noise-free losses) and a temperature
    annealed with `step`. The hard design it relaxes is
    `tuple(table.material(i) for i in jnp.argmax(logits, -1))`; polish the geometry for it
    with a short `multi_start(..., data=choices)`: near the end of the annealing the noise
    still flips close choices now and then, which keeps the geometry from converging.

    Args:
        logits: shape (n_layers, n_materials), real; rows inner -> outer.
        table: from `jaxmie.materials.stack`.
        temperature: positive scalar, shared by every layer.
        key: optional `jax.random` key; layer l gets Gumbel noise from fold_in(key, l).

    Returns:
        tuple of n_layers `Tabulated` materials on the table's grid.
    """
    logits = jnp.asarray(logits)
    return tuple(softmax_mixture(logits[layer], table, temperature,
                                 key=None if key is None else jax.random.fold_in(key, layer))
                 for layer in range(logits.shape[0]))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class EnumerationResult:
    """Best design per material combination, sorted by loss (best first).

    Attributes:
        choices: table row of each layer, shape (K, n_layers) int (inner -> outer).
        params: best geometry of each combination, leaves with leading axis K.
        loss: best loss of each combination, shape (K,).
        start_loss: every start's final loss, shape (K, N).
        names: material names per combination, K tuples (static).
    """

    choices: jax.Array
    params: Any
    loss: jax.Array
    start_loss: jax.Array
    names: tuple[tuple[str, ...], ...] = dataclasses.field(metadata={"static": True},
                                                           default=())


def enumerate_materials(loss: Callable[[Any, tuple], jax.Array], table: StackedTable,
                        init_params, optimizer=None, steps: int = 200, *, n_layers: int = 2,
                        choices: Sequence[Sequence[int]] | None = None, bounds=None,
                        tol: float | None = None, check_every: int = 10,
                        verbose: bool = False) -> EnumerationResult:
    """Exact discrete material choice: optimise the geometry for every combination.

    All K combinations x N starts run as one `multi_start` batch (K * N vmapped starts).

    Args:
        loss: `loss(params, materials) -> scalar`, where materials is a tuple of n_layers
            `Tabulated` materials (inner -> outer; table rows, exact on the table's grid).
        table: `jaxmie.materials.stack(...)`, n_materials rows.
        init_params: geometry starts, leaves with leading axis N (shared by every
            combination).
        optimizer, steps, bounds, tol, check_every, verbose: as in `multi_start` (tol applies
            to all K * N starts together).
        n_layers: layers to choose (2: core and shell); every layer ranges over all rows.
        choices: optional allowed rows per layer (length n_layers), e.g. [[si], range(M)] to
            fix the core; overrides n_layers.

    Returns:
        `EnumerationResult`, K = prod(len(choices[l])) combinations sorted by best loss.
    """
    n_materials = int(np.shape(table.index)[0])
    if choices is None:
        choices = [range(n_materials)] * n_layers
    combos = np.array(list(itertools.product(*[list(c) for c in choices])), dtype=np.int32)
    if combos.size and (combos.min() < 0 or combos.max() >= n_materials):
        raise ValueError(f"enumerate_materials: choices must be rows 0..{n_materials - 1}")
    k = combos.shape[0]
    n = _n_starts(init_params)
    tiled = jax.tree.map(lambda x: jnp.tile(jnp.asarray(x), (k,) + (1,) * (np.ndim(x) - 1)),
                         init_params)
    rows = jnp.asarray(np.repeat(combos, n, axis=0))  # (K * N, n_layers), combo-major

    def per_start(params, row):
        return loss(params, tuple(table.material(row[i]) for i in range(row.shape[0])))

    params, final, _, _, _ = _optimize(per_start, tiled, optimizer or _default_optimizer(), steps,
                                       bounds, tol, check_every, verbose, rows)
    final = final.reshape(k, n)
    best = jnp.argmin(jnp.where(jnp.isnan(final), jnp.inf, final), axis=1)
    flat_best = jnp.arange(k) * n + best
    best_loss = final[jnp.arange(k), best]
    order = np.asarray(jnp.argsort(best_loss))
    names = tuple(tuple(table.names[i] for i in combos[c]) for c in order)
    return EnumerationResult(
        choices=jnp.asarray(combos[order]),
        params=jax.tree.map(lambda x: x[flat_best[order]], params),
        loss=best_loss[order], start_loss=final[order], names=names)
