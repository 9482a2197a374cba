r"""Percus-Yevick structure factor of monodisperse hard spheres.

Wertheim (1963), Thiele (1963), in the form of Kinning & Thomas (1984), A = q sigma:

.. math::
    S(q) = \frac{1}{1 + 24\eta\,G(A)/A},\qquad
    \frac{G(A)}{A} = \alpha f_1(A) + \beta f_2(A) + \gamma f_3(A),

    \alpha = \frac{(1+2\eta)^2}{(1-\eta)^4},\ \beta = -6\eta\frac{(1+\eta/2)^2}{(1-\eta)^4},\
    \gamma = \frac{\eta\alpha}{2},\quad
    f_1 = \frac{\sin A - A\cos A}{A^3},\
    f_2 = \frac{2A\sin A + (2 - A^2)\cos A - 2}{A^4},

    f_3 = \frac{-A^4\cos A + 4[(3A^2 - 6)\cos A + (A^3 - 6A)\sin A + 6]}{A^6}

so that S(0) = (1 - eta)^4 / (1 + 2 eta)^2 (the f_i are in `_form`).

References:
    M. S. Wertheim, Phys. Rev. Lett. 10, 321 (1963); E. Thiele, J. Chem. Phys. 39, 474 (1963).
    D. J. Kinning and E. L. Thomas, Macromolecules 17, 1712 (1984).
"""

from __future__ import annotations

import jax.numpy as jnp

from ._form import _f_functions

__all__ = ["percus_yevick"]


def percus_yevick(q, diameter, eta):
    """Percus-Yevick hard-sphere structure factor S(q).

    Args:
        q: scattering vector in 1/nm, any shape. diameter: hard-sphere diameter in nm.
        eta: volume fraction, 0 <= eta < 1 (PY is meant for eta below ~0.5).

    Returns:
        S(q), shape of q broadcast with the parameters. S(0) = (1 - eta)^4/(1 + 2 eta)^2,
        finite with finite gradients at q = 0 and eta = 0.
    """
    eta = jnp.asarray(eta)
    one_minus4 = (1 - eta) ** 4
    alpha = (1 + 2 * eta) ** 2 / one_minus4
    beta = -6 * eta * (1 + eta / 2) ** 2 / one_minus4
    gamma = eta * alpha / 2
    f1, f2, f3 = _f_functions(jnp.asarray(q) * diameter)
    return 1 / (1 + 24 * eta * (alpha * f1 + beta * f2 + gamma * f3))
