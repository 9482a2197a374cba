r"""The effective hard-sphere diameter of a steep repulsive pair potential (Barker-Henderson).

Soft spheres (WCA, a cut Lennard-Jones core, a steric shell) scatter like hard spheres of a
temperature-dependent diameter. Barker & Henderson (1967) give it to first order in the
softness:

.. math::
    d_{BH} = \int_0^{s} \big(1 - e^{-\beta u(r)}\big)\,dr,

for a potential u(r) that is repulsive below its cutoff s and zero beyond. When
:math:`\beta u` depends on r / s only (the usual mixing, s_ij = (s_i + s_j)/2, and one energy
scale), d_BH / s is one number for every pair of a mixture, the `hard_core` of `mixture`:

.. math::
    \frac{d_{BH}}{s} = \int_0^1 \big(1 - e^{-\beta u(x)}\big)\,dx
        = 1 - \int_0^1 e^{-\beta u(x)}\,dx.

The integrand of the last form lives in a layer of width ~1 / |beta u'(1)| below x = 1 (4e-4 of
s for a Lennard-Jones core with beta epsilon = 100), so it is integrated on panels that shrink
geometrically towards x = 1, with 16 Gauss-Legendre nodes in each: to ~1e-12 for softness
from beta epsilon ~ 1 (WCA) to layers of 1e-9 of s.

References:
    J. A. Barker and D. Henderson, J. Chem. Phys. 47, 4714 (1967).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["barker_henderson_diameter"]

# panel edges: 0, 0.5, 0.7, 0.8, then x = 1 - 10^-k for k = 1..9, and 1
_EDGES = np.concatenate([[0.0, 0.5, 0.7, 0.8], 1 - 10.0 ** -np.arange(1, 10), [1.0]])
_ORDER = 16


def _rule() -> tuple[np.ndarray, np.ndarray]:
    edges = _EDGES
    t, w = np.polynomial.legendre.leggauss(_ORDER)
    lo, hi = edges[:-1, None], edges[1:, None]
    return ((lo + hi) / 2 + (hi - lo) / 2 * t).ravel(), ((hi - lo) / 2 * w).ravel()


_NODES, _WEIGHTS = _rule()


def barker_henderson_diameter(beta_potential: Callable[[jax.Array], jax.Array]) -> jax.Array:
    """d_BH / s of a repulsive pair potential that is zero beyond its cutoff s.

    Args:
        beta_potential: u(r) / kT as a function of x = r / s, for 0 < x <= 1 (elementwise on
            an array; it may be +inf or overflow towards x = 0). E.g. the cut Lennard-Jones
            core of Ding et al. (LAMMPS lj/cut/sphere with cutoff ratio 1, epsilon / kT =
            100): ``lambda x: 400 * (x**-12 - x**-6)``; a WCA potential of LJ diameter
            sigma has s = 2^(1/6) sigma: ``lambda x: 4 * be * ((c / x)**12 - (c / x)**6) + be``
            with c = 2^(-1/6).

    Returns:
        the ratio d_BH / s (scalar), for `mixture(..., hard_core=...)` with the mixture's
        diameters equal to s (the potential's cutoff); differentiable in the parameters the
        callable closes over.
    """
    boltzmann = jnp.exp(-beta_potential(jnp.asarray(_NODES)))
    return 1 - jnp.sum(jnp.where(jnp.isfinite(boltzmann), boltzmann, 0.0) * _WEIGHTS)
