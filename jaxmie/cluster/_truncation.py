r"""How many multipoles a cluster needs: lmax from the size parameter and the closest pair.

.. math::
    l_\mathrm{max} = \max\Big(\lceil x + 2x^{1/3} + 2\rceil,\;
        \Big\lceil \frac{2.5}{\ln(1/\eta)} \Big\rceil\Big), \qquad
    \eta = \max_{i \ne j} \frac{r_i + r_j}{|\mathbf r_i - \mathbf r_j|},

capped at LMAX_CAP = 20; x is the largest outer size parameter k r. The first term is the
isolated sphere's (Wiscombe-like, tighter than jaxmie.n_max_for because cross sections, not
every angle, are the target); the second the coupling of the closest pair, whose multipole
series converges geometrically with a rate set by the proximity eta.

Calibration (measured, dimers, both terms): 150 random dimers of metal, high-index
dielectric and metal-core core-shell spheres, x = 0.2-3, surface gaps 0.01-1 (r_i + r_j),
random incidence, in air or water; errors of ext, sca and abs relative to ext against the
same solver at lmax = 14 (run before the solver's scaling of
jaxmie.cluster._multipoles, which made that reference itself ~1e-6 off for small x at
small gaps). For eta <= 0.8 (surface gap >= 0.25 (r_i + r_j)) 52 of 53 cases were within
1e-6 at the rule's lmax (5-11) and at every higher order up to 12; the 53rd (x = 0.68)
stalls at 2e-6 from lmax = 7 on, the reference's own error. The measured need was on
average 1.5 orders below the rule. tests/test_cluster_multipoles.py checks the default
against treams at lmax = 12 on dimers with gaps 0.25-0.5 (r_i + r_j) to 1e-6 of ext.

Close pairs, eta = 0.8-0.95 (bench/cluster_close_gaps.py, results in bench/results/
cluster-close-gaps.log): dimers of metal-like (x = 0.52), high-index (x = 0.75),
metal-core core-shell (x = 0.36) and dielectric (r 100 and 70 nm, x = 1.40) spheres; error
of ext, sca, abs relative to ext against the same solver at lmax = 24, whose own error,
extrapolated from the geometric decay of the sequence, is below 2e-7 at eta = 0.95 and far
smaller below. At the rule's lmax:

======  ======  ===================================================
eta     lmax    error (metal / high-index / core-shell / dielectric)
======  ======  ===================================================
0.80    12      1.1e-8 / 1.8e-9 / 3.0e-10 / 2.8e-9
0.85    16      1.7e-9 / 1.8e-10 / 1.4e-11 / 3.7e-10
0.90    20      2.9e-9 / 1.7e-10 / 6.0e-12 / 2.1e-10
0.95    20 cap  2.1e-6 / 6.3e-8 / 8.5e-10 / 1.7e-8
======  ======  ===================================================

The errors fall by a factor ~2.6 (metal, eta = 0.9) to ~5 per order, so below eta ~ 0.88
the rule is conservative. Above CLOSE_PROXIMITY = exp(-2.5 / LMAX_CAP) = 0.8825 it asks for
more than the cap: the capped default then reaches ~1e-6 of ext only up to eta ~ 0.95 (and
not for every particle there: the metal dimer is at 2e-6), and jaxmie.cluster.solve warns
(RuntimeWarning) with the proximity; pass a larger lmax and compare two orders to check.
treams at lmax = 16 departs from this solver at lmax = 16 by 6e-7 (high-index, eta = 0.85),
9e-6 (metal, 0.9) and 3e-2 (core-shell, 0.95) of ext, growing as the spheres shrink and
the gap closes, while this solver's sequence in lmax converges smoothly to 1e-8 there:
treams solves the unscaled system (jaxmie.cluster._multipoles, Stability), so
high-lmax comparisons at close gaps check neither code; at lmax = 12 the two agree to
1.6e-9 (metal, eta = 0.9) and 8e-11 (high-index, 0.85).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["CLOSE_PROXIMITY", "cluster_lmax", "lmax_for", "proximity"]


#: Largest lmax that lmax_for returns (touching spheres would need far more).
LMAX_CAP = 20
#: Proximity above which lmax_for's coupling term exceeds LMAX_CAP (module docstring).
CLOSE_PROXIMITY = math.exp(-2.5 / LMAX_CAP)


def lmax_for(size_parameter: float, proximity: float) -> int:
    """The converged multipole degree (module docstring: 1e-6 of ext, measured for
    proximity <= 0.9; capped at LMAX_CAP = 20 above CLOSE_PROXIMITY = 0.8825, where it
    reached 2e-6 at 0.95).

    Args:
        size_parameter: largest k r_outer of the cluster.
        proximity: largest (r_i + r_j) / |c_i - c_j| over pairs, in [0, 1] (0 for one sphere).

    Returns:
        lmax, an int in [1, LMAX_CAP].
    """
    x = float(size_parameter)
    own = math.ceil(x + 2.0 * x ** (1 / 3) + 2.0)
    coupled = 0
    if proximity > 0:
        coupled = LMAX_CAP if proximity >= 1 else math.ceil(2.5 / math.log(1 / proximity))
    return max(1, min(LMAX_CAP, max(own, coupled)))


def proximity(radii: np.ndarray, positions: np.ndarray, chunk: int = 512) -> float:
    """max over pairs i != j of (r_i + r_j) / |c_i - c_j| (0 for a single sphere)."""
    n = positions.shape[0]
    best = 0.0
    for start in range(0, n, chunk):
        rows = slice(start, min(n, start + chunk))
        dist = np.sqrt(np.sum((positions[rows, None] - positions[None]) ** 2, -1))
        ratio = (radii[rows, None] + radii[None]) / np.where(dist > 0, dist, np.inf)
        best = max(best, float(ratio.max(initial=0.0)))
    return best


def cluster_lmax(radii: np.ndarray, positions: np.ndarray, wavenumber: float) -> int:
    """lmax_for the cluster's largest size parameter and proximity (NumPy inputs).

    Warns (RuntimeWarning) when the proximity exceeds CLOSE_PROXIMITY, where the capped
    lmax's accuracy falls short of 1e-6 of ext for the closest pairs (module docstring)."""
    eta = proximity(radii, positions)
    if eta > CLOSE_PROXIMITY:
        import warnings

        warnings.warn(
            f"closest spheres at proximity (r_i + r_j)/d = {eta:.4f} > {CLOSE_PROXIMITY:.4f}: "
            f"the converged lmax would exceed LMAX_CAP = {LMAX_CAP} and is capped; measured on "
            "dimers, the capped lmax is within ~2e-6 of ext at proximity 0.95 and worse "
            "closer (jaxmie.cluster.lmax_for). Pass a larger lmax and compare two orders.",
            RuntimeWarning, stacklevel=3)
    return lmax_for(float(wavenumber * np.max(radii)), eta)
