r"""Vector spherical harmonics M, N of azimuthal order 1, any degree n, in Cartesian form.

Coverage: the harmonics that a plane wave on a sphere excites (Bohren & Huffman 4.50):
azimuthal order m = 1, even and odd (M_e1n, M_o1n, N_e1n, N_o1n), every degree n >= 1, with
the regular (kind 1, j_n) or outgoing (kind 3, h_n^(1)) radial function, at complex
wavenumbers. Other azimuthal orders (m != 1), needed for non-plane-wave or off-centre
excitation, are not provided.

With z_n(rho) the radial function and psi = rho z_n (B&H 4.50, exp(-i omega t)):

.. math::
    \mathbf{M}_{o1n} = \cos\phi\,\pi_n z_n\,\hat{\boldsymbol\theta}
        - \sin\phi\,\tau_n z_n\,\hat{\boldsymbol\phi},\qquad
    \mathbf{N}_{e1n} = \cos\phi\,n(n+1)\sin\theta\,\pi_n\frac{z_n}{\rho}\,\hat{\mathbf r}
        + \cos\phi\,\tau_n\frac{\psi'}{\rho}\,\hat{\boldsymbol\theta}
        - \sin\phi\,\pi_n\frac{\psi'}{\rho}\,\hat{\boldsymbol\phi},

and M_e1n, N_o1n the same rotated by -90 degrees in phi. In spherical components these are
undefined on the z axis (phi is) although the fields are smooth. Every such field has the
form E_theta = cos(phi) A, E_phi = -sin(phi) B, E_r = cos(phi) sin(theta) R; since
A cos(theta) - B = sin^2(theta) C with C = sum u pi_n' - v (pi_n + mu pi_n') for
A = sum u pi_n + v tau_n, B = sum u tau_n + v pi_n (using tau_n = mu pi_n - (1 - mu^2) pi_n'),

.. math::
    \mathbf{E} = B\,\hat{\mathbf x} + C\,\frac{x}{r^2}(x, y, 0) - A\,\frac{x}{r}\,\hat{\mathbf z}
        + R\,\frac{x}{r^2}(x, y, z),

which has no division by sin(theta) and is exact on the axis (values and derivatives). The
pattern with E_theta = sin(phi) A, E_phi = cos(phi) B, E_r = sin(phi) sin(theta) R is the
same with x -> y in the prefactors and y-hat in place of x-hat.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import _special as special

__all__ = ["VectorHarmonics", "plane_wave_series", "vector_spherical_harmonics"]


def _angular(mu: jax.Array, n_max: int):
    """pi_n, tau_n and d pi_n / d mu at mu, each of shape (..., n_max) (real)."""
    (pi, tau), (dpi, _) = jax.jvp(lambda c: special.angular_functions(c, n_max), (mu,),
                                  (jnp.ones_like(mu),))
    return pi, tau, dpi


def _pattern(a, b, c, r_comp, position, r, axis):
    """Cartesian vector of a field with the cos(phi) (axis 0) or sin(phi) (axis 1) pattern.

    a, b, c, r_comp: complex, any shape S; position (3,) and r broadcastable against S.
    Returns shape (*S, 3).
    """
    x, y, z = position[0], position[1], position[2]
    s = position[axis]
    inv_r2 = 1 / (r * r)
    unit = jnp.zeros((3,), a.dtype).at[1 if axis else 0].set(1)
    transverse = jnp.stack([x, y, jnp.zeros_like(x)]).astype(a.dtype)
    radial = jnp.stack([x, y, z]).astype(a.dtype)
    ez = jnp.asarray([0, 0, 1], a.dtype)
    return (b[..., None] * unit + (c * s * inv_r2)[..., None] * transverse
            - (a * s / r)[..., None] * ez + (r_comp * s * inv_r2)[..., None] * radial)


def _i_power(n: jax.Array, dtype) -> jax.Array:
    """i^n for integer-valued real n."""
    return jnp.asarray([1, 1j, -1, -1j], dtype)[n.astype(jnp.int32) % 4]


def plane_wave_series(f, df, rho, position, r, n_max: int):
    r"""Sum of the plane-wave series at one point from its TE/TM radial functions.

    Args:
        f, df: complex (2, n_max): U_n, V_n and their derivatives in rho at the point, with
            E = sum E_n [ (U/rho-type) M_o1n-like + ... ] as in jaxmie.fields.
        rho: complex scalar m k r.
        position: real (3,), Cartesian point (any unit, r = |position| > 0).
        r: real scalar |position|.
        n_max: number of orders (static).

    Returns:
        (E, H'): complex (3,) each; H' is H / m (the caller multiplies by the index).
    """
    n = jnp.arange(1, n_max + 1).astype(jnp.real(rho).dtype)
    nn = n * (n + 1)
    e_n = _i_power(n, rho.dtype) * ((2 * n + 1) / nn)
    inv = 1 / rho
    mu = position[2] / r
    pi, tau, dpi = _angular(mu, n_max)
    pi, tau, dpi = (v.astype(rho.dtype) for v in (pi, tau, dpi))

    def field(u, v, w, axis):
        return _pattern(jnp.sum(pi * u + tau * v), jnp.sum(tau * u + pi * v),
                        jnp.sum(u * dpi - v * (pi + mu * dpi)), jnp.sum(pi * w), position, r,
                        axis)

    (u_te, u_tm), (du_te, du_tm) = f, df
    return (field(e_n * u_te * inv, -1j * e_n * du_tm * inv, -1j * e_n * nn * u_tm * inv * inv, 0),
            field(e_n * u_tm * inv, -1j * e_n * du_te * inv, -1j * e_n * nn * u_te * inv * inv, 1))


class VectorHarmonics(NamedTuple):
    """M_o1n, M_e1n, N_o1n, N_e1n in Cartesian components, each complex (..., n_max, 3)."""

    m_o1n: jax.Array
    m_e1n: jax.Array
    n_o1n: jax.Array
    n_e1n: jax.Array


def vector_spherical_harmonics(positions, wavenumber, n_max: int, kind: int = 1
                               ) -> VectorHarmonics:
    """Vector spherical harmonics of azimuthal order 1, degrees 1..n_max (B&H 4.50).

    Args:
        positions: real (..., 3), Cartesian points (same length unit as 1 / wavenumber),
            r > 0 (on the z axis is fine).
        wavenumber: complex or real scalar k (the medium's), so rho = k r.
        n_max: highest degree (static int >= 2).
        kind: 1 for the regular harmonics (j_n), 3 for the outgoing ones (h_n^(1)).

    Returns:
        VectorHarmonics, each field of shape (..., n_max, 3), complex; degree n at index
        n - 1. Kind 3 overflows where h_n(k r) does (high n at small k r): it is meant for
        checks and teaching; `jaxmie.fields` never forms these products.
    """
    if kind not in (1, 3):
        raise ValueError(f"kind must be 1 or 3; got {kind}")
    positions = jnp.asarray(positions)
    k = jnp.asarray(wavenumber)
    dtype = jnp.result_type(positions.dtype, k.dtype, jnp.complex64)

    def one(p):
        r = jnp.sqrt(jnp.sum(p**2))
        rho = (k * r).astype(dtype)
        rb = special.riccati_bessel(rho, n_max)
        cumprod = special.cumulative_product
        if kind == 1:
            big = jnp.exp(-1j * rho) * rb.psi_1_scaled * cumprod(rb.psi_ratio)
            d = rb.d1
        else:
            big = -1j * jnp.exp(1j * rho) * special.zeta_ratio_1(rho) * cumprod(rb.zeta_ratio)
            d = rb.d3
        n = jnp.arange(1, n_max + 1).astype(jnp.real(rho).dtype)
        z_n, dpsi = big / rho, d * big / rho  # z_n and psi'(rho) / rho
        mu = p[2] / r
        pi, tau, dpi = (v.astype(dtype) for v in _angular(mu, n_max))
        zero = jnp.zeros_like(z_n)
        m_odd = _pattern(pi * z_n, tau * z_n, dpi * z_n, zero, p, r, 0)
        m_even = _pattern(-pi * z_n, -tau * z_n, -dpi * z_n, zero, p, r, 1)
        n_args = (tau * dpsi, pi * dpsi, -dpsi * (pi + mu * dpi), n * (n + 1) * pi * z_n / rho)
        return VectorHarmonics(m_o1n=m_odd, m_e1n=m_even, n_o1n=_pattern(*n_args, p, r, 1),
                               n_e1n=_pattern(*n_args, p, r, 0))

    flat = positions.reshape(-1, 3)
    out = jax.vmap(one)(flat)
    return jax.tree.map(lambda v: v.reshape(*positions.shape[:-1], n_max, 3), out)
