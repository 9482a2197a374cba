"""One error path for bad input, the same eagerly and under jit.

Every check in jaxmie (particles, illumination, materials, distributions) is a `Checks`
entry: a field name, its value, a predicate and the rule in words. What happens when a
value breaks its rule depends only on whether the value is known on the host:

- concrete values (eager calls, and the primal values of an eager `jax.grad`) are checked
  at once, in NumPy or plain Python, and raise ``ValueError("<field> must be <rule>; got
  [...]")`` before anything runs on a device;
- traced values (inside `jit`, `vmap`, `lax.scan`, ...) are checked when the computation
  runs: `Checks.attach` ties one runtime check of every traced entry to a value the
  computation uses (`error_if`), and a failing check raises the same ``ValueError``, with
  the offending values, from a host callback; JAX surfaces it when the result is read, as
  ``jax.errors.JaxRuntimeError`` whose message carries the ValueError's.

The ``JAXMIE_ON_ERROR`` environment variable, read when a function is traced, switches the
runtime checks: ``raise`` (the default) as above; ``nan`` returns NaN in place of the
checked value instead of raising (useful inside a long optimisation that should carry on
and be inspected afterwards); ``off`` compiles no runtime check at all. Concrete values
always raise. Inside `jaxmie.validate` the same checks become `checkify` checks instead, so
that they can be returned as an error value.

The runtime check costs one predicate per field and a `lax.cond` that calls back to the host
only when something is wrong; under `vmap` the predicates are reduced over the batch first,
so the check stays one `cond` rather than a callback per call.
"""

from __future__ import annotations

import cmath
import contextlib
import contextvars
import functools
import os
from collections.abc import Callable, Iterator
from typing import Any, Literal

import jax
import jax.extend.core as jex_core
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify as _checkify

__all__ = ["Checks", "OnError", "concrete_value", "error_if", "errors_as_nan", "on_error"]

OnError = Literal["raise", "nan", "off"]
_MODES = ("raise", "nan", "off")
_CHECKIFY = contextvars.ContextVar("jaxmie_checkify", default=False)
_OVERRIDE: contextvars.ContextVar[OnError | None] = contextvars.ContextVar(
    "jaxmie_on_error", default=None)
_PYTHON_NUMBERS = (int, float, complex)


def on_error() -> OnError:
    """The runtime-check mode from ``JAXMIE_ON_ERROR`` (default ``raise``), unless traced
    inside `errors_as_nan`."""
    override = _OVERRIDE.get()
    if override is not None:
        return override
    mode = os.environ.get("JAXMIE_ON_ERROR", "raise")
    if mode not in _MODES:
        raise ValueError(f"JAXMIE_ON_ERROR must be one of {_MODES}; got {mode!r}")
    return mode  # type: ignore[return-value]


# jax.extend.core has it from jax 0.8; jax.core before (deprecated there since)
_concrete_or_error = getattr(jex_core, "concrete_or_error", None) or jax.core.concrete_or_error


def concrete_value(value: Any) -> np.ndarray | None:
    """The value as a NumPy array if it is known on the host, else None (a tracer under
    jit / vmap). Under an eager `jax.grad` the primal value is returned."""
    if isinstance(value, (*_PYTHON_NUMBERS, np.ndarray, np.generic)):
        return np.asarray(value)
    if not isinstance(value, jax.core.Tracer):
        return np.asarray(value)
    try:
        return _concrete_or_error(np.asarray, value)
    except jax.errors.ConcretizationTypeError:
        return None


def _shown(value: np.ndarray, bad: np.ndarray) -> list:
    shown = value[np.broadcast_to(bad, value.shape)] if value.ndim else value
    return np.ravel(shown)[:5].tolist()


def _message(field: str, rule: str, shown: Any) -> str:
    return f"{field} must be {rule}; got {shown}"


@jax.custom_batching.custom_vmap
def _any_bad(oks: tuple[jax.Array, ...]) -> jax.Array:
    return jnp.logical_not(jnp.all(jnp.stack([jnp.all(ok) for ok in oks])))


@_any_bad.def_vmap
def _any_bad_vmap(axis_size, in_batched, oks):
    # One flag for the whole batch: the cond below stays a cond (a batched predicate would
    # turn it into a select that runs the host callback on every call).
    return _any_bad(oks), False


def _raise_first(names: tuple[tuple[str, str], ...], oks, values, x):
    """Host side of error_if: raise for the first failing check, naming its values."""
    for (field, rule), ok, value in zip(names, oks, values, strict=True):
        ok, value = np.asarray(ok), np.asarray(value)
        if not np.all(ok):
            raise ValueError(_message(field, rule, _shown(value, ~ok)))
    return x


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _checked(names, x, oks, values):
    def fail(x):
        return jax.pure_callback(functools.partial(_raise_first, names),
                                 jax.ShapeDtypeStruct(x.shape, x.dtype), oks, values, x,
                                 vmap_method="broadcast_all")

    return jax.lax.cond(_any_bad(oks), fail, lambda x: x, x)


@_checked.defjvp
def _checked_jvp(names, primals, tangents):
    x, oks, values = primals
    return _checked(names, x, oks, values), tangents[0]


def error_if(x: jax.Array, names: tuple[tuple[str, str], ...], oks: tuple[jax.Array, ...],
             values: tuple[jax.Array, ...]) -> jax.Array:
    """x, with a runtime check that every ok is all True (the mode of `on_error`).

    Args:
        x: any array the computation goes on to use (the check is tied to it).
        names: (field, rule) of each check, static.
        oks: boolean arrays, True where the value obeys its rule.
        values: the checked values, shaped like their oks (shown in the message).

    Returns:
        x itself (its derivatives pass through), or NaN in its place in ``nan`` mode when a
        check fails.
    """
    mode = on_error()
    if mode == "off" or not oks:
        return x
    oks = tuple(jax.lax.stop_gradient(ok) for ok in oks)
    if mode == "nan":
        bad = _any_bad(oks)
        return jnp.where(bad, jnp.asarray(jnp.nan, x.dtype), x)
    values = tuple(jax.lax.stop_gradient(v) for v in values)
    return _checked(tuple(names), x, oks, values)


class _Scalar:
    """The few array functions the predicates use, for one Python number (no NumPy call:
    an eager call on scalars is checked in about a microsecond per field)."""

    isfinite = staticmethod(cmath.isfinite)
    real = staticmethod(lambda v: v.real)
    imag = staticmethod(lambda v: v.imag)
    abs = staticmethod(abs)


class Checks:
    """The checks of one call: concrete values are checked as they are added, traced ones
    collected and tied to a value by `attach`.

    A predicate ok(value, xp) is written once for NumPy, jax.numpy and plain Python
    numbers (xp is the array module), True where the value obeys the rule.
    """

    def __init__(self) -> None:
        self._names: list[tuple[str, str]] = []
        self._oks: list[jax.Array] = []
        self._values: list[jax.Array] = []

    def require(self, field: str, value: Any, ok: Callable[[Any, Any], Any], rule: str) -> None:
        """Check ok(value) for a field: raise now if it is concrete and fails, else keep it
        for the runtime check (or emit a checkify check inside `jaxmie.validate`)."""
        if type(value) in _PYTHON_NUMBERS:
            if not ok(value, _Scalar):
                raise ValueError(_message(field, rule, [value]))
            return
        concrete = concrete_value(value)
        if concrete is not None:
            good = np.asarray(ok(concrete, np))
            if not np.all(good):
                raise ValueError(_message(field, rule, _shown(concrete, ~good)))
            return
        good = ok(value, jnp)
        if _CHECKIFY.get():
            _checkify.check(jnp.all(good), f"{field} must be {rule}")
            return
        self._names.append((field, rule))
        self._oks.append(good)
        self._values.append(jnp.broadcast_to(value, jnp.shape(good)))

    def attach(self, x: Any) -> Any:
        """x with a runtime check of every traced entry (see error_if); x as it is when
        every checked value was concrete."""
        if not self._oks:
            return x
        return error_if(jnp.asarray(x), tuple(self._names), tuple(self._oks),
                        tuple(self._values))


@contextlib.contextmanager
def errors_as_nan() -> Iterator[None]:
    """Within this context, traced runtime checks give NaN instead of raising: for jaxmie's
    own optimisers (least_squares, multi_start), where a trial point outside the physical
    domain must be a rejected step, not the end of the run."""
    token = _OVERRIDE.set("nan")
    try:
        yield
    finally:
        _OVERRIDE.reset(token)


@contextlib.contextmanager
def checkify_mode() -> Iterator[None]:
    """Inside: traced checks become checkify checks (for jaxmie.validate)."""
    token = _CHECKIFY.set(True)
    try:
        yield
    finally:
        _CHECKIFY.reset(token)
