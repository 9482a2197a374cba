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
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from .._coefficients import series
from .._particles import CoreShell, Multilayer, Particle, Sphere, layer_radii

__all__ = ["SphereTerms", "as_particle_list", "sphere_terms"]

_PARTICLE_TYPES = (Sphere, CoreShell, Multilayer)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class SphereTerms:
    """Diagonal T-matrices of N spheres at one wavelength.

    Attributes:
        t: complex, shape (N, 2, lmax); (-b_l, -a_l) for the (M, N) waves, l = 1..lmax.
        absorption: real, shape (N, 2, lmax); (Re b_l - |b_l|^2, Re a_l - |a_l|^2).
        radius: real, shape (N,); outer radii in nm.
        wavenumber: real scalar; host k = 2 pi n_env / wavelength in 1/nm.
    """

    t: jax.Array
    absorption: jax.Array
    radius: jax.Array
    wavenumber: jax.Array


def as_particle_list(particles) -> list[Particle]:
    """The groups of a cluster: a particle is one group, a sequence of particles several."""
    if isinstance(particles, _PARTICLE_TYPES):
        return [particles]
    if isinstance(particles, Sequence) and particles and all(
            isinstance(p, _PARTICLE_TYPES) for p in particles):
        return list(particles)
    raise TypeError("particles must be a Sphere, CoreShell or Multilayer, or a non-empty "
                    f"sequence of them; got {type(particles).__name__}")


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
    parts = []
    for group in groups:
        s = series(group, wavelength, n_env, orders)
        radius = jnp.asarray(layer_radii(group)[..., -1])
        if s.a.ndim == 1:  # batch shape (): one particle
            s = jax.tree.map(lambda v: v[None], s)
            radius = radius[None]
        elif s.a.ndim != 2:
            raise ValueError("each particle group must have batch shape () or (N,); got "
                             f"{s.a.shape[:-1]}")
        t = -jnp.stack([s.b[:, :lmax], s.a[:, :lmax]], 1)
        absorption = jnp.stack([s.absorption_b[:, :lmax], s.absorption_a[:, :lmax]], 1)
        parts.append((t, absorption, jnp.broadcast_to(radius, t.shape[:1])))
    t, absorption, radius = (jnp.concatenate(v) for v in zip(*parts))
    if n_particles is not None and t.shape[0] != n_particles:
        if t.shape[0] != 1:
            raise ValueError(f"particles describe {t.shape[0]} spheres but positions "
                             f"{n_particles}")
        t, absorption, radius = (jnp.broadcast_to(v, (n_particles, *v.shape[1:]))
                                 for v in (t, absorption, radius))
    real = jnp.real(t).dtype
    k = (2 * jnp.pi * jnp.asarray(n_env) / jnp.asarray(wavelength)).astype(real)
    return SphereTerms(t=t, absorption=absorption, radius=radius.astype(real), wavenumber=k)
