"""Input checks: ValueError for bad concrete input, checkify for traced input.

Concrete values (eager calls, and the primal values seen by eager jax.grad) are checked in
Python by every public function and raise ValueError naming the field and the value.
Traced values (inside jit or vmap) cannot be inspected in Python; `validate` returns the
same checks as a `jax.experimental.checkify` error value that works under jit::

    @jax.jit
    def q_sca(r):
        p = jaxmie.Sphere(radius=r, n=1.5)
        return jaxmie.validate(p, 500.0), jaxmie.efficiencies(p, 500.0, n_max=16).q_sca

    err, q = q_sca(-3.0)
    err.throw()   # raises: radius must be finite and > 0 nm

Without it, traced inputs are not checked.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.extend.core as jex_core
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify as _checkify

__all__ = ["check_particle", "concrete_value", "validate"]

_TRACED_CHECKS = contextvars.ContextVar("jaxmie_traced_checks", default=False)


def concrete_value(value: Any) -> np.ndarray | None:
    """The value as a NumPy array if it is concrete, else None (a tracer under jit/vmap)."""
    try:
        return jex_core.concrete_or_error(np.asarray, value)
    except jax.errors.ConcretizationTypeError:
        return None


def _require(field: str, value: Any, ok: Callable[[Any, Any], Any], rule: str) -> None:
    """Check ok(value, xp) elementwise; xp is numpy for concrete values, jax.numpy if traced."""
    concrete = concrete_value(value)
    if concrete is not None:
        bad = ~np.asarray(ok(concrete, np))
        if np.any(bad):
            shown = concrete[bad] if concrete.ndim else concrete
            raise ValueError(f"{field} must be {rule}; got {shown.ravel()[:5].tolist()}")
    elif _TRACED_CHECKS.get():
        _checkify.check(jnp.all(ok(value, jnp)), f"{field} must be {rule}")


def check_inputs(radii: list[Any], indices: list[Any], wavelength: Any, n_env: Any,
                 names: tuple[str, ...]) -> None:
    """Check one particle description and the illumination.

    Args:
        radii: per-layer radii (nm), inner to outer, any shapes.
        indices: per-layer indices (numbers or arrays; materials are checked after they are
            evaluated, by passing their values here).
        wavelength: vacuum wavelength(s) in nm.
        n_env: real refractive index of the host medium.
        names: field name of each layer, used in the messages (e.g. ("r_core", "r_shell")).
    """
    radius_names, index_names = names[: len(radii)], names[len(radii):]
    _require("wavelength", wavelength, lambda w, xp: xp.isfinite(w) & (w > 0),
             "finite and > 0 nm")
    _require("n_env", n_env,
             lambda n, xp: (xp.imag(n) == 0) & xp.isfinite(n) & (xp.real(n) > 0),
             "real, finite and > 0")
    for name, r in zip(radius_names, radii):
        _require(name, r, lambda v, xp: xp.isfinite(v) & (v > 0), "finite and > 0 nm")
    for inner, outer, name_in, name_out in zip(radii, radii[1:], radius_names,
                                               radius_names[1:]):
        pair = [concrete_value(inner), concrete_value(outer)]
        step = pair[1] - pair[0] if all(v is not None for v in pair) else outer - inner
        _require(f"{name_out} - {name_in}", step, lambda d, xp: d >= 0,
                 ">= 0 (radii must not decrease outwards)")
    for name, n in zip(index_names, indices):
        _require(name, n, lambda v, xp: xp.isfinite(v) & (xp.abs(v) > 0),
                 "a finite, non-zero complex index")
        _require(f"imaginary part of {name}", n, lambda v, xp: xp.imag(v) >= 0,
                 ">= 0 (jaxmie uses n + ik with k >= 0 for absorbing media)")


def _field_names(particle) -> tuple[str, ...]:
    """Names of the radius and index fields of each layer, for the messages."""
    names = [f.name for f in dataclasses.fields(particle)]
    if names == ["radii", "n"]:
        count = particle.n_layers
        return tuple(f"radii[{i}]" for i in range(count)) + tuple(f"n[{i}]" for i in range(count))
    return tuple(names)


def _check_batch_shapes(radii: list[Any], indices: list[Any], names: tuple[str, ...]) -> None:
    """Radii and constant indices must broadcast to one batch shape (static: also under jit).

    The usual culprit is a per-wavelength index given as a plain array: an array index is
    one constant per particle, so it belongs to the batch, not to the wavelengths.
    """
    fields = [(name, np.shape(v)) for name, v in zip(names, [*radii, *indices])
              if not callable(v)]
    try:
        np.broadcast_shapes(*(shape for _, shape in fields))
    except ValueError:
        shapes = ", ".join(f"{name} {shape}" for name, shape in fields)
        raise ValueError(
            f"the particle's fields do not broadcast to one batch shape: {shapes}. An index "
            "given as an array is one constant per particle; for an index that varies with "
            "wavelength use a material, e.g. jaxmie.materials.tabulated(wavelengths, n)"
        ) from None


def check_particle(particle, wavelength, n_env) -> None:
    """check_inputs on a particle's layers (materials evaluated at the wavelengths)."""
    radii, indices = particle.layers()
    _check_batch_shapes(radii, indices, _field_names(particle))
    values = [n(jnp.asarray(wavelength)) if callable(n) else n for n in indices]
    check_inputs(radii, values, wavelength, n_env, _field_names(particle))


@contextlib.contextmanager
def _traced_checks() -> Iterator[None]:
    token = _TRACED_CHECKS.set(True)
    try:
        yield
    finally:
        _TRACED_CHECKS.reset(token)


def validate(particle, wavelength, n_env=1.0) -> _checkify.Error:
    """Check a particle and its illumination; usable under jit.

    Args:
        particle: Sphere, CoreShell or Multilayer. wavelength: nm. n_env: host index.

    Returns:
        A checkify Error: `err.throw()` raises if any radius, index, wavelength or n_env is
        invalid (negative, decreasing, NaN, gain medium, ...). With concrete inputs a
        ValueError is raised at once instead.
    """

    def run(particle, wavelength, n_env):
        with _traced_checks():
            check_particle(particle, wavelength, n_env)

    err, _ = _checkify.checkify(run, errors=_checkify.user_checks)(particle, wavelength, n_env)
    return err
