r"""How many multipoles a cluster needs: lmax from the size parameter and the closest pair.

PROVISIONAL: calibrated in a later commit.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["cluster_lmax", "lmax_for", "proximity"]


def lmax_for(size_parameter: float, proximity: float) -> int:
    """The converged multipole degree for the largest outer size parameter and proximity.

    Args:
        size_parameter: largest k r_outer of the cluster.
        proximity: largest (r_i + r_j) / |r_i - r_j| over pairs, in (0, 1] (0 for one sphere).
    """
    x = float(size_parameter)
    own = x + 4.0 * x ** (1 / 3) + 2.0
    coupled = 0.0
    if proximity > 0:
        coupled = math.log(1e-8) / (2 * math.log(min(proximity, 0.999)))
    return max(1, math.ceil(max(own, coupled)))


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
    """lmax_for the cluster's largest size parameter and proximity (NumPy inputs)."""
    return lmax_for(float(wavenumber * np.max(radii)), proximity(radii, positions))
