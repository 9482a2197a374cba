r"""Translation-addition coefficients of vector spherical waves, and the blocked coupling.

An outgoing wave about r_j, seen from r_i (d = r_i - r_j, |r - r_i| < |d|), is a sum of
regular waves about r_i (normalisation of jaxmie.cluster._waves):

.. math::
    \mathbf M_{lm}(\mathbf r - \mathbf r_j) = \sum_{LM} A_{LM,lm}(\mathbf d)\,
        \mathrm{Rg}\mathbf M_{LM}(\mathbf r - \mathbf r_i)
        + B_{LM,lm}(\mathbf d)\,\mathrm{Rg}\mathbf N_{LM}(\mathbf r - \mathbf r_i),

and N_lm likewise with A and B exchanged. Scheme: the direct Gaunt summation of Stein
(1961) and Cruzan (1962), in the form that follows from the angular spectrum
Rg M_lm(r) = (4 pi i^l)^{-1} \int e^{i k.r} X_lm(k^) d Omega_k and the plane-wave expansion
of e^{i k.d}:

.. math::
    A_{LM,lm} = 4\pi \sum_p i^{L-l+p}\, h_p(kd)\, Y_{p,m-M}(\hat{\mathbf d})\,
        \int \mathbf X^*_{LM}\cdot\mathbf X_{lm}\, Y^*_{p,m-M}\, d\Omega, \\
    B_{LM,lm} = -4\pi \sum_p i^{L+1-l+p}\, h_p(kd)\, Y_{p,m-M}(\hat{\mathbf d})\,
        \int (\hat{\mathbf r}\times\mathbf X_{LM})^*\cdot\mathbf X_{lm}\, Y^*_{p,m-M}\,
        d\Omega,

p = |L - l| .. L + l (0 <= p <= 2 lmax). The angular integrals are the coefficients; they
are polynomials in cos(theta) of degree <= 4 lmax after the azimuthal integral, so a
(2 lmax + 2)-point Gauss-Legendre rule gives them to rounding (NumPy, once per lmax; no
factorials, no 3j recursions). tests/test_cluster_multipoles.py checks them against treams'
tl_vsw_A, tl_vsw_B (Tsang, Kong & Shin's closed form) and the field identity itself.

The regular wave Rg M_lm about r_j is likewise a sum of regular waves about r_i, for every
r, with the same formulas and j_p in place of h_p (``regular=True``; the coefficients are
then those of a unitary operator, J(d)^dagger = J(-d), used by jaxmie.cluster._average).

Everything geometric in a pair is then the (2 lmax + 1)^2 numbers
U_pq(d) = h_p(kd) Y_pq(d^) (upward Hankel recurrence, smooth Cartesian harmonics; no
division by sin(theta), so pairs on the z axis have exact derivatives), and the coupling of
N spheres is a sum over pairs of U_pq times per-source coefficients, a dense matrix product.

Stability: for small kd the sum over p is dominated by its largest order (|h_p| grows like
(2p - 1)!! / (kd)^(p+1)) and for large kd every term is O(1/kd): the terms never cancel
beyond the size of the result, so each coefficient has ~1e-15 relative error at any
separation (checked against treams at kd = 0.3 .. 300 for lmax = 6). For lmax = 20 and
kd = 0.3 the largest h_p is ~1e80: float64 only.

Cost per pair and product (the GMRES matvec): 2 (2 lmax + 1)^2 lmax (lmax + 2) complex
multiply-adds in one matrix product per row block (3,900 at lmax = 4), against ~6,000 real
for rotation + axial translation, whose batched 9 x 9 products run far below the matrix
product's speed on a CPU. The helicity combinations A + B and A - B act on M + N and M - N
separately, halving the work of the parity basis.

References:
    O. R. Cruzan, Q. Appl. Math. 20, 33 (1962); S. Stein, Q. Appl. Math. 19, 15 (1961).
    L. Tsang, J. A. Kong and R. T. Shin, Theory of Microwave Remote Sensing (Wiley, 1985).
    Y.-l. Xu, J. Comput. Phys. 127, 285 (1996).
    J. D. Jackson, Classical Electrodynamics, 3rd ed. (Wiley, 1999), section 9.7.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._waves import (
    bessel_sequence,
    hankel_sequence,
    legendre_tables,
    mode_orders,
    n_modes,
    spherical_harmonics,
)

__all__ = [
    "coupling",
    "pair_coefficients",
    "source_terms",
    "translation_coefficients",
    "translation_matrices",
]


@functools.cache
def translation_coefficients(lmax: int) -> tuple[np.ndarray, np.ndarray]:
    """The Gaunt-type coefficients of A and B (module docstring), in NumPy.

    Returns:
        (c_a, c_b): complex128, each of shape (n_modes, n_modes, 2 lmax + 1), indexed
        [(L, M), (l, m), p]; A = sum_p c_a[.., p] U_{p, m - M} and B likewise.
    """
    x, weights = np.polynomial.legendre.leggauss(2 * lmax + 2)
    pbar, pi, tau = legendre_tables(x, 2 * lmax)
    ls, ms = mode_orders(lmax)
    pi_modes, tau_modes = pi[ls, ms + 2 * lmax], tau[ls, ms + 2 * lmax]  # (n_modes, K)
    norm = 1 / np.sqrt(ls * (ls + 1.0))
    q = ms[None, :] - ms[:, None]  # m - M, (n_modes, n_modes)
    even = (pi_modes[:, None] * pi_modes[None] + tau_modes[:, None] * tau_modes[None])
    odd = (tau_modes[:, None] * pi_modes[None] + pi_modes[:, None] * tau_modes[None])
    scale = (2 * np.pi * norm[:, None] * norm[None])[..., None] * weights
    even, odd = even * scale, odd * scale
    ia = np.stack([np.sum(even * pbar[p][q + 2 * lmax], -1) for p in range(2 * lmax + 1)], -1)
    ib = np.stack([np.sum(odd * pbar[p][q + 2 * lmax], -1) for p in range(2 * lmax + 1)], -1)
    p = np.arange(2 * lmax + 1)
    big, small = ls[:, None, None], ls[None, :, None]
    # Exact zeros (triangle rule and parity: A has L + l + p even, B odd) are set, not left
    # as quadrature rounding: they multiply h_p up to ~1e80, so 1e-16 there would be noise
    # far above the entries' own size.
    inside = (np.abs(big - small) <= p) & (p <= big + small)
    even_sum = (big + small + p) % 2 == 0
    ia = np.where(inside & even_sum, ia, 0.0)
    ib = np.where(inside & ~even_sum, ib, 0.0)
    phase = 1j ** ((big - small + p) % 4)
    # B's angular integral carries a factor i: -4 pi i^(L+1-l+p) (i ib) = 4 pi i^(L-l+p) ib
    return 4 * np.pi * phase * ia, 4 * np.pi * phase * ib


def pair_coefficients(displacement: jnp.ndarray, wavenumber, lmax: int,
                      mask: jnp.ndarray | None = None, regular: bool = False) -> jnp.ndarray:
    """U_pq(d) = h_p(kd) Y_pq(d^) (or j_p(kd) Y_pq(d^) if regular) for p = 0..2 lmax, |q| <= p.

    Args:
        displacement: real, shape (..., 3); d = r_target - r_source in nm.
        wavenumber: real host wavenumber k in 1/nm.
        lmax: highest multipole degree (static).
        mask: bool, broadcastable to displacement.shape[:-1]; False (and d = 0) entries
            are zero, with zero (not NaN) gradients.
        regular: spherical Bessel j_p instead of Hankel h_p (static).

    Returns:
        complex, shape (..., (2 lmax + 1)^2); (p, q) at index p^2 + p + q.
    """
    r2 = jnp.sum(displacement ** 2, -1)
    ok = r2 > 0 if mask is None else mask & (r2 > 0)
    safe = jnp.where(ok[..., None], displacement, jnp.ones_like(displacement))
    r = jnp.sqrt(jnp.sum(safe ** 2, -1))
    y = spherical_harmonics(safe / r[..., None], 2 * lmax)
    p = np.repeat(np.arange(2 * lmax + 1), 2 * np.arange(2 * lmax + 1) + 1)
    radial = bessel_sequence if regular else hankel_sequence
    u = radial(wavenumber * r, 2 * lmax)[..., p] * y
    return jnp.where(ok[..., None], u, 0)


@functools.cache
def _dense_tables(lmax: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """c_a, c_b of shape (n_modes, n_modes, 2 lmax + 1), zero where |m - M| > p, and the
    index p^2 + p + (m - M) of U_{p, m - M} for each entry (0 where the coefficient is 0).

    Compact: 2 n_modes^2 (2 lmax + 1) numbers (254 MB at lmax = 20), not the
    (2 lmax + 1)^2 n_modes^2 of a table over every (p, q) (10 GB at lmax = 20)."""
    c_a, c_b = translation_coefficients(lmax)
    _, ms = mode_orders(lmax)
    p = np.arange(2 * lmax + 1)
    q = (ms[None, :] - ms[:, None])[..., None]
    valid = np.abs(q) <= p
    index = np.where(valid, p * p + p + q, 0)
    return np.where(valid, c_a, 0), np.where(valid, c_b, 0), index


def translation_matrices(displacement: jnp.ndarray, wavenumber, lmax: int,
                         mask: jnp.ndarray | None = None, regular: bool = False
                         ) -> tuple[jnp.ndarray, jnp.ndarray]:
    """A and B of every pair (module docstring), for dense assembly and tests.

    Args:
        displacement: real, shape (..., 3); d = r_target - r_source, nm.
        wavenumber: host k, 1/nm.
        lmax: highest degree (static).
        mask: as in pair_coefficients.
        regular: the regular-to-regular coefficients (j_p; static).

    Returns:
        (A, B): complex, each of shape (..., n_modes, n_modes), indexed [(L, M), (l, m)].
    """
    u = pair_coefficients(displacement, wavenumber, lmax, mask, regular)
    c_a, c_b, index = _dense_tables(lmax)
    a = b = jnp.zeros((*u.shape[:-1], *index.shape[:2]), u.dtype)
    for p in range(2 * lmax + 1):  # one (..., n_modes, n_modes) gather of U per order p
        u_p = u[..., index[..., p]]
        a, b = a + c_a[..., p] * u_p, b + c_b[..., p] * u_p
    return a, b


@functools.cache
def _sparse_tables(lmax: int, transpose: bool) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and gather indices of the source terms (see source_terms).

    Forward: Z[P, (L, M)] = sum_l C[P, (L, M), l] y[(l, M + q)]; transposed:
    Z[P, (l, m)] = sum_L C[P, (l, m), L] y[(L, m - q)] with the factor (-1)^p of
    U(-d) = (-1)^p U(d). C has shape (2, P, n_modes, lmax) for the helicity combinations
    A + B and A - B; indices (P, n_modes, lmax) point into y with a zero slot at n_modes.
    """
    c_a, c_b = translation_coefficients(lmax)
    _, ms = mode_orders(lmax)
    nm = n_modes(lmax)
    size = (2 * lmax + 1) ** 2
    coef = np.zeros((2, size, nm, lmax), complex)
    index = np.full((size, nm, lmax), nm)
    for p in range(2 * lmax + 1):
        for q in range(-p, p + 1):
            row = p * p + p + q
            for a in range(nm):
                shift = -q if transpose else q
                m_other = ms[a] + shift
                for l in range(max(1, abs(m_other)), lmax + 1):
                    b = l * l + l + m_other - 1
                    pair = (b, a) if transpose else (a, b)
                    sign = (-1) ** p if transpose else 1
                    coef[0, row, a, l - 1] = sign * (c_a[pair + (p,)] + c_b[pair + (p,)])
                    coef[1, row, a, l - 1] = sign * (c_a[pair + (p,)] - c_b[pair + (p,)])
                    index[row, a, l - 1] = b
    return coef, index


def source_terms(y: jnp.ndarray, lmax: int, transpose: bool = False) -> jnp.ndarray:
    """Per-source coefficients Z of the helicity couplings, so that out_i = sum_j U_ij Z_j.

    Args:
        y: complex, shape (2, N, n_modes); outgoing coefficients in the helicity
            combinations (M + N, M - N) of each source (for transpose: the vectors that
            the transposed coupling acts on).
        lmax: highest degree (static).
        transpose: build the terms of the transposed coupling W^T.

    Returns:
        complex, shape (2, N, P, n_modes), P = (2 lmax + 1)^2.
    """
    coef, index = _sparse_tables(lmax, transpose)
    padded = jnp.concatenate([y, jnp.zeros_like(y[..., :1])], -1)
    z = jnp.asarray(coef[:, None, :, :, 0]) * padded[:, :, index[..., 0]]
    for l in range(1, lmax):
        z = z + coef[:, None, :, :, l] * padded[:, :, index[..., l]]
    return z


#: Pair coefficients (complex numbers) per row block of the coupling: ~64 MB of U, and a
#: matrix product large enough to run near the CPU's peak.
_BLOCK_ELEMENTS = 2 ** 22


def coupling(targets: jnp.ndarray, sources: jnp.ndarray, z: jnp.ndarray, wavenumber,
             lmax: int, exclude_self: bool = True) -> jnp.ndarray:
    """sum_j W_ij y_j at every target i, with the translations formed block by block.

    Args:
        targets: real, shape (Nt, 3), nm.
        sources: real, shape (N, 3), nm.
        z: source_terms of the sources, shape (2, N, P, n_modes).
        wavenumber: host k, 1/nm.
        lmax: highest degree (static).
        exclude_self: skip the pair i = j (targets are the sources).

    Returns:
        complex, shape (2, Nt, n_modes) in the helicity combinations.

    Rows go through lax.map in blocks of ~_BLOCK_ELEMENTS / (N P) targets; each block is
    checkpointed, so reverse mode stores the block's inputs and recomputes its pair
    coefficients instead of keeping N^2 of them.
    """
    n_s = sources.shape[0]
    size = z.shape[2]
    flat = z.reshape(2, n_s * size, -1)

    @functools.partial(jax.checkpoint, prevent_cse=False)  # prevent_cse: not needed in maps
    def row(args):
        target, i = args
        mask = jnp.arange(n_s) != i if exclude_self else None
        u = pair_coefficients(target - sources, wavenumber, lmax, mask)  # (N, P)
        return jnp.einsum("k,skn->sn", u.reshape(-1), flat)

    # lax.map vmaps `row` over each batch, so a batch is one (B, N P) x (N P, n) product.
    batch = max(1, min(targets.shape[0], _BLOCK_ELEMENTS // (n_s * size)))
    out = lax.map(row, (targets, jnp.arange(targets.shape[0])), batch_size=batch)
    return jnp.moveaxis(out, 0, 1)
