"""Mie coefficients of particles: size parameters, the series and a_n, b_n.

The particle (radii in nm, indices) and the illumination become layer size parameters
x_l = 2 pi n_env r_l / wavelength and relative indices m_l = n_l / n_env, and the series of
every particle at every wavelength comes from jaxmie._series (native CPU kernel or the JAX
recurrence of jaxmie._layered).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from . import _series
from . import _truncation as truncation
from ._dispatch import particle_jit, prepare
from ._particles import Particle, layer_indices, layer_radii
from ._truncation import n_max_for
from ._typing import HostIndex, RealResult, Wavelength
from ._validation import check_particle, concrete_value

__all__ = ["MieSeries", "coefficients", "series", "size_parameters", "static_n_max"]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class MieSeries:
    """Mie coefficients of a batch of particles, the input of every observable.

    Attributes:
        a, b: complex, shape (*batch, n_max); order n at index n - 1.
        absorption_a, absorption_b: real, shape (*batch, n_max); Re(a_n) - |a_n|^2 and the
            same for b_n, computed without cancellation (zero for lossless particles).
        x: real, shape (*batch); size parameter of the outer surface, 2 pi n_env r / wavelength.
    """

    a: jax.Array
    b: jax.Array
    absorption_a: jax.Array
    absorption_b: jax.Array
    x: jax.Array

    @property
    def n_max(self) -> int:
        return self.a.shape[-1]


def _size_parameters(particle: Particle, wavelength, n_env):
    """size_parameters without the input checks (traceable)."""
    wavelength = jnp.asarray(wavelength)
    radii = layer_radii(particle)  # (*P, L)
    indices = layer_indices(particle, wavelength)  # (*P?, *W, L)
    dtype = jnp.result_type(radii.dtype, wavelength.dtype, jnp.real(indices).dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.result_type(dtype, float)
    n_env = jnp.asarray(n_env).astype(dtype)
    wavenumber = 2 * jnp.pi * n_env / wavelength.astype(dtype)  # (*W)
    trailing = (None,) * wavelength.ndim
    x = radii.astype(dtype)[(..., *trailing, slice(None))] * wavenumber[..., None]
    m = indices.astype(jnp.result_type(dtype, jnp.complex64)) / n_env
    shape = jnp.broadcast_shapes(x.shape, m.shape)
    return jnp.broadcast_to(x, shape), jnp.broadcast_to(m, shape)


def size_parameters(particle: Particle, wavelength: Wavelength, n_env: HostIndex = 1.0
                    ) -> RealResult:
    """Layer size parameters and relative indices of a batch at a set of wavelengths.

    Args:
        particle: a Sphere, CoreShell or Multilayer with batch shape P.
        wavelength: vacuum wavelengths in nm, shape W.
        n_env: real host index (scalar).

    Returns:
        (x, m): real and complex arrays of shape (*P, *W, L). Raises ValueError for bad
        concrete input (see jaxmie._validation).
    """
    wavelength, _ = check_particle(particle, wavelength, n_env)
    return _size_parameters(particle, wavelength, n_env)


def _largest_outer_size(x: jax.Array):
    """The largest outer size parameter of x (..., L) if it is concrete, else None."""
    x_concrete = concrete_value(x)
    return None if x_concrete is None else float(np.max(x_concrete[..., -1], initial=0.0))


def static_n_max(x: jax.Array, n_max: int | None, rule=n_max_for, minimum: int = 1) -> int:
    """The static number of orders: n_max itself, or rule(largest outer size parameter).

    Args:
        x: layer size parameters, shape (..., L); concrete when n_max is None.
        n_max: the caller's choice, or None for the rule.
        rule: jaxmie.n_max_for (far field) or jaxmie.n_max_near_field.
        minimum: the smallest n_max the caller's formulas accept.
    """
    return truncation.static_n_max(n_max, lambda: _largest_outer_size(x), rule, minimum)


def series(particle: Particle, wavelength: Wavelength, n_env: HostIndex = 1.0,
           n_max: int | None = None) -> MieSeries:
    """Mie coefficients of a batch of particles at a set of wavelengths.

    Args:
        particle: Sphere, CoreShell or Multilayer with batch shape P (radii in nm).
        wavelength: vacuum wavelengths in nm, shape W.
        n_env: real refractive index of the host medium.
        n_max: number of orders (static). None picks jaxmie.n_max_for (converged to float64
            for every observable) on the largest outer size parameter; that needs concrete
            sizes (not inside jit).

    Returns:
        MieSeries with a, b of shape (*P, *W, n_max).
    """
    wavelength, n_max = prepare(particle, wavelength, n_env, n_max)
    return _series_of(particle, wavelength, n_env, n_max=n_max)


@functools.partial(particle_jit, static_argnames=("n_max",))
def _series_of(particle, wavelength, n_env, n_max):
    return _batched_series(*_size_parameters(particle, wavelength, n_env), n_max)


@functools.partial(jax.jit, static_argnames=("n_max",))
def _batched_series(x: jax.Array, m: jax.Array, n_max: int) -> MieSeries:
    """The series of every particle in x, m (*batch, L) (jaxmie._series). Jitted so that
    eager calls reuse one compilation per shape and n_max."""
    a, b, abs_a, abs_b = _series.series(x, m, n_max)
    return MieSeries(a=a, b=b, absorption_a=abs_a, absorption_b=abs_b, x=x[..., -1])


def coefficients(particle: Particle, wavelength: Wavelength, n_env: HostIndex = 1.0,
           n_max: int | None = None):
    """Scattering coefficients a_n, b_n (Bohren & Huffman convention).

    Args:
        particle: Sphere, CoreShell or Multilayer with batch shape P (radii in nm).
        wavelength: vacuum wavelengths in nm, shape W.
        n_env: real refractive index of the host medium.
        n_max: number of orders (static); None picks jaxmie.n_max_for (concrete sizes only).

    Returns:
        (a, b): complex arrays of shape (*P, *W, n_max), order n = 1..n_max along the last
        axis. With exp(-i omega t) and m = n + ik.
    """
    s = series(particle, wavelength, n_env, n_max)
    return s.a, s.b
