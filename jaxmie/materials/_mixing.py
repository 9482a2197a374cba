"""Mixtures: effective-medium materials and stacked tables for discrete material choice.

Effective media (permittivities eps = n^2, quasi-static, spherical inclusions):

- Maxwell Garnett: inclusions (volume fraction f) dispersed in a host,

  .. math::
      \\varepsilon_{MG} = \\varepsilon_h \\frac{1 + 2 f \\beta}{1 - f \\beta}, \\qquad
      \\beta = \\frac{\\varepsilon_i - \\varepsilon_h}{\\varepsilon_i + 2 \\varepsilon_h}

  (Bohren & Huffman eq. 8.50). It is exact at f = 0 (host) and f = 1 (inclusion) but not
  symmetric in the two components.

- Bruggeman: two components on an equal footing, f (eps_a - eps)/(eps_a + 2 eps)
  + (1 - f)(eps_b - eps)/(eps_b + 2 eps) = 0, a quadratic in eps,
  2 eps^2 - b eps - eps_a eps_b = 0 with b = (3f - 1) eps_a + (2 - 3f) eps_b. With absorbing
  components exactly one root lies in the upper half plane: that is the physical one
  (lossless components are decided in the limit of vanishing loss). It is symmetric in the
  components, exact at f = 0 and 1, and agrees with Maxwell Garnett to first order in the
  minority fraction.

Stacked tables: `stack(materials, wavelength)` evaluates several materials on one grid into a
`StackedTable` whose `index` array has shape (n_materials, n_wavelengths); `table.material(i)`
(i may be traced, so vmap over materials works) and `table.mix(weights)` (a differentiable
blend, linear in permittivity, for relaxed discrete material choice) return materials again.

References:
    C. F. Bohren and D. R. Huffman, Absorption and Scattering of Light by Small Particles
    (Wiley, 1983), sec. 8.5.
    D. A. G. Bruggeman, Ann. Phys. 416, 636-664 (1935).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._base import (
    Material,
    as_wavelength,
    evaluate_index,
    index_dtype,
    intersect_ranges,
    range_of,
    sqrt_permittivity,
    static_field,
)
from ._tabulated import Tabulated

__all__ = [
    "Bruggeman",
    "MaxwellGarnett",
    "StackedTable",
    "bruggeman",
    "maxwell_garnett",
    "stack",
]


def maxwell_garnett(eps_host: jax.Array, eps_inclusion: jax.Array,
                    fraction: jax.Array) -> jax.Array:
    """Maxwell Garnett effective permittivity (broadcasting).

    Args:
        eps_host: host permittivity, complex, any shape.
        eps_inclusion: inclusion permittivity, complex, broadcastable.
        fraction: inclusion volume fraction in [0, 1], real, broadcastable.

    Returns:
        effective permittivity, broadcast shape.
    """
    fraction = jnp.asarray(fraction).astype(jnp.result_type(eps_host, eps_inclusion))
    beta = (eps_inclusion - eps_host) / (eps_inclusion + 2.0 * eps_host)
    return eps_host * (1.0 + 2.0 * fraction * beta) / (1.0 - fraction * beta)


def _bruggeman_roots(eps_a, eps_b, fraction):
    """The two roots of 2 eps^2 - b eps - eps_a eps_b = 0 (fraction already complex)."""
    b = (3.0 * fraction - 1.0) * eps_a + (2.0 - 3.0 * fraction) * eps_b
    root = jnp.sqrt(b * b + 8.0 * eps_a * eps_b)
    return (b + root) / 4.0, (b - root) / 4.0


def bruggeman(eps_a: jax.Array, eps_b: jax.Array, fraction: jax.Array) -> jax.Array:
    """Bruggeman (symmetric) effective permittivity of a two-component mixture.

    Of the two roots of the Bruggeman quadratic, exactly one lies in the upper half plane
    when the components absorb; that one is returned. Lossless components are decided as the
    limit of vanishing loss (the choice is made on a copy with a relative loss of
    sqrt(machine epsilon), and the exact root nearest to it is returned).

    Args:
        eps_a: permittivity of component a, complex, any shape.
        eps_b: permittivity of component b, complex, broadcastable.
        fraction: volume fraction of component a in [0, 1], real, broadcastable.

    Returns:
        effective permittivity, broadcast shape; symmetric:
        bruggeman(a, b, f) == bruggeman(b, a, 1 - f).
    """
    dtype = jnp.result_type(eps_a, eps_b)
    fraction = jnp.asarray(fraction).astype(dtype)
    plus, minus = _bruggeman_roots(eps_a, eps_b, fraction)
    loss = float(np.sqrt(np.finfo(jnp.real(jnp.zeros((), dtype)).dtype).eps))
    lossy_a, lossy_b = (jax.lax.stop_gradient(e + jnp.abs(e).astype(dtype) * (1j * loss))
                        for e in (eps_a, eps_b))
    lossy_plus, lossy_minus = _bruggeman_roots(lossy_a, lossy_b,
                                               jax.lax.stop_gradient(fraction))
    physical = jnp.where(jnp.imag(lossy_plus) >= jnp.imag(lossy_minus), lossy_plus, lossy_minus)
    return jnp.where(jnp.abs(plus - physical) <= jnp.abs(minus - physical), plus, minus)


def _mixture_range(*components: Any) -> tuple[float, float]:
    return intersect_ranges(*(range_of(c) for c in components))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, eq=False)
class MaxwellGarnett(Material):
    """Maxwell Garnett mixture of inclusions in a host, as a material.

    Attributes:
        host: host index: a material, a callable of wavelength (nm), or a number.
        inclusion: inclusion index, likewise.
        fraction: inclusion volume fraction in [0, 1], scalar (leaf, differentiable).
        name: label used in messages.

    The valid range is the intersection of the components' ranges.
    """

    host: Any
    inclusion: Any
    fraction: Any
    name: str = static_field("Maxwell Garnett mixture")

    @property
    def wavelength_range(self) -> tuple[float, float]:  # type: ignore[override]
        return _mixture_range(self.host, self.inclusion)

    def _evaluate(self, wavelength: jax.Array) -> jax.Array:
        eps_h = evaluate_index(self.host, wavelength) ** 2
        eps_i = evaluate_index(self.inclusion, wavelength) ** 2
        f = jnp.asarray(self.fraction).astype(wavelength.dtype)
        return sqrt_permittivity(maxwell_garnett(eps_h, eps_i, f))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, eq=False)
class Bruggeman(Material):
    """Bruggeman mixture of two components, as a material.

    Attributes:
        a: index of component a: a material, a callable of wavelength (nm), or a number.
        b: index of component b, likewise.
        fraction: volume fraction of a in [0, 1], scalar (leaf, differentiable).
        name: label used in messages.

    The valid range is the intersection of the components' ranges.
    """

    a: Any
    b: Any
    fraction: Any
    name: str = static_field("Bruggeman mixture")

    @property
    def wavelength_range(self) -> tuple[float, float]:  # type: ignore[override]
        return _mixture_range(self.a, self.b)

    def _evaluate(self, wavelength: jax.Array) -> jax.Array:
        eps_a = evaluate_index(self.a, wavelength) ** 2
        eps_b = evaluate_index(self.b, wavelength) ** 2
        f = jnp.asarray(self.fraction).astype(wavelength.dtype)
        return sqrt_permittivity(bruggeman(eps_a, eps_b, f))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, eq=False)
class StackedTable:
    """Several materials tabulated on one wavelength grid.

    Attributes:
        wavelength: grid in nm, shape (n_wavelengths,), strictly increasing (leaf).
        index: complex indices, shape (n_materials, n_wavelengths) (leaf).
        names: the materials' names, length n_materials (static).
        wavelength_range: (wavelength[0], wavelength[-1]) in nm (static).
    """

    wavelength: Any
    index: Any
    names: tuple[str, ...] = static_field(())
    wavelength_range: tuple[float, float] = static_field((0.0, float("inf")))

    @property
    def permittivity(self) -> jax.Array:
        """eps = index^2, shape (n_materials, n_wavelengths)."""
        return self.index * self.index

    def _tabulated(self, index: jax.Array, name: str) -> Tabulated:
        return Tabulated(wavelength=self.wavelength, n=jnp.real(index), k=jnp.imag(index),
                         wavelength_range=self.wavelength_range, name=name)

    def material(self, i: Any) -> Tabulated:
        """Material number i, interpolated between grid points (exact on the grid).

        Args:
            i: integer index; may be traced (e.g. `jax.vmap` over `jnp.arange(n_materials)`).
        """
        return self._tabulated(jnp.asarray(self.index)[i], "stacked table row")

    def mix(self, weights: Any) -> Tabulated:
        """Differentiable blend of the materials, linear in permittivity.

        eps(lambda) = sum_i w_i eps_i(lambda); with weights on the simplex (e.g.
        `jax.nn.softmax(logits)`), passive materials give a passive blend, and a one-hot
        weight vector gives that material exactly.

        Args:
            weights: shape (n_materials,), real.

        Returns:
            a `Tabulated` material on the table's grid.
        """
        w = jnp.asarray(weights)
        eps = jnp.tensordot(w.astype(self.index.dtype), self.permittivity, axes=1)
        return self._tabulated(sqrt_permittivity(eps), "stacked table mixture")


def stack(materials: Sequence[Any], wavelength: Any, *,
          names: Sequence[str] | None = None) -> StackedTable:
    """Evaluate materials on one wavelength grid.

    Args:
        materials: n_materials materials (or callables of wavelength in nm, or numbers).
        wavelength: grid in nm, shape (n_wavelengths,), strictly increasing, concrete, inside
            every material's range (checked: ValueError otherwise).
        names: labels; default: each material's `name` (or its repr).

    Returns:
        a `StackedTable` with `index` of shape (n_materials, n_wavelengths).
    """
    grid = np.asarray(as_wavelength(wavelength))
    if grid.ndim != 1 or grid.shape[0] < 2 or np.any(np.diff(grid) <= 0):
        raise ValueError("stack: wavelength must be a strictly increasing 1-d grid of at "
                         f"least 2 points (nm); got shape {grid.shape}")
    if not materials:
        raise ValueError("stack: give at least one material")
    w = jnp.asarray(grid)
    rows = []
    for m in materials:
        value = m(w) if callable(m) else jnp.broadcast_to(jnp.asarray(m), w.shape)
        rows.append(jnp.asarray(value).astype(index_dtype(w.dtype)))
    labels = tuple(names) if names is not None else tuple(
        getattr(m, "name", repr(m)) for m in materials)
    if len(labels) != len(rows):
        raise ValueError(f"stack: {len(labels)} names for {len(rows)} materials")
    return StackedTable(wavelength=w, index=jnp.stack(rows), names=labels,
                        wavelength_range=(float(grid[0]), float(grid[-1])))
