r"""Vector spherical wave functions of every order: indexing, harmonics, radial functions.

Normalisation (Jackson, Classical Electrodynamics, section 9.7; the one treams uses up to a
constant phase per mode, which cancels in T-matrices and translations). With orthonormal
scalar harmonics Y_lm (Condon-Shortley phase) and L = -i r x grad,

.. math::
    \mathbf X_{lm} = \frac{\mathbf L Y_{lm}}{\sqrt{l(l+1)}},\qquad
    \mathbf M_{lm} = z_l(kr)\,\mathbf X_{lm},\qquad
    \mathbf N_{lm} = \frac{\nabla\times\mathbf M_{lm}}{k}
        = i\sqrt{l(l+1)}\,\frac{z_l(\rho)}{\rho}\,Y_{lm}\,\hat{\mathbf r}
          + \frac{(\rho z_l)'}{\rho}\,\hat{\mathbf r}\times\mathbf X_{lm},

with rho = k r and z_l = j_l (regular, "Rg") or h_l^(1) (outgoing). A plane wave
E = e exp(i k.r) (|e| = 1, e . k = 0) is

.. math::
    \mathbf e\,e^{i\mathbf k\cdot\mathbf r} = \sum_{lm} 4\pi i^l \big[
        (\mathbf X^*_{lm}(\hat{\mathbf k})\cdot\mathbf e)\,\mathrm{Rg}\mathbf M_{lm}
        + i\,(\mathbf X^*_{lm}(\hat{\mathbf k})\cdot(\hat{\mathbf k}\times\mathbf e))\,
        \mathrm{Rg}\mathbf N_{lm}\big]

(Jackson 10.55 for circular polarisation along z), and an outgoing wave at large r is
M_lm -> (-i)^(l+1) X_lm exp(ikr) / (kr), N_lm -> (-i)^l r^ x X_lm exp(ikr) / (kr). A sphere
with Bohren & Huffman coefficients a_l, b_l scatters the outgoing coefficients
(-b_l, -a_l) times the incident (M, N) coefficients.

Modes are stored compactly: l = 1..lmax, m = -l..l, at index l^2 + l + m - 1 (n_modes =
lmax (lmax + 2)); the two polarisations (M: TE, magnetic; N: TM, electric) on a leading
axis of length 2. Scalar harmonics include l = 0, at index l^2 + l + m.

Every angular function here is written in Cartesian components of the unit vector, without
dividing by sin(theta): Y_lm = Qbar_l^|m|(z) (x + iy)^|m| for m >= 0 (Y_l,-m = (-1)^m Y_lm^*),
and X_lm from the ladder operators L_x = (L_+ + L_-)/2, L_y = (L_+ - L_-)/(2i), L_z. Values
and derivatives are therefore exact on the z axis, where spherical components are undefined.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from .._special import riccati_bessel

__all__ = [
    "angular_parts",
    "bessel_sequence",
    "far_field_modes",
    "hankel_sequence",
    "mode_orders",
    "n_modes",
    "outgoing_waves",
    "plane_wave_coefficients",
    "spherical_harmonics",
    "vector_harmonics",
]


def n_modes(lmax: int) -> int:
    """Number of (l, m) pairs with 1 <= l <= lmax."""
    return lmax * (lmax + 2)


@functools.cache
def mode_orders(lmax: int) -> tuple[np.ndarray, np.ndarray]:
    """Degrees l and orders m of the compact mode index; two int arrays of shape (n_modes,)."""
    ls = np.concatenate([np.full(2 * l + 1, l) for l in range(1, lmax + 1)])
    ms = np.concatenate([np.arange(-l, l + 1) for l in range(1, lmax + 1)])
    return ls, ms


@functools.cache
def _legendre_recurrence(lmax: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Coefficients of Qbar_l^m = c0 + c1 z Qbar_{l-1}^m + c2 Qbar_{l-2}^m, each (lmax+1, lmax+1).

    Qbar_l^m(cos theta) sin^m(theta) = Pbar_l^m, the orthonormal associated Legendre function
    with Condon-Shortley phase (Y_lm = Pbar_l^m e^{i m phi}); rows l, columns m >= 0, zero
    for m > l. The recurrence in l at fixed m is the standard stable one:
    Qbar_m^m = (-1)^m sqrt((2m+1)/(4 pi) prod_{i<=m} (2i-1)/(2i)),
    Qbar_{m+1}^m = sqrt(2m+3) z Qbar_m^m,
    Qbar_l^m = a (z Qbar_{l-1}^m - b Qbar_{l-2}^m), a = sqrt((4l^2-1)/(l^2-m^2)),
    b = sqrt(((l-1)^2-m^2)/(4(l-1)^2-1)).
    """
    c0, c1, c2 = (np.zeros((lmax + 1, lmax + 1)) for _ in range(3))
    for m in range(lmax + 1):
        c0[m, m] = (-1) ** m * math.sqrt((2 * m + 1) / (4 * math.pi)
                                         * math.prod((2 * i - 1) / (2 * i)
                                                     for i in range(1, m + 1)))
        if m + 1 <= lmax:
            c1[m + 1, m] = math.sqrt(2 * m + 3)
        for l in range(m + 2, lmax + 1):
            a = math.sqrt((4 * l * l - 1) / (l * l - m * m))
            b = math.sqrt(((l - 1) ** 2 - m * m) / (4 * (l - 1) ** 2 - 1))
            c1[l, m], c2[l, m] = a, -a * b
    return c0, c1, c2


def legendre_tables(x: np.ndarray, lmax: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Pbar_l^m, pi_lm = m Pbar_l^m / sin(theta) and tau_lm = d Pbar_l^m / d theta in NumPy.

    Args:
        x: cos(theta), shape (K,), strictly inside (-1, 1).
        lmax: highest degree.

    Returns:
        (pbar, pi, tau), each float64 of shape (lmax+1, 2 lmax+1, K): degree l, order m at
        column m + lmax (zero for |m| > l). Evaluated without dividing by sin(theta), from
        the reduced functions and their derivatives in x.
    """
    c0, c1, c2 = _legendre_recurrence(lmax)
    s = np.sqrt(1 - x * x)
    q = np.zeros((lmax + 1, lmax + 1, x.size))
    dq = np.zeros_like(q)
    for l in range(lmax + 1):
        q[l] = c0[l][:, None] + c1[l][:, None] * x * (q[l - 1] if l else 0)
        dq[l] = c1[l][:, None] * ((q[l - 1] + x * dq[l - 1]) if l else 0)
        if l >= 2:
            q[l] += c2[l][:, None] * q[l - 2]
            dq[l] += c2[l][:, None] * dq[l - 2]
    m = np.arange(lmax + 1)[:, None]
    s_m1 = s ** np.maximum(m - 1, 0)  # sin^(m-1), unused for m = 0
    pbar = q * s_m1 * np.where(m > 0, s, 1.0)
    pi = m * s_m1 * q
    tau = np.where(m > 0, m * s_m1 * x * q, 0.0) - s_m1 * np.where(m > 0, s * s, s) * dq
    sign = (-1.0) ** m  # Pbar_l^{-m} = (-1)^m Pbar_l^m; pi changes sign once more
    full = []
    for table, neg in ((pbar, sign), (pi, -sign), (tau, sign)):
        out = np.zeros((lmax + 1, 2 * lmax + 1, x.size))
        out[:, lmax:] = table
        out[:, :lmax] = (neg * table)[:, 1:][:, ::-1]
        full.append(out)
    return full[0], full[1], full[2]


@functools.cache
def _harmonic_gather(lmax: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Static indices from the (l, |m|) table to the compact l = 0..lmax index, with signs."""
    index, conj, sign = [], [], []
    for l in range(lmax + 1):
        for m in range(-l, l + 1):
            index.append(l * (lmax + 1) + abs(m))
            conj.append(m < 0)
            sign.append((-1.0) ** m if m < 0 else 1.0)
    return np.array(index), np.array(conj), np.array(sign)


def spherical_harmonics(unit: jnp.ndarray, lmax: int) -> jnp.ndarray:
    """Orthonormal Y_lm (Condon-Shortley) at unit vectors, l = 0..lmax.

    Args:
        unit: real unit vectors, shape (..., 3).
        lmax: highest degree (static).

    Returns:
        complex, shape (..., (lmax+1)^2); Y_lm at index l^2 + l + m.
    """
    c0, c1, c2 = _legendre_recurrence(lmax)
    z = unit[..., 2]
    dtype = jnp.result_type(unit.dtype, jnp.complex64)
    real = z.dtype
    w = (unit[..., 0] + 1j * unit[..., 1]).astype(dtype)
    rows: list[jax.Array] = []
    prev = prev2 = jnp.zeros((*z.shape, lmax + 1), real)  # q_{-1} = q_{-2} = 0
    for l in range(lmax + 1):
        row = jnp.broadcast_to(jnp.asarray(c0[l], real), (*z.shape, lmax + 1))
        if l >= 1:
            row = row + jnp.asarray(c1[l], real) * z[..., None] * prev
        if l >= 2:
            row = row + jnp.asarray(c2[l], real) * prev2
        rows.append(row)
        prev, prev2 = row, prev
    q = jnp.stack(rows, -2)  # (..., l, m >= 0)
    powers = [jnp.ones_like(w)]
    for _ in range(lmax):
        powers.append(powers[-1] * w)
    y = (q * jnp.stack(powers, -1)[..., None, :]).reshape(*z.shape, -1)
    index, conj, sign = _harmonic_gather(lmax)
    picked = y[..., index]
    return jnp.where(conj, sign * jnp.conj(picked), picked)


@functools.cache
def _ladder(lmax: int):
    """Gather indices and coefficients of L_+ Y_lm, L_- Y_lm and L_z Y_lm for compact modes.

    Indices point into the l = 0..lmax harmonics with one extra zero slot at the end."""
    ls, ms = mode_orders(lmax)
    dummy = (lmax + 1) ** 2
    own = ls * ls + ls + ms
    up = np.where(ms < ls, own + 1, dummy)
    down = np.where(ms > -ls, own - 1, dummy)
    c_up = np.sqrt((ls - ms) * (ls + ms + 1.0))
    c_down = np.sqrt((ls + ms) * (ls - ms + 1.0))
    norm = 1 / np.sqrt(ls * (ls + 1.0))
    return own, up, down, c_up * norm, c_down * norm, ms * norm


def vector_harmonics(y: jnp.ndarray, lmax: int) -> jnp.ndarray:
    """Cartesian X_lm = L Y_lm / sqrt(l(l+1)) from the scalar harmonics.

    Args:
        y: spherical_harmonics(unit, lmax), shape (..., (lmax+1)^2).
        lmax: highest degree (static).

    Returns:
        complex, shape (..., n_modes, 3).
    """
    own, up, down, c_up, c_down, c_z = _ladder(lmax)
    padded = jnp.concatenate([y, jnp.zeros_like(y[..., :1])], -1)
    plus = padded[..., up] * c_up
    minus = padded[..., down] * c_down
    return jnp.stack([(plus + minus) / 2, (plus - minus) / 2j, padded[..., own] * c_z], -1)


def hankel_sequence(x: jnp.ndarray, order: int) -> jnp.ndarray:
    r"""Spherical Hankel functions h_0^(1)(x) .. h_order^(1)(x) of real x > 0.

    Upward recurrence h_{p+1} = (2p+1)/x h_p - h_{p-1} from h_0 = -i e^{ix}/x and
    h_1 = -(x + i) e^{ix}/x^2. The recurrence is stable for the dominant y_p, and |h_p| keeps
    full relative accuracy at every order (the j_p part of a high order at small x, which
    the recurrence does not resolve, is below rounding of |h_p| there).

    Returns:
        complex, shape (*x.shape, order + 1).
    """
    dtype = jnp.result_type(x.dtype, jnp.complex64)
    e = jnp.exp(1j * x.astype(dtype)) / x
    inv = 1 / x
    out = [-1j * e, -(1 + 1j * inv) * e]
    for p in range(1, order):
        out.append((2 * p + 1) * inv * out[-1] - out[-2])
    return jnp.stack(out[: order + 1], -1)


def bessel_sequence(x: jnp.ndarray, order: int) -> jnp.ndarray:
    r"""Spherical Bessel functions j_0(x) .. j_order(x) of real x > 0 (order >= 1).

    j_0 = sin(x) / x; the higher orders are psi_1(x) / x times the ratios
    psi_p / psi_{p-1} of jaxmie._special.riccati_bessel (downward recurrence started above
    max(order, x), so j_p keeps full relative accuracy where it is tiny, p >> x, unlike the
    upward recurrence of the real part of h_p; derivatives from its closed-form rule).

    Returns:
        complex (real values), shape (*x.shape, order + 1).
    """
    dtype = jnp.result_type(x.dtype, jnp.complex64)
    z = x.astype(dtype).reshape(-1)
    rb = jax.vmap(riccati_bessel, (0, None))(z, order)
    psi_1 = jnp.real(jnp.exp(-1j * z) * rb.psi_1_scaled)
    psi = psi_1[:, None] * jnp.cumprod(jnp.concatenate(
        [jnp.ones((z.shape[0], 1), dtype), rb.psi_ratio], -1), -1)
    j = jnp.concatenate([jnp.sin(z)[:, None], psi.astype(dtype)], -1) / z[:, None]
    return jnp.real(j).astype(dtype).reshape(*x.shape, order + 1)


def plane_wave_coefficients(direction: jnp.ndarray, polarization: jnp.ndarray, lmax: int
                            ) -> jnp.ndarray:
    """Regular-wave coefficients (p_lm, q_lm) of e exp(i k.r) about the origin.

    Args:
        direction: real unit vector k^, shape (3,).
        polarization: complex unit vector e, shape (3,), orthogonal to direction.
        lmax: highest degree (static).

    Returns:
        complex, shape (2, n_modes): 4 pi i^l X*_lm . e and 4 pi i^(l+1) X*_lm . (k^ x e).
    """
    x = jnp.conj(vector_harmonics(spherical_harmonics(direction, lmax), lmax))
    ls, _ = mode_orders(lmax)
    i_l = 4 * np.pi * (1j ** ls)
    h = jnp.cross(direction.astype(polarization.dtype), polarization)
    return jnp.stack([i_l * (x @ polarization), 1j * i_l * (x @ h)])


def far_field_modes(unit: jnp.ndarray, lmax: int) -> jnp.ndarray:
    """Far-field patterns of outgoing M_lm, N_lm: E -> pattern exp(ikr) / (kr).

    Args:
        unit: real unit vectors n, shape (..., 3).
        lmax: highest degree (static).

    Returns:
        complex, shape (..., 2, n_modes, 3): (-i)^(l+1) X_lm(n) and (-i)^l n x X_lm(n).
    """
    x = vector_harmonics(spherical_harmonics(unit, lmax), lmax)
    ls, _ = mode_orders(lmax)
    phase = (-1j) ** ls
    n_x = jnp.cross(jnp.broadcast_to(unit[..., None, :], x.shape).astype(x.dtype), x)
    return jnp.stack([(-1j * phase)[:, None] * x, phase[:, None] * n_x], -3)


def angular_parts(unit: jnp.ndarray, lmax: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The angular vectors of M_lm and N_lm (module docstring) at unit vectors r^.

    With a radial function F = rho z_l(rho), M_lm = (F / rho) X_lm and
    N_lm = (F / rho^2) R_lm + (F' / rho) T_lm.

    Args:
        unit: real unit vectors, shape (..., 3).
        lmax: highest degree (static).

    Returns:
        (X_lm, R_lm = i sqrt(l(l+1)) Y_lm r^, T_lm = r^ x X_lm): complex, each of shape
        (..., n_modes, 3).
    """
    y = spherical_harmonics(unit, lmax)
    x = vector_harmonics(y, lmax)
    ls, ms = mode_orders(lmax)
    unit_c = jnp.broadcast_to(unit[..., None, :], x.shape).astype(x.dtype)
    radial = (y[..., ls * ls + ls + ms] * (1j * np.sqrt(ls * (ls + 1.0))))[..., None] * unit_c
    return x, radial, jnp.cross(unit_c, x)


def outgoing_waves(displacement: jnp.ndarray, wavenumber, lmax: int) -> jnp.ndarray:
    """Outgoing M_lm, N_lm (kind 3) at points r (relative to the expansion centre), r > 0.

    Args:
        displacement: real, shape (..., 3), nm; nonzero.
        wavenumber: real host wavenumber k, 1/nm.
        lmax: highest degree (static).

    Returns:
        complex, shape (..., 2, n_modes, 3).
    """
    r = jnp.sqrt(jnp.sum(displacement ** 2, -1))
    rho = wavenumber * r
    x, radial, n_x = angular_parts(displacement / r[..., None], lmax)
    ls, _ = mode_orders(lmax)
    h = hankel_sequence(rho, lmax)
    h_l, h_lm1 = h[..., ls], h[..., ls - 1]
    inv = (1 / rho)[..., None]
    tangential = h_lm1 - ls * h_l * inv  # (rho h_l)' / rho
    m_wave = h_l[..., None] * x
    n_wave = (h_l * inv)[..., None] * radial + tangential[..., None] * n_x
    return jnp.stack([m_wave, n_wave], -3)
