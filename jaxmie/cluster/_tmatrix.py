r"""Per-sphere T-matrices from the exact Mie coefficients, for clusters of mixed particles.

A sphere (any number of layers) centred at the origin turns a regular incident field
sum_lm [f^M_lm Rg M_lm + f^N_lm Rg N_lm] into the outgoing field sum_lm [s^M M_lm + s^N N_lm]
with (normalisation of jaxmie.cluster._waves; Bohren & Huffman's a_l, b_l, section 4.4)

.. math::
    s^M_{lm} = -b_l\, f^M_{lm}, \qquad s^N_{lm} = -a_l\, f^N_{lm},

diagonal, independent of m. The power it absorbs from that field is
(1/k^2) sum_lm [(Re b_l - |b_l|^2) |f^M_lm|^2 + (Re a_l - |a_l|^2) |f^N_lm|^2] in units of
the incident intensity (nm^2), with the absorbed parts from jaxmie._coefficients.series,
which are exactly zero for lossless layers.

A cluster is a sequence of particles (Sphere, CoreShell, Multilayer, each with batch shape
() or (N_k,)), concatenated in order; or one particle with batch shape (N,) or () shared
by all N. Every group gets its exact a_l, b_l from the same recurrence, whatever its layer
count.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from .._coefficients import _size_parameters, series
from .._dispatch import particle_jit
from .._particles import CoreShell, Multilayer, Particle, Sphere, layer_radii

__all__ = ["SphereTerms", "as_particle_list", "padded_layers", "sphere_terms"]

_PARTICLE_TYPES = (Sphere, CoreShell, Multilayer)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class SphereTerms:
    """Diagonal T-matrices of N spheres at one wavelength.

    Attributes:
        t: complex, shape (N, 2, lmax); (-b_l, -a_l) for the (M, N) waves, l = 1..lmax.
        absorption: real, shape (N, 2, lmax); (Re b_l - |b_l|^2, Re a_l - |a_l|^2).
        wavenumber: real scalar; host k = 2 pi n_env / wavelength in 1/nm.
        layer_radii: real, shape (N, L); every sphere's layer radii in nm, inner to outer,
            L the most layers of any sphere (padded_layers).
        layer_index: complex, shape (N, L); relative indices n_l / n_env of those layers.
    """

    t: jax.Array
    absorption: jax.Array
    wavenumber: jax.Array
    layer_radii: jax.Array
    layer_index: jax.Array

    @property
    def radius(self) -> jax.Array:
        """Outer radii in nm, shape (N,)."""
        return self.layer_radii[:, -1]


def as_particle_list(particles) -> list[Particle]:
    """The groups of a cluster: a particle is one group, a sequence of particles several."""
    if isinstance(particles, _PARTICLE_TYPES):
        return [particles]
    if isinstance(particles, Sequence) and particles and all(
            isinstance(p, _PARTICLE_TYPES) for p in particles):
        return list(particles)
    raise TypeError("particles must be a Sphere, CoreShell or Multilayer, or a non-empty "
                    f"sequence of them; got {type(particles).__name__}")


def padded_layers(radii: jax.Array, index: jax.Array, n_layers: int
                  ) -> tuple[jax.Array, jax.Array]:
    """Layers (N, L_g) of spheres as n_layers >= L_g layers describing the same spheres.

    The core is split into n_layers - L_g + 1 concentric layers of equal radial steps and
    the core's index: interfaces between equal indices change no field (their
    log-derivative contrast is exactly zero in jaxmie._layer_fields), so spheres with
    different layer counts share one table.

    Args:
        radii: real, shape (N, L_g), nm, inner to outer.
        index: complex, shape (N, L_g).
        n_layers: L >= L_g (static).

    Returns:
        (radii, index) of shapes (N, L), (N, L).
    """
    extra = n_layers - radii.shape[-1]
    fractions = jnp.arange(1, extra + 1, dtype=radii.dtype) / (extra + 1)
    core = radii[:, :1] * fractions
    return (jnp.concatenate([core, radii], -1),
            jnp.concatenate([jnp.repeat(index[:, :1], extra, -1), index], -1))


@functools.partial(particle_jit, static_argnames=("n_layers",))
def _layers_of(particle, wavelength, n_env, n_layers):
    """padded_layers of a particle group: radii (nm) and relative indices, (N_k, n_layers)."""
    _, index = _size_parameters(particle, wavelength, n_env)  # (*P, L_g)
    radii = jnp.broadcast_to(layer_radii(particle), index.shape).astype(jnp.real(index).dtype)
    return padded_layers(*(v.reshape(-1, v.shape[-1]) for v in (radii, index)), n_layers)


def sphere_terms(particles, wavelength, n_env, lmax: int, n_max: int | None = None,
                 n_particles: int | None = None) -> SphereTerms:
    """T-matrix diagonals and absorbed parts of every sphere of a cluster.

    Args:
        particles: a particle (batch shape (N,) or ()) or a sequence of particles (batch
            shapes () or (N_k,)), concatenated in order.
        wavelength: vacuum wavelength in nm, scalar.
        n_env: real host index.
        lmax: highest multipole degree kept (static).
        n_max: orders of the Mie recurrence (static, >= lmax); None uses lmax (the
            recurrence is exact for its first lmax orders at any n_max).
        n_particles: N, to broadcast a single shared particle (batch shape ()).

    Returns:
        SphereTerms with N spheres.
    """
    orders = lmax if n_max is None else n_max
    if orders < lmax:
        raise ValueError(f"n_max must be >= lmax; got n_max={n_max}, lmax={lmax}")
    groups = as_particle_list(particles)
    n_layers = max(len(group.layers()[0]) for group in groups)
    parts = []
    for group in groups:
        s = series(group, wavelength, n_env, orders)
        if s.a.ndim == 1:  # batch shape (): one particle
            s = jax.tree.map(lambda v: v[None], s)
        elif s.a.ndim != 2:
            raise ValueError("each particle group must have batch shape () or (N,); got "
                             f"{s.a.shape[:-1]}")
        t = -jnp.stack([s.b[:, :lmax], s.a[:, :lmax]], 1)
        absorption = jnp.stack([s.absorption_b[:, :lmax], s.absorption_a[:, :lmax]], 1)
        parts.append((t, absorption, *_layers_of(group, wavelength, n_env, n_layers=n_layers)))
    t, absorption, radii, index = (jnp.concatenate(v) for v in zip(*parts))
    if n_particles is not None and t.shape[0] != n_particles:
        if t.shape[0] != 1:
            raise ValueError(f"particles describe {t.shape[0]} spheres but positions "
                             f"{n_particles}")
        t, absorption, radii, index = (jnp.broadcast_to(v, (n_particles, *v.shape[1:]))
                                       for v in (t, absorption, radii, index))
    real = jnp.real(t).dtype
    k = (2 * jnp.pi * jnp.asarray(n_env) / jnp.asarray(wavelength)).astype(real)
    return SphereTerms(t=t, absorption=absorption, wavenumber=k,
                       layer_radii=radii, layer_index=index)
