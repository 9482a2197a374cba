"""How a public function runs: host-side checks and n_max, then one cached compiled call.

Every public function of a particle (efficiencies, amplitudes, fields, ...) checks its
concrete inputs on the host (jaxmie.validation, NumPy only: no device round trip), picks the
static number of orders (jaxmie.truncation), and then runs one jitted function of the whole
particle pytree. An eager call from a Python loop therefore costs one host check and one
dispatch of an already compiled program; inside an outer jit the inner jit is inlined.

Particles whose indices are plain Python callables (not jaxmie materials, which are
pytrees) cannot be jit arguments as they are: their callables become static arguments
(hashed by identity), so a new lambda compiles anew. An unhashable callable runs without
the outer jit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from . import truncation
from .validation import check_particle

__all__ = ["particle_jit", "prepare"]

_ARRAY_TYPES = (jax.Array, np.ndarray, np.generic, int, float, complex)


def prepare(particle: Any, wavelength: Any, n_env: Any, n_max: Any,
            rule: Callable[[float], int] = truncation.n_max_for, minimum: int = 1) -> int:
    """Check the inputs (ValueError naming the field) and return the static n_max."""
    x_outer = check_particle(particle, wavelength, n_env)
    return truncation.static_n_max(n_max, lambda: x_outer, rule, minimum)


def _is_array(leaf: Any) -> bool:
    return isinstance(leaf, _ARRAY_TYPES)


def particle_jit(fun: Callable[..., Any], static_argnames: tuple[str, ...] = ()
                 ) -> Callable[..., Any]:
    """jax.jit of fun(particle, *args, **kwargs) that also takes particles holding Python
    callables (see the module docstring). static_argnames name keyword arguments."""
    whole = jax.jit(fun, static_argnames=static_argnames)

    @functools.partial(jax.jit, static_argnames=("static", *static_argnames))
    def split(dynamic, *args, static, **kwargs):
        treedef, constants = static
        leaves = [c if d is None else d for d, c in zip(dynamic, constants)]
        return fun(jax.tree_util.tree_unflatten(treedef, leaves), *args, **kwargs)

    @functools.wraps(fun)
    def call(particle, *args, **kwargs):
        leaves, treedef = jax.tree_util.tree_flatten(particle)
        if all(map(_is_array, leaves)):
            return whole(particle, *args, **kwargs)
        dynamic = [leaf if _is_array(leaf) else None for leaf in leaves]
        constants = tuple(None if _is_array(leaf) else leaf for leaf in leaves)
        try:
            hash(constants)
        except TypeError:
            return fun(particle, *args, **kwargs)
        return split(dynamic, *args, static=(treedef, constants), **kwargs)

    return call
