"""Particles as pytree dataclasses: Sphere, CoreShell, Multilayer.

Radii are in nanometres; layers run from the innermost outwards. An index is a complex
number n + ik (k >= 0 absorbs), an array of them (a batch of particles), or a material: a
callable of the wavelength in nm returning the complex index (see jaxmie.materials).

Every field is a pytree leaf (or a material pytree), so a particle whose fields carry a batch
shape is a batch of particles that jit, vmap and grad see as one object. A particle built
from concrete values is checked when it is constructed (radii > 0 and non-decreasing,
passive indices, batch shapes: a ValueError naming the field); one with traced fields is
checked where it is used (jaxmie._validation). JAX rebuilds particles (derivatives, tree
maps, placeholder leaves) without constructing them, so those checks never see cotangents.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from ._typing import Index, Radius
from ._validation import construction_checks

__all__ = ["CoreShell", "Multilayer", "Particle", "Sphere", "layer_indices", "layer_radii"]



def _pytree(cls: type) -> type:
    """Registers a frozen dataclass as a pytree whose fields are all children, rebuilt by
    JAX without calling __init__ (so without __post_init__'s checks of concrete values)."""
    names = tuple(f.name for f in dataclasses.fields(cls))
    keys = tuple(jax.tree_util.GetAttrKey(name) for name in names)
    children = operator.attrgetter(*names)  # C-level: flattening is on every eager call

    def flatten_with_keys(particle):
        return tuple(zip(keys, children(particle))), None

    def flatten(particle):
        return children(particle), None

    def unflatten(_, children):
        particle = object.__new__(cls)
        for name, child in zip(names, children):
            object.__setattr__(particle, name, child)
        return particle

    jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten, flatten)
    return cls


@_pytree
@dataclasses.dataclass(frozen=True)
class Sphere:
    """Homogeneous sphere.

    Attributes:
        radius: radius in nm, shape (*batch).
        n: complex refractive index, shape (*batch), or a material.

    Examples:
        >>> import jax.numpy as jnp
        >>> import jaxmie as jm
        >>> sphere = jm.Sphere(radius=100.0, n=1.5 + 0.01j)
        >>> batch = jm.Sphere(radius=jnp.linspace(50.0, 150.0, 11), n=1.59)  # 11 spheres
        >>> batch.radius.shape
        (11,)
        >>> gold = jm.Sphere(radius=40.0, n=jm.materials.get("Au"))  # a dispersive index
        >>> jm.Sphere(radius=-1.0, n=1.5)
        Traceback (most recent call last):
        ...
        ValueError: radius must be finite and > 0 nm; got [-1.0]
    """

    radius: Radius
    n: Index

    def __post_init__(self):
        construction_checks(self)

    @property
    def n_layers(self) -> int:
        return 1

    def layers(self) -> tuple[list[Any], list[Any]]:
        """(radii, indices) per layer, inner to outer."""
        return [self.radius], [self.n]


@_pytree
@dataclasses.dataclass(frozen=True)
class CoreShell:
    """Core-shell sphere.

    Attributes:
        r_core: core radius in nm, shape (*batch).
        r_shell: outer radius in nm (core plus shell), shape (*batch); r_shell >= r_core.
        n_core, n_shell: complex indices, shape (*batch), or materials.

    Examples:
        A silica core in a 10 nm gold-like shell, and a batch of 20 shell radii:

        >>> import jax.numpy as jnp
        >>> import jaxmie as jm
        >>> p = jm.CoreShell(r_core=40.0, r_shell=50.0, n_core=1.45, n_shell=0.2 + 3.0j)
        >>> p.layers()
        ([40.0, 50.0], [1.45, (0.2+3j)])
        >>> shells = jm.CoreShell(r_core=40.0, r_shell=jnp.linspace(41.0, 60.0, 20),
        ...                       n_core=1.45, n_shell=0.2 + 3.0j)
        >>> jm.CoreShell(r_core=60.0, r_shell=50.0, n_core=1.45, n_shell=1.5)
        Traceback (most recent call last):
        ...
        ValueError: r_shell - r_core must be >= 0 (radii must not decrease outwards); got [-10.0]
    """

    r_core: Radius
    r_shell: Radius
    n_core: Index
    n_shell: Index

    def __post_init__(self):
        construction_checks(self)

    @property
    def n_layers(self) -> int:
        return 2

    def layers(self) -> tuple[list[Any], list[Any]]:
        """(radii, indices) per layer, inner to outer."""
        return [self.r_core, self.r_shell], [self.n_core, self.n_shell]


@_pytree
@dataclasses.dataclass(frozen=True)
class Multilayer:
    """Sphere of L concentric layers.

    Attributes:
        radii: outer radius of each layer in nm, inner to outer: a sequence of L scalars or
            (*batch) arrays, or one array of shape (*batch, L). Non-decreasing.
        n: complex index of each layer: a sequence of L numbers, arrays or materials, or
            one array of shape (*batch, L).

    Examples:
        >>> import jaxmie as jm
        >>> onion = jm.Multilayer(radii=[30.0, 40.0, 60.0], n=[1.45, 0.2 + 3.0j, 1.33])
        >>> onion.n_layers
        3
    """

    radii: Any
    n: Any

    def __post_init__(self):
        counts = {_layer_count(self.radii), _layer_count(self.n)}
        counts.discard(None)
        if 0 in counts:
            raise ValueError(
                f"Multilayer needs at least one layer; got radii={self.radii!r}, n={self.n!r}")
        if len(counts) > 1:
            raise ValueError(
                f"Multilayer: radii has {_layer_count(self.radii)} layers but n has "
                f"{_layer_count(self.n)}; give one index per layer"
            )
        construction_checks(self)

    @property
    def n_layers(self) -> int:
        count = _layer_count(self.radii)
        if count is None:
            raise ValueError(f"Multilayer: cannot tell the layer count from radii={self.radii!r}")
        return count

    def layers(self) -> tuple[list[Any], list[Any]]:
        """(radii, indices) per layer, inner to outer."""
        return _split_layers(self.radii), _split_layers(self.n)


Particle = Sphere | CoreShell | Multilayer


def _layer_count(value: Any) -> int | None:
    if isinstance(value, (list, tuple)):
        return len(value)
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) > 0 and not callable(value):
        return int(shape[-1])
    return None


def _split_layers(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value[..., i] for i in range(value.shape[-1])]


def layer_radii(particle: Particle) -> jax.Array:
    """Radii of the layers, shape (*batch, L), in nm (real, the particle's dtype)."""
    radii, _ = particle.layers()
    radii = jnp.broadcast_arrays(*[jnp.asarray(r) for r in radii])
    return jnp.stack(radii, axis=-1)


def layer_indices(particle: Particle, wavelength: jax.Array) -> jax.Array:
    """Complex indices of the layers at the wavelengths, shape (*batch, *wavelength.shape, L).

    A constant index of shape (*batch) is broadcast over the wavelengths; a material is
    evaluated at them (shape (*wavelength.shape)) and broadcast over the batch.
    """
    _, indices = particle.layers()
    wavelength = jnp.asarray(wavelength)
    trailing = (None,) * wavelength.ndim
    values = [
        jnp.asarray(_evaluate(n, wavelength)) if callable(n)
        else jnp.asarray(n)[(..., *trailing)]
        for n in indices
    ]
    values = jnp.broadcast_arrays(*values)
    return jnp.stack(values, axis=-1)


def _evaluate(index: Callable[[jax.Array], jax.Array], wavelength: jax.Array) -> jax.Array:
    """A callable index at the wavelengths. jaxmie's materials were checked with the particle
    (jaxmie._validation), so they are evaluated without a second check."""
    evaluate = getattr(index, "_evaluate_checked", index)
    return evaluate(wavelength)
