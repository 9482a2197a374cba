"""A minimal multilayer perceptron in pure JAX: parameters are a pytree, apply is a function.

Enough for Mie-in-the-loop learning (a tandem network maps a target spectrum to particle
parameters, jaxmie maps those back to a spectrum) without a network library. Map the
unbounded output into physical boxes with `from_unconstrained(., Bounded(...))`: a
`Bounded` leaf is exactly a sigmoid output layer scaled to (lo, hi).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

__all__ = ["mlp_apply", "mlp_init"]


def mlp_init(key: jax.Array, sizes: Sequence[int], dtype=jnp.float32) -> list[dict]:
    """He-normal weights (variance 2 / fan_in, suited to ReLU) and zero biases.

    Args:
        key: `jax.random` key.
        sizes: layer widths, input first, output last, e.g. (40, 1024, 1024, 1024, 6).
        dtype: parameter dtype (float32 is plenty for a network and twice as fast on CPU).

    Returns:
        list of len(sizes) - 1 dicts {'w': (fan_in, fan_out), 'b': (fan_out,)}, a pytree.
    """
    keys = jax.random.split(key, len(sizes) - 1)
    return [{"w": jax.random.normal(k, (a, b), dtype) * jnp.sqrt(2.0 / a).astype(dtype),
             "b": jnp.zeros((b,), dtype)}
            for k, a, b in zip(keys, sizes[:-1], sizes[1:], strict=True)]


def mlp_apply(params: list[dict], x: jax.Array,
              activation: Callable[[jax.Array], jax.Array] = jax.nn.relu) -> jax.Array:
    """x @ w + b per layer, `activation` after every layer but the last (linear output).

    Args:
        params: from `mlp_init`.
        x: inputs, shape (..., sizes[0]); cast to the parameters' dtype.
        activation: elementwise nonlinearity of the hidden layers.

    Returns:
        shape (..., sizes[-1]), the parameters' dtype.
    """
    x = jnp.asarray(x, params[0]["w"].dtype)
    for layer in params[:-1]:
        x = activation(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]
