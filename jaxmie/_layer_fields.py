r"""Scaled field amplitudes of layered spheres and the series at one point (private).

In layer l (relative index m_l, rho = m_l k r) the transverse-electric and transverse-magnetic
radial functions of order n are

.. math::
    U_n = c_n \psi_n(\rho) - b_n \zeta_n(\rho),\qquad V_n = d_n \psi_n(\rho) - a_n \zeta_n(\rho)

(Yang 2003; Bohren & Huffman 4.40-4.45 for one layer). The coefficients c, d, a, b of a
strongly absorbing layer span hundreds of decades, so the fields are never built from them.
Each layer's radial function is written instead as

.. math::
    F(\rho) = \alpha\,\frac{\psi_n(\rho)}{\psi_n(\rho_o)}
              + \beta\,\frac{\zeta_n(\rho)}{\zeta_n(\rho_i)},
    \qquad \rho_o = m_l x_l,\ \rho_i = m_l x_{l-1},

where both ratios have modulus of order one or less inside the layer (psi grows outwards,
zeta decays outwards, for absorbing and for high-order functions alike) and alpha, beta are
the values of the two partial waves at the boundary where each is largest: bounded by the
field itself. Two sweeps over the layers find them from the boundary conditions (tangential
E and H continuous: U/m, U' and V, V'/m continuous at every interface):

- outwards, the log-derivative h = F'/F at each outer surface (the H^b, H^a of Yang and
  Pena & Pal), with r = (L_i - D1(rho_i)) / (D3(rho_i) - L_i) the ratio beta/(alpha P_i)
  fixed by the log-derivative L_i that the layer below imposes;
- inwards, from the value at the particle surface, -i / (zeta_n(x) (m h^b - D3_n(x))) and
  -i / (zeta_n(x) (h^a/m - D3_n(x))) (the Wronskian psi zeta' - psi' zeta = i),
  alpha = F_o / (1 + Q r), beta = alpha P_i r and
  F_i = alpha P_i (1 + r), with Q = P_i Z_o the layer ratio of Yang.

No step divides by an exponentially small number, so every alpha, beta and field is finite
however thick and lossy the layers are.

References:
    W. Yang, Appl. Opt. 42, 1710 (2003).
    O. Pena and U. Pal, Comput. Phys. Commun. 180, 2348 (2009).
    C. F. Bohren and D. R. Huffman, Absorption and Scattering of Light by Small Particles
    (Wiley, 1983), sections 4.1-4.4.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from . import _special as special
from ._layered import _contrast


class LayerTables(NamedTuple):
    """Per-region data of one particle at one wavelength; region j = 0..L (L = outside).

    Mode axis (size 2): 0 = TE (U, coefficients c and b), 1 = TM (V, coefficients d and a).

    Attributes:
        alpha, beta: complex (L+1, 2, N): psi-wave value at the region's outer boundary and
            zeta-wave value at its inner boundary (alpha = 0 outside, beta = 0 in the core).
        m: complex (L+1,): relative index of each region (1 outside).
        x_out, x_in: real (L+1,): size parameters of the region's outer and inner boundary
            (placeholders where a region has none).
        u_out, r_out: exp(i rho_o) psi_1(rho_o) (L+1,) and psi_n/psi_{n-1} at rho_o
            (L+1, N-1).
        s1_in, s_in: zeta_1/zeta_0 at rho_i (L+1,) and zeta_n/zeta_{n-1} at rho_i
            (L+1, N-1).
        a, b: complex (N,): the external scattering coefficients.
        psi_out, inv_zeta_in: complex (L, N): psi_n(rho_o) and 1/zeta_n(rho_i) (the latter
            zero for the core), only for the unscaled coefficients.
    """

    alpha: jax.Array
    beta: jax.Array
    m: jax.Array
    x_out: jax.Array
    x_in: jax.Array
    u_out: jax.Array
    r_out: jax.Array
    s1_in: jax.Array
    s_in: jax.Array
    a: jax.Array
    b: jax.Array
    psi_out: jax.Array
    inv_zeta_in: jax.Array


def _pick(rb: special.RiccatiBessel, index) -> special.RiccatiBessel:
    return jax.tree.map(lambda v: v[index], rb)


def layer_tables(x: jax.Array, m: jax.Array, n_max: int) -> LayerTables:
    """Scaled amplitudes of every region of one layered sphere at one wavelength.

    Args:
        x: real (L,), size parameters k r_l of the layer surfaces, inner to outer, > 0.
        m: complex (L,), relative indices n_l / n_env, Im m >= 0.
        n_max: number of orders (static int >= 2).

    Returns:
        LayerTables (see its attributes for shapes).
    """
    n_layers = x.shape[-1]
    m = m.astype(jnp.result_type(m.dtype, jnp.complex64))
    xc = x.astype(m.dtype)
    z_o = m * xc
    z_i = m[1:] * xc[:-1]
    rb = jax.vmap(special.riccati_bessel, in_axes=(0, None))(
        jnp.concatenate([z_o, z_i, xc[-1:]]), n_max)
    rb_o, rb_i, host = (_pick(rb, slice(0, n_layers)), _pick(rb, slice(n_layers, -1)),
                        _pick(rb, -1))
    # D1 across each interface, exact in the contrast (see coefficients._contrast).
    m_next = jnp.concatenate([m[1:], jnp.ones_like(m[:1])])
    e, d1_in, _ = jax.vmap(special.log_derivative_difference, in_axes=(0, 0, None))(
        z_o, (m_next - m) * xc, n_max)
    s1_o, s1_i = special.zeta_ratio_1(z_o), special.zeta_ratio_1(z_i)
    cumprod = special.cumulative_product

    # Shell ratios P_i = psi(rho_i)/psi(rho_o) and Z_o = zeta(rho_o)/zeta(rho_i): the phase
    # factor exp(i m (x_l - x_{l-1})) has modulus <= 1 and carries the exponential.
    e_phase = jnp.exp(1j * m[1:] * (xc[1:] - xc[:-1]))[:, None]
    p_i = e_phase * (rb_i.psi_1_scaled / rb_o.psi_1_scaled[1:])[:, None] * cumprod(
        rb_i.psi_ratio / rb_o.psi_ratio[1:])
    z_o_ratio = e_phase * (s1_o[1:] / s1_i)[:, None] * cumprod(
        rb_o.zeta_ratio[1:] / rb_i.zeta_ratio)
    q = p_i * z_o_ratio
    # (m_h, m_d) of the log-derivative condition across interface l-1 -> l, per mode:
    # TE, m_in L_U = m_out L'_U; TM, L_V / m_in = L'_V / m_out.
    m_h = jnp.stack([m[:-1], m[1:]], axis=-1)[..., None]  # (L-1, 2, 1)
    m_d = jnp.stack([m[1:], m[:-1]], axis=-1)[..., None]

    def outward(carry, layer):
        h, delta = carry
        m_h, m_d, d1_below, e_below, d1_i, d3_i, d1_o, d3_o, q_l = layer
        # r = (L - D1_i) / (D3_i - L) with L = m_h h / m_d the log-derivative imposed from
        # below; its numerator G_1 / m_d vanishes for a matched interface.
        g1 = _contrast(h, delta, d1_below, d1_i, e_below, m_h, m_d)
        r = g1 / (m_d * d3_i - m_h * h)
        return ((d1_o + q_l * r * d3_o) / (1 + q_l * r),
                q_l * r * (d3_o - d1_o) / (1 + q_l * r)), r

    h_core = jnp.stack([rb_o.d1[0], rb_o.d1[0]])
    (h, delta), r = lax.scan(
        outward, (h_core, jnp.zeros_like(h_core)),
        (m_h, m_d, d1_in[:-1, None], e[:-1, None], rb_i.d1[:, None], rb_i.d3[:, None],
         rb_o.d1[1:, None], rb_o.d3[1:, None], q[:, None]))

    x_l, m_l = xc[-1], m[-1]
    psi_x = jnp.exp(-1j * x_l) * host.psi_1_scaled * cumprod(host.psi_ratio)
    # 1/zeta_n(x) = i exp(-ix) / (zeta_1/zeta_0) / prod(zeta_k/zeta_{k-1}): underflows, never
    # overflows, at high orders.
    inv_zeta_x = (1j * jnp.exp(-1j * x_l) / special.zeta_ratio_1(x_l)) * cumprod(
        1 / host.zeta_ratio)
    effective = jnp.stack([m_l * h[0], h[1] / m_l])  # m h^b, h^a / m
    one = jnp.ones_like(m_l)
    sides = (d1_in[-1], host.d1, e[-1])
    # effective - D1(x), exactly 0 when every interface is matched
    contrast = jnp.stack([_contrast(h[0], delta[0], *sides, m_l, one),
                          _contrast(h[1], delta[1], *sides, one, m_l) / m_l])
    denominator = effective - host.d3
    surface = -1j * inv_zeta_x / denominator  # U(x), V(x) just outside (Wronskian)
    scattered = psi_x * contrast / denominator  # b zeta_n(x), a zeta_n(x)

    # Inwards: value at the outer surface of each layer from inside (U/m and V continuous).
    down = jnp.stack([m[:-1] / m[1:], jnp.ones_like(m[1:])], axis=-1)[..., None]

    def inward(top, layer):
        r_l, q_l, p_l, factor = layer
        alpha = top / (1 + q_l * r_l)
        beta = alpha * p_l * r_l
        return factor * alpha * p_l * (1 + r_l), (alpha, beta)

    top = surface * jnp.stack([m_l, jnp.ones_like(m_l)])[:, None]
    core, (alpha_s, beta_s) = lax.scan(inward, top, (r, q[:, None], p_i[:, None], down),
                                       reverse=True)
    zeros = jnp.zeros_like(core)
    alpha = jnp.concatenate([core[None], alpha_s, zeros[None]])
    beta = jnp.concatenate([zeros[None], beta_s, -scattered[None]])

    # Region tables; placeholders (never used, see point_series) where a region has no
    # outer (outside) or inner (core) boundary.
    one = jnp.ones((1,), m.dtype)
    psi_out = jnp.exp(-1j * z_o)[:, None] * rb_o.psi_1_scaled[:, None] * cumprod(rb_o.psi_ratio)
    inv_zeta_in = jnp.concatenate([
        jnp.zeros((1, n_max), m.dtype),
        (1j * jnp.exp(-1j * z_i) / s1_i)[:, None] * cumprod(1 / rb_i.zeta_ratio)])
    return LayerTables(
        alpha=alpha, beta=beta,
        m=jnp.concatenate([m, one]),
        x_out=jnp.concatenate([x, x[-1:]]),
        x_in=jnp.concatenate([jnp.zeros_like(x[:1]), x]),
        u_out=jnp.concatenate([rb_o.psi_1_scaled, rb_o.psi_1_scaled[-1:]]),
        r_out=jnp.concatenate([rb_o.psi_ratio, rb_o.psi_ratio[-1:]]),
        s1_in=jnp.concatenate([s1_o[:1], s1_i, special.zeta_ratio_1(x_l)[None]]),
        s_in=jnp.concatenate([rb_o.zeta_ratio[:1], rb_i.zeta_ratio, host.zeta_ratio[None]]),
        a=scattered[1] * inv_zeta_x, b=scattered[0] * inv_zeta_x,
        psi_out=psi_out, inv_zeta_in=inv_zeta_in,
    )


# A point closer to the centre than this (in units of 1 / (k |m|)) is moved this far off it:
# the harmonics' angular factors are undefined at r = 0. The value changes by ~1e-8
# relative, and the gradient there stays finite (its rounding error is ~eps / 1e-8).
_ORIGIN_OFFSET = 1e-8
_OFFSET_DIRECTION = (0.48, 0.6, 0.64)  # a unit vector off every symmetry axis and plane


def off_centre(t: LayerTables, k: jax.Array, position: jax.Array) -> jax.Array:
    """The point (3,) relative to the centre, moved 1e-8 / (k max|m|) off it if closer.

    Args:
        t: LayerTables of the particle.
        k: real scalar host wavenumber (inverse length unit of position).
        position: real (3,).

    Returns:
        real (3,), nonzero, so that its direction is defined.
    """
    offset = _ORIGIN_OFFSET / (k * jnp.max(jnp.abs(t.m)))
    near_centre = jnp.sum(position**2) < (offset / 2) ** 2
    direction = jnp.asarray(_OFFSET_DIRECTION, position.dtype)
    return position + jnp.where(near_centre, offset, 0) * direction


def radial_functions(t: LayerTables, kr: jax.Array, n_max: int):
    """Radial functions (F, F') of both modes at one point, F = (U, V) of its region.

    Args:
        t: LayerTables of the particle.
        kr: real scalar k r > 0 (host wavenumber times distance from the centre).
        n_max: number of orders (static).

    Returns:
        (f, df, rho, m_j, outside): f, df complex (2, N): U, V and their rho-derivatives;
        rho = m_j kr; m_j the relative index at the point; outside a bool scalar, True
        outside the particle (where f is the scattered part alone).
    """
    n_regions = t.m.shape[0]
    region = jnp.sum(kr > t.x_out[:-1])  # 0 = core ... L = outside
    core, outside = region == 0, region == n_regions - 1
    m_j = t.m[region]
    rho = m_j * kr.astype(m_j.dtype)
    rb = special.riccati_bessel(rho, n_max)
    cumprod = special.cumulative_product
    one = jnp.ones((), m_j.dtype)
    # psi-wave ratio psi_n(rho)/psi_n(rho_o): 1 outside (where alpha = 0), with safe operands.
    phase_o = jnp.where(outside, 0, m_j * (t.x_out[region] - kr))
    p = (jnp.exp(1j * phase_o)
         * jnp.where(outside, one, rb.psi_1_scaled) / jnp.where(outside, one, t.u_out[region])
         * cumprod(jnp.where(outside, one, rb.psi_ratio)
                   / jnp.where(outside, one, t.r_out[region])))
    # zeta-wave ratio zeta_n(rho)/zeta_n(rho_i): 1 in the core (where beta = 0).
    phase_i = jnp.where(core, 0, m_j * (kr - t.x_in[region]))
    z = (jnp.exp(1j * phase_i)
         * jnp.where(core, one, special.zeta_ratio_1(rho)) / jnp.where(core, one, t.s1_in[region])
         * cumprod(jnp.where(core, one, rb.zeta_ratio) / jnp.where(core, one, t.s_in[region])))
    alpha, beta = t.alpha[region], t.beta[region]
    f = alpha * p + beta * z
    df = alpha * (rb.d1 * p) + beta * (rb.d3 * z)
    return f, df, rho, m_j, outside
