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

    Derivatives stream too: each block is rematerialised (jax.checkpoint), so reverse
    mode keeps the blocks' inputs and recomputes one block's intermediates at a time
    instead of storing every item's (a plain vmap stored ~40 kB per particle-wavelength
    pair of a core-shell: a 512 x 1024 gradient ran out of 24 GB; blocked it peaks at
    0.69 GB, the native kernel's 0.60 GB). Forward mode runs block by block as it is.
    """
    length = jax.tree.leaves(items)[0].shape[0]
    if jax.default_backend() != "cpu" or length <= block_size:
        return jax.vmap(kernel)(items)
    return lax.map(jax.checkpoint(kernel), items, batch_size=block_size)
