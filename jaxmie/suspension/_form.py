r"""Scattering vector and the Rayleigh-Gans-Debye sphere amplitude.

.. math:: q = \frac{4\pi n_{env}}{\lambda}\sin\frac{\theta}{2}\quad(\mathrm{nm}^{-1}),\qquad
    f(qR) = \frac{3(\sin qR - qR\cos qR)}{(qR)^3},\qquad P(q) = f(qR)^2

The f_i below are the three kernels of the Percus-Yevick structure factor as well (f_1 is
f / 3); they cancel catastrophically for small argument and are evaluated from their Taylor
series below A = 3, both branches selected with the "double where" so that values and
gradients are finite at q = 0.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

__all__ = ["scattering_vector", "sphere_form_amplitude", "sphere_form_factor"]


def scattering_vector(theta, wavelength, n_env=1.0):
    """q = 4 pi n_env sin(theta / 2) / wavelength in 1/nm.

    Args:
        theta: scattering angles in radians, shape T. wavelength: vacuum wavelength in nm
            (broadcasts with theta). n_env: real host index.
    """
    return 4 * jnp.pi * n_env * jnp.sin(jnp.asarray(theta) / 2) / jnp.asarray(wavelength)


def _series(coefficients: list[float], x2):
    """sum_j c_j x2^j by Horner's rule."""
    out = jnp.zeros_like(x2) + coefficients[-1]
    for c in coefficients[-2::-1]:
        out = out * x2 + c
    return out


_TERMS = 24  # enough for |A| < 3 to round-off: the next term is below 1e-20
# f1 = sum_j (-1)^j 2 (j + 1) A^(2j) / (2j + 3)!
_F1 = [(-1) ** j * 2 * (j + 1) / math.factorial(2 * j + 3) for j in range(_TERMS)]
# f2 = sum_{m>=2} (-1)^m 2 (2m - 1)(m - 1) A^(2m - 4) / (2m)!
_F2 = [(-1) ** m * 2 * (2 * m - 1) * (m - 1) / math.factorial(2 * m)
       for m in range(2, _TERMS + 2)]


def _f3_coefficient(m: int) -> float:
    """Coefficient of A^(2m - 6) in f3, from the series of cos and sin term by term."""
    n = 2 * m
    c = (-n * (n - 1) * (n - 2) * (n - 3) - 12 * n * (n - 1) - 24 + 4 * n * (n - 1) * (n - 2)
         + 24 * n)
    return (-1) ** m * c / math.factorial(n)


_F3 = [_f3_coefficient(m) for m in range(3, _TERMS + 3)]
_SWITCH = 3.0


def _closed(a):
    s, c = jnp.sin(a), jnp.cos(a)
    a2 = a * a
    f1 = (s - a * c) / (a2 * a)
    f2 = (2 * a * s + (2 - a2) * c - 2) / (a2 * a2)
    f3 = (-a2 * a2 * c + 4 * ((3 * a2 - 6) * c + (a2 * a - 6 * a) * s + 6)) / (a2 * a2 * a2)
    return f1, f2, f3


def _f_functions(a):
    """(f1, f2, f3)(A), accurate and differentiable for every real A >= 0."""
    small = jnp.abs(a) < _SWITCH
    a_big = jnp.where(small, _SWITCH, a)  # double where: no 0/0 in the unused branch
    a2_small = jnp.where(small, a, 0) ** 2
    series = (_series(_F1, a2_small), _series(_F2, a2_small), _series(_F3, a2_small))
    return tuple(jnp.where(small, s, d) for s, d in zip(series, _closed(a_big)))


def sphere_form_amplitude(qr):
    """RGD amplitude f(qR) = 3 (sin qR - qR cos qR)/(qR)^3, f(0) = 1; any shape, real."""
    return 3 * _f_functions(jnp.asarray(qr))[0]


def sphere_form_factor(q, radius):
    """P(q) = f(qR)^2 of a homogeneous sphere (q in 1/nm, radius in nm; broadcast)."""
    return sphere_form_amplitude(jnp.asarray(q) * jnp.asarray(radius)) ** 2
