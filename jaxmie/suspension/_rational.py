r"""The rational-function approximation (RFA) of hard-sphere mixtures, consistent with the
Boublik-Mansoori-Carnahan-Starling-Leland (BMCSL) equation of state.

Yuste, Santos & Lopez de Haro (1998) write the Laplace transform of r g_ij(r),
:math:`G_{ij}(s) = \int_0^\infty e^{-sr} r\, g_{ij}(r)\,dr`, as

.. math::
    2\pi s^2 G_{ij}(s) = e^{-s\sigma_{ij}}\,[L(s)\,B(s)^{-1}]_{ij},\qquad
    L(s) = L^{(0)} + L^{(1)} s + L^{(2)} s^2,\qquad B(s) = (1 + \alpha s) I - A(s),

    A_{ij}(s) = \rho_i\big[\varphi_2(s\sigma_i)\sigma_i^3 L^{(0)}_{ij}
        + \varphi_1(s\sigma_i)\sigma_i^2 L^{(1)}_{ij}
        + \varphi_0(s\sigma_i)\sigma_i L^{(2)}_{ij}\big],
    \qquad \varphi_n(x) = x^{-n-1}\Big[\sum_{m=0}^n \frac{(-x)^m}{m!} - e^{-x}\Big].

With :math:`\alpha = 0` and :math:`L^{(2)} = 0` it is the exact Percus-Yevick solution (tested
against Baxter's factorisation in `_mixture`). The RFA keeps the form and adds what PY lacks:

* contact values: :math:`L^{(2)}_{ij} = 2\pi\alpha\,\sigma_{ij} g_{ij}(\sigma_{ij}^+)` with the
  contact values of Boublik, Grundke & Henderson and Lee & Levesque, whose virial route is the
  BMCSL equation of state,

  .. math::
      g_{ij}(\sigma_{ij}^+) = \frac{1}{1-\xi_3} + \frac{3}{2}\frac{\xi_2 z_{ij}}{(1-\xi_3)^2}
          + \frac{1}{2}\frac{(\xi_2 z_{ij})^2}{(1-\xi_3)^3},\qquad
      z_{ij} = \frac{\sigma_i\sigma_j}{\sigma_{ij}},\quad
      \xi_n = \frac{\pi}{6}\sum_k \rho_k\sigma_k^n;

* :math:`L^{(0)}, L^{(1)}` from the requirement that :math:`s^2 G_{ij}(s) = 1 + O(s^2)`
  (g -> 1 at large r, finite compressibility); the algebra (done here, not quoted) gives
  :math:`L^{(0)}_{ij} = a_j`, :math:`L^{(1)}_{ij} = b_j + \sigma_i a_j/2` with
  :math:`b_j = \pi(2\alpha + \sigma_j)/(1-\xi_3)` and
  :math:`a_j = [2\pi(1 - \sum_k\rho_k\sigma_k L^{(2)}_{kj}) + 6\xi_2 b_j]/(1-\xi_3)`;

* :math:`\alpha` from thermodynamic consistency: the compressibility route
  :math:`\sum_{ij}\sqrt{x_i x_j}\,[S(0)^{-1}]_{ij} = \partial(\beta p)/\partial\rho|_x` with the
  BMCSL pressure. The root is found by Newton's method from :math:`\alpha = 0` (the function
  is concave and decreasing there, so the iteration converges to the physical root) and
  differentiated implicitly (`jax.lax.custom_root`).

The partial structure factors follow from
:math:`S_{ij}(k) = \delta_{ij} + \sqrt{\rho_i\rho_j}\,\hat h_{ij}(k)`,
:math:`\hat h_{ij}(k) = (2/k^3)\,\mathrm{Im}\,[2\pi s^2 G_{ij}(s)]_{s = ik}`. That quotient loses
~3 log10(1/(k sigma)) digits, so below :math:`k\sigma_{max} = 0.02` the Taylor series of
:math:`2\pi s^2 G(s)` (its coefficients from the power series of B(s)^-1, exact) is used to
order k^4 instead.

References:
    S. B. Yuste, A. Santos and M. Lopez de Haro, J. Chem. Phys. 108, 3683 (1998).
    A. Santos, S. B. Yuste and M. Lopez de Haro, J. Chem. Phys. 153, 120901 (2020) (review).
    T. Boublik, J. Chem. Phys. 53, 471 (1970); G. A. Mansoori, N. F. Carnahan, K. E. Starling
    and T. W. Leland, J. Chem. Phys. 54, 1523 (1971).
    E. W. Grundke and D. Henderson, Mol. Phys. 24, 269 (1972); L. L. Lee and D. Levesque,
    Mol. Phys. 26, 1351 (1973).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .._linalg import small_solve

__all__ = ["bmcsl_pressure", "contact_values", "rfa_alpha", "rfa_coherent", "rfa_series"]

_TERMS = 30  # Taylor terms of phi_n for |x| < 2: the first one left out is below 1e-24
_SWITCH = 2.0
_PHI = {n: np.array([(-1.0) ** (n + j) / math.factorial(n + 1 + j) for j in range(_TERMS)])
        for n in (0, 1, 2)}
_ORDER = 7  # Taylor order of 2 pi s^2 G(s) used below _SMALL_K
_SMALL_K = 0.02  # k sigma_max below which S(k) comes from that series
_NEWTON = 8  # from alpha = 0 the iteration converges to 1e-15 in 5-6 steps


def _horner(coefficients, x):
    out = jnp.zeros_like(x) + coefficients[-1]
    for c in coefficients[-2::-1]:
        out = out * x + c
    return out


def _phis(x):
    """(phi_0, phi_1, phi_2)(x), any shape, real or complex."""
    small = jnp.abs(x) < _SWITCH
    x_small = jnp.where(small, x, 0.0)
    x_big = jnp.where(small, _SWITCH, x)  # double where: no 1/x in the unused branch
    p0 = -jnp.expm1(-x_big) / x_big
    p1 = (p0 - 1) / x_big
    p2 = (p1 + 0.5) / x_big
    return tuple(jnp.where(small, _horner(_PHI[n], x_small), p)
                 for n, p in zip((0, 1, 2), (p0, p1, p2)))


def _moments(diameters, density_i):
    """xi_n = pi/6 sum rho_k sigma_k^n for n = 0..3."""
    return [jnp.pi / 6 * jnp.sum(density_i * diameters**n) for n in range(4)]


def contact_values(diameters, density_i):
    """BMCSL-consistent contact values g_ij(sigma_ij+), shape (K, K).

    Args:
        diameters: hard-sphere diameters sigma_i, shape (K,).
        density_i: partial number densities rho_i, shape (K,).
    """
    xi = _moments(diameters, density_i)
    gap = 1 - xi[3]
    z = xi[2] * 2 * diameters[:, None] * diameters[None, :] / (diameters[:, None]
                                                               + diameters[None, :])
    return 1 / gap + 1.5 * z / gap**2 + 0.5 * z**2 / gap**3


def bmcsl_pressure(diameters, density_i):
    """beta p of the BMCSL equation of state (1/length^3), scalar."""
    xi = _moments(diameters, density_i)
    gap = 1 - xi[3]
    return 6 / jnp.pi * (xi[0] / gap + 3 * xi[1] * xi[2] / gap**2
                         + (3 - xi[3]) * xi[2] ** 3 / gap**3)


def _coefficients(diameters, density_i, alpha):
    """L^(0), L^(1), L^(2), each (K, K)."""
    xi = _moments(diameters, density_i)
    gap = 1 - xi[3]
    s_ij = (diameters[:, None] + diameters[None, :]) / 2
    l2 = 2 * jnp.pi * alpha * s_ij * contact_values(diameters, density_i)
    b = jnp.pi * (2 * alpha + diameters) / gap
    a = (2 * jnp.pi * (1 - (density_i * diameters) @ l2) + 6 * xi[2] * b) / gap
    return jnp.broadcast_to(a, l2.shape), b + diameters[:, None] * a / 2, l2


def _a_matrix(phi, diameters, density_i, ls):
    p0, p1, p2 = (p[..., :, None] for p in phi)
    d = diameters[:, None]
    return density_i[:, None] * (p2 * d**3 * ls[0] + p1 * d**2 * ls[1] + p0 * d * ls[2])


def rfa_series(diameters, density_i, alpha, order: int = _ORDER):
    """Taylor coefficients F_n (n = 0..order) of 2 pi s^2 G(s) about s = 0, (order+1, K, K).

    F_0 = 2 pi, F_1 = 0 (by construction) and S(0) = I - 2 sqrt(rho_i rho_j) F_3.
    """
    k = diameters.shape[0]
    ls = _coefficients(diameters, density_i, alpha)
    a = [_a_matrix(tuple(c[j] * diameters**j for c in (_PHI[0], _PHI[1], _PHI[2])),
                   diameters, density_i, ls) for j in range(order + 1)]
    b = [jnp.eye(k) - a[0], alpha * jnp.eye(k) - a[1]] + [-m for m in a[2:]]
    inverse = small_solve(b[0], jnp.eye(k))
    x = [inverse]
    for n in range(1, order + 1):
        x.append(-inverse @ sum(b[m] @ x[n - m] for m in range(1, n + 1)))
    lx = [sum(ls[m] @ x[n - m] for m in range(min(n, 2) + 1)) for n in range(order + 1)]
    s_ij = (diameters[:, None] + diameters[None, :]) / 2
    e = [(-s_ij) ** n / math.factorial(n) for n in range(order + 1)]
    return jnp.stack([sum(lx[m] * e[n - m] for m in range(n + 1)) for n in range(order + 1)])


def _density_times_inverse_compressibility(diameters, density_i, alpha):
    """rho sum_ij sqrt(x_i x_j) [S(0)^-1]_ij of the RFA with this alpha (0 at rho = 0)."""
    f3 = rfa_series(diameters, density_i, alpha, order=3)[3]
    root = jnp.sqrt(density_i)
    s0 = jnp.eye(diameters.shape[0]) - 2 * root[:, None] * root[None, :] * f3
    return root @ small_solve(s0, root)


def _safe_divide(y, x):
    """y / x, and 0 where x = 0 (at zero density alpha does not enter S, to first order
    in the density either: the RFA is then exact for any alpha)."""
    nonzero = x != 0
    return jnp.where(nonzero, y / jnp.where(nonzero, x, 1.0), 0.0)


def rfa_alpha(diameters, density_i):
    """The RFA's alpha (a length) that makes its compressibility that of BMCSL, scalar.

    Both sides of the condition are multiplied by the density, so that it is regular (and
    trivially met) at zero density.
    """
    target = jax.jvp(lambda t: bmcsl_pressure(diameters, t * density_i), (1.0,), (1.0,))[1]

    def mismatch(alpha):
        return _density_times_inverse_compressibility(diameters, density_i, alpha) - target

    def newton(f, alpha0):
        def step(alpha, _):
            value, slope = jax.jvp(f, (alpha,), (jnp.ones_like(alpha),))
            return alpha - _safe_divide(value, slope), None

        return jax.lax.scan(step, alpha0, None, length=_NEWTON)[0]

    start = jnp.zeros((), jnp.result_type(diameters))
    return jax.lax.custom_root(mismatch, start, newton,
                               lambda g, y: _safe_divide(y, g(jnp.ones_like(y))))


def rfa_coherent(q, diameters, density_i, amplitudes_, alpha=None):
    """sum_ij f_i^* S_ij(q) f_j for the (real, symmetric) RFA structure factors.

    Args:
        q: scattering vectors, shape (Q,). diameters, density_i: (K,).
        amplitudes_: f, shape (C, Q, K), real or complex (summed over C).
        alpha: None for the BMCSL-consistent `rfa_alpha`; 0 gives Percus-Yevick.

    Returns:
        shape (Q,).
    """
    if alpha is None:
        alpha = rfa_alpha(diameters, density_i)
    ls = _coefficients(diameters, density_i, alpha)
    f = amplitudes_
    if jnp.iscomplexobj(f):
        f = jnp.concatenate([f.real, f.imag])
    root = jnp.sqrt(density_i)
    small = q * jnp.max(diameters) < _SMALL_K
    k = jnp.where(small, 1.0 / jnp.max(diameters), q)  # double where: no 1/k^3 at k = 0

    def direct(kk, fk):  # fk (C, K)
        s = 1j * kk
        phase = jnp.exp(-s * diameters / 2)
        b = (1 + alpha * s) * jnp.eye(diameters.shape[0]) - _a_matrix(
            _phis(s * diameters), diameters, density_i, ls)
        lmat = ls[0] + ls[1] * s + ls[2] * s**2
        v = (phase * root * fk).T  # (K, C)
        y = small_solve(b, v)
        return jnp.sum(fk**2) + 2 / kk**3 * jnp.sum(jnp.imag((lmat.T @ v) * y))

    series = rfa_series(diameters, density_i, alpha)
    weight = -2 * root[:, None] * root[None, :]
    h_terms = [weight * series[n] * (-1) ** ((n - 3) // 2) for n in range(3, _ORDER + 1, 2)]

    def taylor(kk, fk):
        s = jnp.eye(diameters.shape[0]) + sum(h * kk ** (2 * j) for j, h in enumerate(h_terms))
        return jnp.sum((fk @ s) * fk)

    fq = jnp.moveaxis(f, 1, 0)  # (Q, C, K)
    far = jax.vmap(direct)(k, fq)
    near = jax.vmap(taylor)(jnp.where(small, q, 0.0), fq)
    return jnp.where(small, near, far)
