"""How a public function runs: checks and n_max, then one cached compiled call.

Every public function of a particle (efficiencies, amplitudes, fields, ...) checks its
inputs (jaxmie._validation: concrete ones on the host, NumPy only, no device round trip;
traced ones when the computation runs), picks the static number of orders
(jaxmie._truncation), and then runs one jitted function of the whole
particle pytree. An eager call from a Python loop therefore costs one host check and one
dispatch of an already compiled program; inside an outer jit the inner jit is inlined.

Particles whose indices are plain Python callables (not jaxmie materials, which are
pytrees) cannot be jit arguments as they are: their callables become static arguments
(hashed by identity), so a new lambda compiles anew. An unhashable callable runs without
the outer jit.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from . import _truncation as truncation
from ._errors import Checks
from ._validation import angle_checks, particle_checks, position_checks

__all__ = ["particle_jit", "prepare"]

_ARRAY_TYPES = (jax.Array, np.ndarray, np.generic, int, float, complex)


_warned_x64 = False


def warn_if_float32_default() -> None:
    """Warn once per process when JAX's x64 mode is off: Python numbers then become float32
    and Mie series lose most of their digits. Enabling it is the user's call."""
    global _warned_x64
    if _warned_x64 or jax.config.jax_enable_x64:  # type: ignore[attr-defined]
        return
    _warned_x64 = True
    warnings.warn(
        "jaxmie: JAX's float64 mode is off, so Python numbers become float32 (Mie series "
        "keep ~1e-6 of their digits at best). Enable it at start-up with "
        'jax.config.update("jax_enable_x64", True) (or JAX_ENABLE_X64=1).',
        RuntimeWarning, stacklevel=3)


def prepare(particle: Any, wavelength: Any, n_env: Any, n_max: Any,
            rule: Callable[[float], int] = truncation.n_max_for, minimum: int = 1, *,
            theta: Any = None, positions: Any = None) -> tuple[Any, int]:
    """Check the inputs and return (wavelength, static n_max).

    Concrete inputs that break a rule raise ValueError naming the field; the checks of
    traced ones are attached to the returned wavelength, which the caller must use.
    """
    warn_if_float32_default()
    checks = Checks()
    x_outer = particle_checks(checks, particle, wavelength, n_env)
    if theta is not None:
        angle_checks(checks, theta)
    if positions is not None:
        position_checks(checks, positions)
    n_max = truncation.static_n_max(n_max, lambda: x_outer, rule, minimum)
    return checks.attach(wavelength), n_max


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
