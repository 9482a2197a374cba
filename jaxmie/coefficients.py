r"""Scattering coefficients a_n, b_n of layered spheres (homogeneous = one layer).

One code path serves every layer count L: Yang's (2003) recurrence on the effective
log-derivatives H^a_n, H^b_n across the layers, in the form of Pena & Pal (2009), with the
ratio between layers Q_n = [psi_n/zeta_n](m_l x_{l-1}) / [psi_n/zeta_n](m_l x_l) built as a
product of order ratios so that no intermediate overflows:

.. math::
    H^a_{n,l} = \frac{G_2 D^{(1)}_n(m_l x_l) - Q_n G_1 D^{(3)}_n(m_l x_l)}{G_2 - Q_n G_1},
    \quad G_{1,2} = m_l H^a_{n,l-1} - m_{l-1} D^{(1,3)}_n(m_l x_{l-1}),

(for H^b swap m_l and m_{l-1} in G), starting from H_{n,1} = D^{(1)}_n(m_1 x_1), and

.. math::
    a_n = \frac{\psi_n(x)}{\zeta_n(x)} \frac{H^a_n/m_L - D^{(1)}_n(x)}{H^a_n/m_L - D^{(3)}_n(x)},
    \quad
    b_n = \frac{\psi_n(x)}{\zeta_n(x)} \frac{m_L H^b_n - D^{(1)}_n(x)}{m_L H^b_n - D^{(3)}_n(x)}

with x = x_L. For L = 1 these are Bohren & Huffman's (4.88). The absorbed part of each order,
Re(a_n) - |a_n|^2, is returned separately in a form proportional to Im H, so that weakly
absorbing and lossless particles keep every digit of Q_abs (and Q_ext = Q_sca + Q_abs).

References:
    W. Yang, Appl. Opt. 42, 1710 (2003).
    O. Pena and U. Pal, Comput. Phys. Commun. 180, 2348 (2009).
    C. F. Bohren and D. R. Huffman, Absorption and Scattering of Light by Small Particles
    (Wiley, 1983), sections 4.4 and 8.1.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import _native, special, truncation
from ._batching import map_batch
from .particles import Particle, layer_indices, layer_radii
from .truncation import n_max_for
from .validation import check_particle, concrete_value

__all__ = ["MieSeries", "coefficients", "layered_series", "series", "size_parameters"]


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


def _safe_abs(z: jax.Array) -> jax.Array:
    """|z| with a zero (not NaN) derivative at z = 0 (where psi_n/zeta_n underflows)."""
    square = special.abs_squared(z)
    positive = square > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, square, 1)), 0)


def _layer_ratio(outer: special.RiccatiBessel, z_outer, inner: special.RiccatiBessel, z_inner,
                 phase):
    """Q_n = [psi_n/zeta_n](z_inner) / [psi_n/zeta_n](z_outer) for n = 1..N, shape (N,).

    z_inner = m_l x_{l-1}, z_outer = m_l x_l and phase = m_l (x_l - x_{l-1}). Built from
    exp(iz) psi_1 and order ratios, so that |exp(2 i phase)| <= 1 keeps Q bounded for thick
    absorbing layers and tiny layers underflow to Q = 0 instead of 0/0.
    """
    q_1 = (jnp.exp(2j * phase) * (inner.psi_1_scaled / outer.psi_1_scaled)
           * (special.zeta_ratio_1(z_outer) / special.zeta_ratio_1(z_inner)))
    factor = (inner.psi_ratio * outer.zeta_ratio) / (outer.psi_ratio * inner.zeta_ratio)
    return q_1 * special.cumulative_product(factor)


def _through_layer(h, m_h, m_d, d1_outer, d3_outer, d1_inner, d3_inner, q):
    """Effective log-derivative at the outer surface of a layer from the one below it.

    G_{1,2} = m_h h - m_d D^{(1,3)}(inner): (m_l, m_{l-1}) for H^a, (m_{l-1}, m_l) for H^b.
    """
    g1 = m_h * h - m_d * d1_inner
    g2 = m_h * h - m_d * d3_inner
    return (g2 * d1_outer - q * g1 * d3_outer) / (g2 - q * g1)


def layered_series(x: jax.Array, m: jax.Array, n_max: int):
    """Mie coefficients of one layered sphere at one wavelength.

    Args:
        x: size parameters 2 pi n_env r_l / wavelength of the layers, inner to outer; real,
            shape (L,), non-decreasing, > 0.
        m: relative complex indices n_l / n_env, shape (L,), Im m >= 0.
        n_max: number of orders (static int). Orders beyond the particle's own truncation
            are tiny and finite, so a batch may share one over-provisioned n_max.

    Returns:
        (a, b, absorption_a, absorption_b), each of shape (n_max,); see MieSeries.
    """
    n_layers = x.shape[-1]
    m = m.astype(jnp.result_type(m.dtype, jnp.complex64))
    xc = x.astype(m.dtype)
    z_outer = m * xc  # m_l x_l
    z_inner = m[1:] * xc[:-1]  # m_l x_{l-1}
    # The core needs only D1: a call of its own lets XLA drop its upward recurrence.
    h_a = h_b = special.riccati_bessel(z_outer[0], n_max).d1
    args = jnp.concatenate([z_outer[1:], z_inner, xc[-1:]])
    rb = jax.vmap(special.riccati_bessel, in_axes=(0, None))(args, n_max)
    pick = lambda index: jax.tree.map(lambda v: v[index], rb)

    if n_layers > 1:

        def shell(carry, layer):
            h_a, h_b = carry
            m_in, m_out, z_o, z_i, phase, outer, inner = layer
            q = _layer_ratio(outer, z_o, inner, z_i, phase)
            args = (outer.d1, outer.d3, inner.d1, inner.d3, q)
            return (_through_layer(h_a, m_out, m_in, *args),
                    _through_layer(h_b, m_in, m_out, *args)), None

        layers = (m[:-1], m[1:], z_outer[1:], z_inner, m[1:] * (xc[1:] - xc[:-1]),
                  pick(slice(0, n_layers - 1)), pick(slice(n_layers - 1, -1)))
        (h_a, h_b), _ = lax.scan(shell, (h_a, h_b), layers)

    host, x_out = pick(-1), xc[-1]
    ratio = special.psi_zeta_ratio(host, x_out)
    inv_zeta_sq = _safe_abs(ratio) * jnp.abs(host.d3 - host.d1)  # 1 / |zeta_n(x)|^2
    lossless = jnp.all(jnp.imag(m) == 0)

    def coefficient(h):
        a = ratio * (h - host.d1) / (h - host.d3)
        absorbed = -jnp.imag(h) * inv_zeta_sq / special.abs_squared(h - host.d3)
        # Exactly zero for lossless layers (Im h is rounding noise there), derivative kept.
        absorbed = absorbed - jnp.where(lossless, lax.stop_gradient(absorbed), 0)
        return a, absorbed

    a, absorption_a = coefficient(h_a / m[-1])
    b, absorption_b = coefficient(m[-1] * h_b)
    return a, b, absorption_a, absorption_b


def size_parameters(particle: Particle, wavelength, n_env=1.0):
    """Layer size parameters and relative indices of a batch at a set of wavelengths.

    Args:
        particle: a Sphere, CoreShell or Multilayer with batch shape P.
        wavelength: vacuum wavelengths in nm, shape W.
        n_env: real host index (scalar).

    Returns:
        (x, m): real and complex arrays of shape (*P, *W, L). Raises ValueError for bad
        concrete input (see jaxmie.validation).
    """
    wavelength = jnp.asarray(wavelength)
    radii = layer_radii(particle)  # (*P, L)
    indices = layer_indices(particle, wavelength)  # (*P?, *W, L)
    check_particle(particle, wavelength, n_env)
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


def series(particle: Particle, wavelength, n_env=1.0, n_max: int | None = None) -> MieSeries:
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
    x, m = size_parameters(particle, wavelength, n_env)
    return _batched_series(x, m, static_n_max(x, n_max))


def _reference_series(x: jax.Array, m: jax.Array, n_max: int) -> tuple:
    """layered_series over every leading axis of x, m (*batch, L), in JAX."""
    batch_shape, n_layers = x.shape[:-1], x.shape[-1]
    flat = (x.reshape(-1, n_layers), m.reshape(-1, n_layers))
    out = map_batch(lambda xm: layered_series(xm[0], xm[1], n_max), flat)
    return tuple(v.reshape(*batch_shape, n_max) for v in out)


@functools.partial(jax.jit, static_argnames=("n_max",))
def _batched_series(x: jax.Array, m: jax.Array, n_max: int) -> MieSeries:
    """layered_series over every leading axis of x, m (*batch, L): by the native kernel on
    the CPU when it is available (jaxmie._native), else in JAX. Jitted so that eager calls
    reuse one compilation per shape and n_max."""
    if _native.supports(x, m):
        a, b, abs_a, abs_b = _native.series(x, m, n_max, _reference_series)
    else:
        a, b, abs_a, abs_b = _reference_series(x, m, n_max)
    return MieSeries(a=a, b=b, absorption_a=abs_a, absorption_b=abs_b, x=x[..., -1])


def coefficients(particle: Particle, wavelength, n_env=1.0, n_max: int | None = None):
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
