"""Tabulated optical constants, interpolated smoothly in wavelength.

n and k are interpolated separately, in wavelength (nm), with the monotone cubic (PCHIP) of
`jaxmie.materials.interpolation`: exact at the nodes, continuous first derivative, and no
overshoot, so a non-negative k table gives k >= 0 everywhere without any clamping.

Why wavelength rather than photon energy: the database tabulates in wavelength, and
refractiveindex.info itself interpolates in wavelength, so values between nodes stay close to
what users see there. On the dense tables bundled with jaxmie the two choices differ far less
than the measurement uncertainty.
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._typing import NegativeK
from ._base import Material, is_concrete, static_field
from ._interpolation import pchip_evaluate, pchip_slopes

__all__ = ["Tabulated", "tabulated"]

# Padded forms of concrete tables, computed once per table object.
_PADDED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _bucket(size: int) -> int:
    """Padded table length: the next power of two, at least 16."""
    return max(16, 1 << (size - 1).bit_length())


def _interpolate(x: jax.Array, n: jax.Array, k: jax.Array, wavelength: jax.Array,
                 count: Any = None) -> jax.Array:
    """n + ik at the wavelengths by PCHIP on one grid (one node search for both)."""
    dtype = wavelength.dtype
    x = jnp.asarray(x).astype(dtype)
    y = jnp.stack([jnp.asarray(n).astype(dtype), jnp.asarray(k).astype(dtype)])
    values = pchip_evaluate(x, y, pchip_slopes(x, y, count), wavelength, count)
    return jax.lax.complex(values[0], values[1])


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, eq=False)
class Tabulated(Material):
    """Complex index from tables of n and k on one wavelength grid.

    Build it with `tabulated(...)`, which checks the table; the constructor itself does not
    (JAX rebuilds pytrees with placeholder leaves).

    Attributes:
        wavelength: nodes in nm, shape (N,), strictly increasing, N >= 2 (leaf).
        n: real index at the nodes, shape (N,) (leaf).
        k: extinction coefficient at the nodes, shape (N,), >= 0 (leaf).
        wavelength_range: (wavelength[0], wavelength[-1]) in nm (static).
        name: label used in messages.
        reference: citation text.
    """

    wavelength: Any
    n: Any
    k: Any
    wavelength_range: tuple[float, float] = static_field()
    name: str = static_field("tabulated")
    reference: str = static_field("")

    def _evaluate(self, wavelength: jax.Array) -> jax.Array:
        return _interpolate(self.wavelength, self.n, self.k, wavelength)

    def _canonical(self) -> _PaddedTable:
        """The table padded to a bucketed length, so tables share compiled code."""
        concrete = is_concrete(self.wavelength, self.n, self.k)
        if concrete and self in _PADDED:
            return _PADDED[self]
        size = np.shape(self.wavelength)[0]
        pad = _bucket(size) - size
        xp = np if concrete else jnp
        x, n, k = (xp.asarray(v) for v in (self.wavelength, self.n, self.k))
        step = x[-1] - x[-2]
        x = xp.concatenate([x, x[-1] + step * xp.arange(1, pad + 1, dtype=x.dtype)])
        n = xp.concatenate([n, xp.full((pad,), n[-1], dtype=n.dtype)])
        k = xp.concatenate([k, xp.full((pad,), k[-1], dtype=k.dtype)])
        padded = _PaddedTable(wavelength=x, n=n, k=k, count=np.int32(size))
        if concrete:
            _PADDED[self] = padded
        return padded


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, eq=False)
class _PaddedTable(Material):
    """A `Tabulated` padded at its end to a bucketed length (internal; see `_canonical`).

    Attributes:
        wavelength, n, k: shape (B,), the first `count` entries real, the rest padding that
            continues the grid and is never used.
        count: number of real nodes (leaf, so that tables of one bucket share a program).
    """

    wavelength: Any
    n: Any
    k: Any
    count: Any

    def _evaluate(self, wavelength: jax.Array) -> jax.Array:
        return _interpolate(self.wavelength, self.n, self.k, wavelength, self.count)

    def _canonical(self) -> _PaddedTable:
        return self


def _column(values: Any, label: str, name: str, size: int | None) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name}: {label} must be one-dimensional; got shape {array.shape}")
    if size is not None and array.shape[0] != size:
        raise ValueError(f"{name}: {label} has {array.shape[0]} values but wavelength has {size}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: {label} contains non-finite values")
    return array


def tabulated(wavelength: Any, n: Any, k: Any = None, *, name: str = "tabulated",
              reference: str = "", negative_k: NegativeK = "error") -> Tabulated:
    """A material from tables of n and k, checked.

    Args:
        wavelength: nodes in nm, shape (N,), strictly increasing, N >= 2.
        n: real index at the nodes, shape (N,); or a complex array n + ik (then k must be
            None).
        k: extinction coefficient at the nodes, shape (N,), or None for k = 0.
        name: label used in messages.
        reference: citation text.
        negative_k: "error" (default) raises on k < 0; "clip" sets negative k to 0.

    Returns:
        a `Tabulated` material valid on [wavelength[0], wavelength[-1]].

    Raises:
        ValueError: on a malformed table (lengths, order, non-finite values, n < 0, k < 0).
    """
    x = _column(wavelength, "wavelength", name, None)
    if x.shape[0] < 2:
        raise ValueError(f"{name}: a table needs at least 2 wavelengths; got {x.shape[0]}")
    steps = np.diff(x)
    if np.any(steps <= 0):
        i = int(np.argmax(steps <= 0))
        raise ValueError(
            f"{name}: wavelengths must be strictly increasing; row {i + 1} ({x[i]:g} nm) is "
            f"followed by {x[i + 1]:g} nm"
        )
    if x[0] <= 0:
        raise ValueError(f"{name}: wavelengths must be > 0 nm; got {x[0]:g}")
    n_array = np.asarray(n)
    if np.iscomplexobj(n_array):
        if k is not None:
            raise ValueError(f"{name}: give either a complex n or separate n and k, not both")
        n_array, k = n_array.real, n_array.imag
    n_values = _column(n_array, "n", name, x.shape[0])
    k_values = (np.zeros_like(x) if k is None else _column(k, "k", name, x.shape[0]))
    if np.any(n_values < 0):
        i = int(np.argmax(n_values < 0))
        raise ValueError(
            f"{name}: n must be >= 0 (a passive medium has Re n >= 0; a negative n describes "
            f"the gain medium n*); got n = {n_values[i]:g} at {x[i]:g} nm")
    if np.any(k_values < 0):
        if negative_k == "clip":
            k_values = np.maximum(k_values, 0.0)
        elif negative_k == "error":
            i = int(np.argmax(k_values < 0))
            raise ValueError(
                f"{name}: k must be >= 0 (n + ik, k >= 0 absorbs); got k = {k_values[i]:g} at "
                f"{x[i]:g} nm. Pass negative_k='clip' to set negative values to 0"
            )
        else:
            raise ValueError(f"negative_k must be 'error' or 'clip'; got {negative_k!r}")
    return Tabulated(
        wavelength=jnp.asarray(x),
        n=jnp.asarray(n_values),
        k=jnp.asarray(k_values),
        wavelength_range=(float(x[0]), float(x[-1])),
        name=name,
        reference=reference,
    )
