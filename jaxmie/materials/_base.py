"""What every material shares: the call protocol, wavelength checks and dtype rules.

A material is a frozen dataclass registered as a JAX pytree. Its numbers (tables,
coefficients, model parameters) are leaves; its name, citation, valid wavelength range and
formula type are static metadata. Calling it on wavelengths in nanometres (any shape) returns
the complex index n + ik (k >= 0 absorbs) with the same shape: complex128 for float64 input,
complex64 for float32 input.

Wavelength checks happen at call time, never in __init__ (JAX rebuilds pytrees with
placeholder leaves), through jaxmie's one error path (jaxmie._errors): a wavelength outside
the valid range, non-finite or non-positive raises ValueError naming the material and its
range, at once when it is concrete (eager calls, and eager `jax.grad`), and when the
computation runs when it is traced (inside `jit` or `vmap`; ``JAXMIE_ON_ERROR=nan`` gives
NaN instead). Nothing is clamped. `material.in_range(wavelength)` gives the boolean flag to
test or mask with, and `validate(material, wavelength)` returns the check as a checkify
error value.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify as _checkify

from .._errors import Checks, checkify_mode

__all__ = [
    "Composite",
    "Material",
    "as_wavelength",
    "evaluate_index",
    "index_dtype",
    "intersect_ranges",
    "is_concrete",
    "range_of",
    "sqrt_permittivity",
    "static_field",
    "validate",
    "wavelength_checks",
]

# Relative slack on range ends: a wavelength converted between units (um -> nm) may differ
# from the stored end by an ulp or so; it is still in range.
_RANGE_RTOL = 1e-9
UNBOUNDED = (0.0, math.inf)


def as_wavelength(wavelength: Any) -> jax.Array:
    """The wavelength as a real floating array (integers become the default float dtype)."""
    w = jnp.asarray(wavelength)
    if jnp.issubdtype(w.dtype, jnp.complexfloating):
        raise ValueError(f"wavelength must be real (nm); got dtype {w.dtype}")
    if not jnp.issubdtype(w.dtype, jnp.floating):
        w = w.astype(jnp.asarray(1.0).dtype)
    return w


def index_dtype(real_dtype: Any) -> np.dtype:
    """The complex dtype matching a real dtype: float64 -> complex128, float32 -> complex64."""
    return np.dtype(np.complex128) if np.dtype(real_dtype).itemsize >= 8 else np.dtype(np.complex64)


def _format_range(wavelength_range: tuple[float, float]) -> str:
    lo, hi = wavelength_range
    if hi == math.inf:
        return f"> {lo:g} nm" if lo > 0 else "> 0 nm"
    return f"{lo:.6g}-{hi:.6g} nm"


def _ok(w: Any, wavelength_range: tuple[float, float], xp: Any) -> Any:
    lo, hi = wavelength_range
    inside = (w >= lo * (1.0 - _RANGE_RTOL)) & (w <= hi * (1.0 + _RANGE_RTOL))
    return xp.isfinite(w) & (w > 0) & inside


def wavelength_checks(checks: Checks, name: str, wavelength_range: tuple[float, float],
                      wavelength: Any) -> None:
    """Add the check of wavelengths (nm, any shape) against a material's range (inclusive):
    concrete values outside it raise ValueError naming the material and its range at once,
    traced ones when the computation runs (jaxmie._errors)."""
    checks.require(f"{name}: wavelength (nm)", wavelength,
                   lambda w, xp: _ok(w, wavelength_range, xp),
                   f"finite and within the material's data, {_format_range(wavelength_range)}")


def validate(material: Material, wavelength: Any) -> _checkify.Error:
    """Check wavelengths against a material's range as a checkify error value.

    Args:
        material: any material.
        wavelength: wavelengths in nm, any shape (traced or concrete).

    Returns:
        a checkify Error: `err.throw()` raises if a wavelength is non-finite, <= 0 or outside
        `material.wavelength_range`; `err.get()` gives the message or None. Concrete
        wavelengths raise ValueError at once instead.
    """

    def run(material: Material, wavelength: Any) -> None:
        with checkify_mode():
            wavelength_checks(Checks(), material.name, material.wavelength_range,
                              as_wavelength(wavelength))

    error, _ = _checkify.checkify(run, errors=_checkify.user_checks)(material, wavelength)
    return error


def sqrt_permittivity(eps: jax.Array) -> jax.Array:
    """Complex index from the permittivity: the root with Re n >= 0 and, for passive media
    (Im eps >= 0), Im n >= 0.

    The principal square root gives exactly that, except on the negative real axis when the
    imaginary part is a negative zero (a lossless metal), where it would return -i sqrt|eps|;
    that case is mapped to +i sqrt|eps|.
    """
    n = jnp.sqrt(eps)
    flip = (jnp.imag(eps) == 0) & (jnp.imag(n) < 0)
    return jnp.where(flip, jnp.conj(n), n)


def intersect_ranges(*ranges: tuple[float, float]) -> tuple[float, float]:
    """The common part of wavelength ranges (nm); ValueError if they do not overlap."""
    lo = max((r[0] for r in ranges), default=UNBOUNDED[0])
    hi = min((r[1] for r in ranges), default=UNBOUNDED[1])
    if not lo < hi:
        raise ValueError(f"wavelength ranges {list(ranges)} (nm) do not overlap")
    return (lo, hi)


def range_of(index: Any) -> tuple[float, float]:
    """Valid range (nm) of an index-like value: a material's range, else unbounded."""
    return getattr(index, "wavelength_range", UNBOUNDED)


def evaluate_index(index: Any, wavelength: jax.Array) -> jax.Array:
    """Evaluate an index-like value at wavelengths that are already checked.

    Args:
        index: a Material (evaluated without re-checking), any other callable of the
            wavelength in nm, or a number / array broadcastable to the wavelength shape.
        wavelength: real array (nm).

    Returns:
        complex index, shape broadcast(index, wavelength), dtype index_dtype(wavelength).
    """
    cdt = index_dtype(wavelength.dtype)
    if isinstance(index, Material):
        value = index._evaluate(wavelength)
    elif callable(index):
        value = index(wavelength)
    else:
        value = jnp.broadcast_to(jnp.asarray(index), wavelength.shape)
    return jnp.asarray(value).astype(cdt)


def _kernel(material: Material, wavelength: jax.Array) -> jax.Array:
    """The numerical core of every material call."""
    return material._evaluate(wavelength).astype(index_dtype(wavelength.dtype))


# Materials are evaluated through one jitted kernel, called with the material's canonical
# form (descriptive metadata stripped, tables padded to bucketed lengths), so materials of
# the same kind share compiled code and eager calls cost one
# dispatch. Inside an outer jit the kernel is simply inlined.
_kernel_jit = jax.jit(_kernel)


def _all_array_leaves(tree: Any) -> bool:
    """Whether every leaf is an array or a number (so the pytree can be a jit argument)."""
    return all(isinstance(leaf, (jax.Array, np.ndarray, np.generic, int, float, complex))
               for leaf in jax.tree_util.tree_leaves(tree))


def is_concrete(*values: Any) -> bool:
    """Whether none of the values (pytrees) holds a tracer."""
    return not any(isinstance(leaf, jax.core.Tracer)
                   for leaf in jax.tree_util.tree_leaves(values))


# Static fields that do not change the computation, and their canonical values.
_DESCRIPTIVE = {"name": "", "reference": "", "wavelength_range": UNBOUNDED}


class Material:
    """Base class of materials: a pytree callable `wavelength_nm -> n + ik`.

    Subclasses are frozen dataclasses registered with `jax.tree_util.register_dataclass`.
    They provide `name` (str), `wavelength_range` ((lo, hi) in nm, static) and
    `_evaluate(wavelength)`, which computes the index at wavelengths already checked, in
    the wavelength's dtype.
    """

    name: str
    wavelength_range: tuple[float, float]

    def __call__(self, wavelength: Any) -> jax.Array:
        """Complex index n + ik at the wavelengths.

        Args:
            wavelength: vacuum wavelength in nm, any shape (float64 or float32).

        Returns:
            complex index, same shape; complex128 for float64 input, complex64 for float32.

        Raises:
            ValueError: wavelengths outside `wavelength_range` (traced ones when the
                computation runs; see the module doc).
        """
        w = as_wavelength(wavelength)
        checks = Checks()
        wavelength_checks(checks, self.name, self.wavelength_range, w)
        return checks.attach(self._evaluate_checked(w))

    def _evaluate_checked(self, wavelength: jax.Array) -> jax.Array:
        """The index at real wavelengths already checked against the range (as particles'
        are by jaxmie._validation before their computation)."""
        wavelength = as_wavelength(wavelength)
        kernel = self._canonical()
        if _all_array_leaves(kernel):
            return _kernel_jit(kernel, wavelength)
        return _kernel(kernel, wavelength)

    def _evaluate(self, wavelength: jax.Array) -> jax.Array:
        raise NotImplementedError

    def _canonical(self) -> Material:
        """The same computation without descriptive metadata (name, reference, range):
        what the jitted kernel is keyed on. Material-valued fields are made canonical too."""
        changes: dict[str, Any] = {}
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            if field.metadata.get("static") and field.name in _DESCRIPTIVE:
                changes[field.name] = _DESCRIPTIVE[field.name]
            elif isinstance(value, Material):
                changes[field.name] = value._canonical()
        return dataclasses.replace(self, **changes) if changes else self  # type: ignore[type-var]

    def in_range(self, wavelength: Any) -> jax.Array:
        """Boolean array, True where the wavelength (nm) is finite, > 0 and in range.

        Works under jit: use it to flag or mask wavelengths before calling the material.
        """
        return _ok(as_wavelength(wavelength), self.wavelength_range, jnp)

    def permittivity(self, wavelength: Any) -> jax.Array:
        """Relative permittivity eps = (n + ik)^2 at the wavelengths (nm); same shape."""
        n = self(wavelength)
        return n * n


def static_field(default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field that `register_dataclass` treats as static metadata (not a leaf)."""
    return dataclasses.field(default=default, metadata={"static": True})


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, eq=False)
class Composite(Material):
    """A material whose n comes from one source and k from another.

    This is how refractiveindex.info files that give a formula (or table) for n and a
    separate table for k are represented. Valid where both sources are: the intersection of
    their ranges.

    Attributes:
        n_part: material whose real part is used as n.
        k_part: material whose imaginary part is used as k.
        name: label used in messages.
        reference: citation text.
    """

    n_part: Any
    k_part: Any
    name: str = static_field("composite")
    reference: str = static_field("")

    @property
    def wavelength_range(self) -> tuple[float, float]:  # type: ignore[override]
        return intersect_ranges(range_of(self.n_part), range_of(self.k_part))

    def _evaluate(self, wavelength: jax.Array) -> jax.Array:
        n = jnp.real(evaluate_index(self.n_part, wavelength))
        k = jnp.imag(evaluate_index(self.k_part, wavelength))
        return jax.lax.complex(n, k)
