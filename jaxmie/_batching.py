"""Mapping a per-item kernel over a flat batch: vectorised, in cache-sized blocks on CPU."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
from jax import lax

# On CPU a batch streamed through the kernel in blocks of this many items stays in cache:
# about twice as fast as one whole-batch vmap for 65,536 particles on a 2-core machine.
BLOCK_SIZE = 4096


def map_batch(kernel: Callable[[Any], Any], items: Any, block_size: int = BLOCK_SIZE) -> Any:
    """kernel vmapped over the leading axis of the pytree items (length B).

    On CPU, batches longer than block_size go through lax.map in blocks (bounded memory,
    cache-friendly). On GPU/TPU one vmap keeps the device busy: blocking there costs
    about 7x for 65,536 spheres on an H100.

    Derivatives of the blocked map use the plain vmap: differentiating the lax.map
    stacks the same residuals anyway, and the vmapped rule compiles about a third faster
    (gradient of the 256 x 256 core-shell workload) and runs no slower.
    """
    length = jax.tree.leaves(items)[0].shape[0]
    if jax.default_backend() != "cpu" or length <= block_size:
        return jax.vmap(kernel)(items)

    @jax.custom_jvp
    def blocked(items):
        return lax.map(kernel, items, batch_size=block_size)

    @blocked.defjvp
    def _vectorized_jvp(primals, tangents):
        return jax.jvp(jax.vmap(kernel), primals, tangents)

    return blocked(items)
