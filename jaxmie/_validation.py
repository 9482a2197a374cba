"""The checks of a particle and its illumination (through jaxmie._errors' one error path).

What is checked: radii real, finite, > 0 and non-decreasing outwards; wavelengths real,
finite, > 0; n_env real, finite, > 0; indices finite and non-zero with Re n >= 0 and
Im n >= 0 (a passive, non-magnetic medium: n = sqrt(eps) on the branch with Im n >= 0 has
Re n >= 0; the Mie coefficients are even in m, so -n would describe the sphere of index n*,
a gain medium); the fields' batch shapes broadcast; materials (jaxmie.materials) against
their wavelength range, without being evaluated (their values are checked when they are
built); any other callable index is evaluated and its values checked; float32 sizes that
float32 cannot carry.

Concrete values raise ValueError at once; traced ones are checked when the computation runs
(`jaxmie._errors`). `validate` gives the same checks as a checkify error value::

    @jax.jit
    def q_sca(r):
        p = jaxmie.Sphere(radius=r, n=1.5)
        return jaxmie.validate(p, 500.0), jaxmie.efficiencies(p, 500.0, n_max=16).q_sca

    err, q = q_sca(-3.0)
    err.throw()   # raises: radius must be finite and > 0 nm
"""

from __future__ import annotations

import cmath
import dataclasses
import functools
import itertools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify as _checkify

from ._errors import Checks, checkify_mode, concrete_value

__all__ = ["FLOAT32_MIN_SIZE", "ParticleFields", "angle_checks", "check_particle",
           "construction_checks", "illumination_checks", "particle_checks", "particle_fields",
           "position_checks", "validate"]

_PYTHON_NUMBERS = (int, float, complex)


def _is_number(value: Any) -> bool:
    return type(value) in _PYTHON_NUMBERS


def _positive(v, xp):
    return xp.isfinite(v) & (v > 0)


def _require_real(field: str, value: Any, unit: str) -> None:
    """Radii, wavelengths, angles, positions and n_env are real: a complex dtype is an error
    even if Im = 0 (static: also under jit)."""
    if type(value) is complex or (not _is_number(value) and jnp.iscomplexobj(value)):
        concrete = concrete_value(value)
        shown = np.ravel(concrete)[:5].tolist() if concrete is not None else value.dtype
        raise ValueError(f"{field} must be real{unit}; got {shown}")


def index_checks(checks: Checks, field: str, value: Any) -> None:
    """A constant complex index: finite, non-zero, Re >= 0, Im >= 0."""
    checks.require(field, value, lambda v, xp: xp.isfinite(v) & (xp.abs(v) > 0),
                   "a finite, non-zero complex index")
    checks.require(f"imaginary part of {field}", value, lambda v, xp: xp.imag(v) >= 0,
                   ">= 0 (jaxmie uses n + ik with k >= 0 for absorbing media)")
    checks.require(f"real part of {field}", value, lambda v, xp: xp.real(v) >= 0,
                   ">= 0 (a passive medium has n = sqrt(eps) with Re n >= 0; the Mie "
                   "coefficients are even in n, so -n would be the gain medium n*)")


@dataclasses.dataclass(frozen=True)
class ParticleFields:
    """A particle's layers with the field names used in messages, inner to outer."""

    radii: list[Any]
    indices: list[Any]
    radius_names: tuple[str, ...]
    index_names: tuple[str, ...]


def particle_fields(particle: Any) -> ParticleFields:
    """The layers of a Sphere, CoreShell or Multilayer; TypeError for anything else."""
    layers = getattr(particle, "layers", None)
    if not callable(layers) or not dataclasses.is_dataclass(particle):
        raise TypeError(
            "particle must be a jaxmie.Sphere, CoreShell or Multilayer; got "
            f"{type(particle).__name__} {particle!r:.60}")
    radii, indices = layers()
    kind: type = type(particle)
    return ParticleFields(radii, indices, *_field_names(kind, len(radii)))


@functools.lru_cache(maxsize=64)
def _field_names(kind: type, count: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(radius names, index names) of a particle type with count layers, for messages."""
    names = [f.name for f in dataclasses.fields(kind)]
    if names == ["radii", "n"]:
        return (tuple(f"radii[{i}]" for i in range(count)),
                tuple(f"n[{i}]" for i in range(count)))
    return tuple(names[:count]), tuple(names[count:])


def _check_batch_shapes(fields: ParticleFields) -> None:
    """Radii and constant indices must broadcast to one batch shape (static: also under jit).

    The usual culprit is a per-wavelength index given as a plain array: an array index is
    one constant per particle, so it belongs to the batch, not to the wavelengths.
    """
    if all(map(_is_number, fields.radii + fields.indices)):
        return
    shapes = [(name, np.shape(v)) for name, v in
              zip(fields.radius_names + fields.index_names, fields.radii + fields.indices)
              if not callable(v)]
    try:
        np.broadcast_shapes(*(shape for _, shape in shapes))
    except ValueError:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes)
        raise ValueError(
            f"the particle's fields do not broadcast to one batch shape: {listed}. An index "
            "given as an array is one constant per particle; for an index that varies with "
            "wavelength use a material, e.g. jaxmie.materials.tabulated(wavelengths, n)"
        ) from None


def illumination_checks(checks: Checks, wavelength: Any, n_env: Any) -> None:
    """Wavelengths real, finite and > 0 nm; n_env real, finite and > 0."""
    _require_real("wavelength", wavelength, " (nm)")
    checks.require("wavelength", wavelength, _positive, "finite and > 0 nm")
    _require_real("n_env", n_env, " (the host medium does not absorb)")
    checks.require("n_env", n_env, _positive, "real, finite and > 0")


def angle_checks(checks: Checks, theta: Any) -> None:
    """Scattering angles: real and finite (radians; any value, they enter through cos)."""
    _require_real("theta", theta, " (radians)")
    checks.require("theta", theta, lambda v, xp: xp.isfinite(v), "finite (radians)")


def position_checks(checks: Checks, positions: Any) -> None:
    """Near-field points: real and finite Cartesian coordinates in nm."""
    _require_real("positions", positions, " (nm)")
    checks.require("positions", positions, lambda v, xp: xp.isfinite(v), "finite (nm)")


def _layer_index_checks(checks: Checks, name: str, index: Any, wavelength: Any) -> None:
    if _is_number(index):
        index_checks(checks, name, index)
        return
    from .materials._base import Material, wavelength_checks  # materials import this module

    if isinstance(index, Material):
        wavelength_checks(checks, index.name, index.wavelength_range, wavelength)
    elif callable(index):
        index_checks(checks, name, index(jnp.asarray(wavelength)))
    else:
        index_checks(checks, name, index)


def _geometry_checks(checks: Checks, fields: ParticleFields) -> None:
    """Radii real, finite, > 0 and non-decreasing outwards."""
    for name, r in zip(fields.radius_names, fields.radii, strict=True):
        _require_real(name, r, " (nm)")
        checks.require(name, r, _positive, "finite and > 0 nm")
    for inner, outer, name_in, name_out in zip(fields.radii, fields.radii[1:],
                                               fields.radius_names, fields.radius_names[1:]):
        if _is_number(inner) and _is_number(outer):
            step = outer - inner
        else:
            low, high = concrete_value(inner), concrete_value(outer)
            step = high - low if low is not None and high is not None else outer - inner
        checks.require(f"{name_out} - {name_in}", step, lambda d, xp: d >= 0,
                       ">= 0 (radii must not decrease outwards)")


def _plain_valid(radii: list[Any], indices: list[Any]) -> bool:
    """Whether the layers are plain Python numbers that pass every check (the common
    construction, in about a microsecond); False sends them to the detailed checks."""
    inner = 0.0
    for r in radii:
        if type(r) is not float and type(r) is not int:
            return False
        if not inner <= r < math.inf or r <= 0:
            return False
        inner = r
    for n in indices:
        kind = type(n)
        if kind is complex:
            if not (0 <= n.real < math.inf and 0 <= n.imag < math.inf and n != 0):
                return False
        elif kind is float or kind is int:
            if not 0 < n < math.inf:
                return False
        else:
            return False
    return bool(radii)


def construction_checks(particle: Any) -> None:
    """The invariants of a particle built from concrete values (radii, constant indices,
    batch shapes), checked when it is constructed: ValueError naming the field. A particle
    with a traced field is checked where it is used instead (particle_checks), and JAX's own
    rebuilding of particles (derivatives, tree maps) does not construct them anew."""
    layers = getattr(particle, "layers", None)
    if callable(layers) and _plain_valid(*layers()):
        return
    fields = particle_fields(particle)
    values = [*fields.radii, *(i for i in fields.indices if not callable(i))]
    if any(isinstance(v, jax.core.Tracer) or not (_is_number(v) or hasattr(v, "dtype"))
           for v in values):
        return
    if fields.radii and _all_numbers_valid(fields, 1.0, 1.0) is not None:
        return
    _check_batch_shapes(fields)
    checks = Checks()
    _geometry_checks(checks, fields)
    for name, index in zip(fields.index_names, fields.indices, strict=True):
        if not callable(index):
            index_checks(checks, name, index)


def particle_checks(checks: Checks, particle: Any, wavelength: Any, n_env: Any
                    ) -> float | None:
    """Add the checks of a particle and its illumination; return the largest outer size
    parameter 2 pi n_env max(r_outer) / min(wavelength) as a Python float, or None when any
    of them is traced. TypeError for a non-particle."""
    fields = particle_fields(particle)
    if not fields.radii:
        raise ValueError(f"{type(particle).__name__} needs at least one layer")
    x_outer = _all_numbers_valid(fields, wavelength, n_env)
    if x_outer is not None:
        return x_outer
    _check_batch_shapes(fields)
    illumination_checks(checks, wavelength, n_env)
    _geometry_checks(checks, fields)
    for name, index in zip(fields.index_names, fields.indices, strict=True):
        _layer_index_checks(checks, name, index, wavelength)
    _check_float32_range(fields, wavelength, n_env)
    return _largest_size_parameter(fields.radii[-1], wavelength, n_env)


def check_particle(particle: Any, wavelength: Any, n_env: Any) -> tuple[Any, float | None]:
    """Check a particle and its illumination.

    Returns:
        (wavelength with the runtime checks of traced inputs attached (the same object when
        every input is concrete: those raise ValueError at once), the largest outer size
        parameter or None when traced).
    """
    checks = Checks()
    x_outer = particle_checks(checks, particle, wavelength, n_env)
    return checks.attach(wavelength), x_outer


# Below this outer size parameter the terms of the series (~x^3) underflow float32: Q_abs
# and its derivatives are right down to 1e-12 (Q_sca ~ x^4 leaves float32's range below
# x ~ 1e-9 and is 0 there), and overflowing intermediates (1/x^2) follow further down.
FLOAT32_MIN_SIZE = 1e-12


def _check_float32_range(fields: ParticleFields, wavelength: Any, n_env: Any) -> None:
    """ValueError for float32 inputs whose concrete outer size parameter float32 cannot
    carry (FLOAT32_MIN_SIZE): an answer of 0 or NaN would be silently wrong."""
    values = [v for v in (*fields.radii, *fields.indices, wavelength) if not callable(v)]
    if jnp.result_type(*values) not in (jnp.float32, jnp.complex64):
        return
    r, wl, n = (concrete_value(v) for v in (fields.radii[-1], wavelength, n_env))
    if r is None or wl is None or n is None or r.size == 0 or wl.size == 0:
        return
    x_min = 2 * math.pi * float(np.min(n)) * float(np.min(r)) / float(np.max(wl))
    if x_min < FLOAT32_MIN_SIZE:
        raise ValueError(
            f"float32 cannot carry the Mie series of a particle with outer size parameter "
            f"{x_min:.3g} (< {FLOAT32_MIN_SIZE:g}: its terms underflow); use float64 inputs")


def _all_numbers_valid(fields: ParticleFields, wavelength: Any, n_env: Any) -> float | None:
    """For a particle of plain Python numbers: the largest size parameter if every check
    passes (the common eager call, in well under a microsecond), else None (the detailed
    checks then run and name what failed)."""
    radii, indices = fields.radii, fields.indices
    if not (type(wavelength) in (int, float) and type(n_env) in (int, float)
            and all(type(r) in (int, float) for r in radii)
            and all(map(_is_number, indices))):
        return None
    ok = (math.isfinite(wavelength) and wavelength > 0 and math.isfinite(n_env) and n_env > 0
          and all(math.isfinite(r) and r > 0 for r in radii)
          and all(b >= a for a, b in itertools.pairwise(radii))
          and all(cmath.isfinite(n) and n != 0 and n.real >= 0 and n.imag >= 0
                  for n in indices))
    return 2 * math.pi * n_env * radii[-1] / wavelength if ok else None


def _largest_size_parameter(r_outer: Any, wavelength: Any, n_env: Any) -> float | None:
    if _is_number(r_outer) and _is_number(wavelength) and _is_number(n_env):
        return 2 * math.pi * n_env * r_outer / wavelength
    r, wl, n = (concrete_value(v) for v in (r_outer, wavelength, n_env))
    if r is None or wl is None or n is None:
        return None
    if r.size == 0 or wl.size == 0:
        return 0.0
    return 2 * math.pi * float(np.max(n)) * float(np.max(r)) / float(np.min(wl))


def validate(particle, wavelength, n_env=1.0) -> _checkify.Error:
    """The checks of a particle and its illumination as a checkify error value.

    Under jit jaxmie's functions check traced inputs when they run (jaxmie._errors); this
    returns the same checks as a value instead, for code that handles errors functionally.

    Args:
        particle: Sphere, CoreShell or Multilayer. wavelength: nm. n_env: host index.

    Returns:
        A checkify Error: `err.throw()` raises if any radius, index, wavelength or n_env is
        invalid (negative, decreasing, NaN, gain medium, ...). With concrete inputs a
        ValueError is raised at once instead.
    """

    def run(particle, wavelength, n_env):
        with checkify_mode():
            particle_checks(Checks(), particle, wavelength, n_env)

    err, _ = _checkify.checkify(run, errors=_checkify.user_checks)(particle, wavelength, n_env)
    return err
