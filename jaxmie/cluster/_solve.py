"""jaxmie.cluster.solve: one entry point for the dipole (lmax = 1) and multipole models."""

from __future__ import annotations

import operator

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import concrete_value
from .._particles import layer_radii
from ._dipoles import ClusterSolution, polarizabilities_of, solve_dipoles
from ._multipoles import MultipoleSolution, solve_multipoles
from ._tmatrix import as_particle_list, sphere_terms
from ._truncation import cluster_lmax, proximity
from ._waves import n_modes

__all__ = ["checked_cluster", "solve"]

#: method="auto" takes the dense solver up to this many unknowns (2 N lmax (lmax + 2)).
DENSE_UNKNOWNS = 1200


def _outer_radii(particles, n: int) -> np.ndarray | None:
    """Concrete outer radii of the N spheres (NumPy), or None when traced."""
    parts = []
    for group in as_particle_list(particles):
        r = concrete_value(layer_radii(group)[..., -1]) if _concrete(group) else None
        if r is None:
            return None
        parts.append(np.atleast_1d(r))
    radii = np.concatenate(parts)
    return np.broadcast_to(radii, (n,)) if radii.size == 1 else radii


def _concrete(group) -> bool:
    radii, _ = group.layers()
    return all(concrete_value(r) is not None for r in radii)


def _check_overlaps(radii: np.ndarray, positions: np.ndarray) -> None:
    """ValueError naming the first pair of overlapping spheres."""
    if proximity(radii, positions) <= 1:
        return
    for i in range(positions.shape[0]):
        dist = np.sqrt(np.sum((positions - positions[i]) ** 2, -1))
        bad = np.nonzero((dist < radii + radii[i]) & (np.arange(len(radii)) != i))[0]
        if bad.size:
            j = int(bad[0])
            raise ValueError(f"spheres {i} and {j} overlap: centre distance {dist[j]:.6g} nm < "
                             f"sum of outer radii {radii[i] + radii[j]:.6g} nm")


def solve(particles, positions, wavelength, n_env=1.0, direction=(0.0, 0.0, 1.0),
          polarization=(1.0, 0.0, 0.0), *, lmax: int | None = None, method: str = "auto",
          n_max: int | None = None, tol: float = 1e-12, restart: int = 30,
          maxiter: int | None = None) -> ClusterSolution | MultipoleSolution:
    """Multiple scattering of a plane wave by N spheres (jaxmie.cluster module docstring).

    Args:
        particles: Sphere, CoreShell or Multilayer with batch shape (N,) (or () to share one
            particle), or a sequence of such particles (batch shapes () or (N_k,)) making up
            the N spheres in order, so that a cluster may mix particle types. Radii in nm;
            the spheres must not overlap.
        positions: real, shape (N, 3); centres in nm.
        wavelength: vacuum wavelength in nm, scalar (vmap for spectra).
        n_env: real host index.
        direction: shape (3,); propagation direction of the plane wave (normalised here).
        polarization: shape (3,), real or complex (e.g. (1, 1j, 0) circular); its part along
            ``direction`` is dropped and it is normalised to |E_inc| = 1.
        lmax: highest multipole degree per sphere (static). 1 is the coupled electric and
            magnetic dipole model (returns a ClusterSolution); >= 2 the multipole T-matrix
            model (a MultipoleSolution). None picks the converged order of
            jaxmie.cluster.lmax_for from the largest size parameter and the closest pair
            (needs concrete radii, positions and wavelength: pass lmax under jit).
        method: "dense" (LU of the whole matrix), "gmres" (matrix-free, implicit gradients)
            or "auto" (dense up to DENSE_UNKNOWNS = 1200 unknowns 2 N lmax (lmax + 2), else
            GMRES). Times and memory against N and lmax: bench/README.md.
        n_max: orders of the Mie recurrence (static, >= lmax); None uses lmax (exact).
        tol, restart, maxiter: GMRES relative tolerance, Krylov size and restarts (None:
            JAX's default); ``tol`` is also the threshold of ``converged``.

    Returns:
        ClusterSolution (lmax = 1) or MultipoleSolution; each carries a scalar ``residual``
        and ``converged`` (check them with GMRES, e.g. ``jnp.all(sol.converged)`` under vmap).
        Use jaxmie.cluster.cross_sections, far_field and near_field on either.
    """
    if method not in ("auto", "dense", "gmres"):
        raise ValueError(f"method must be 'auto', 'dense' or 'gmres'; got {method!r}")
    positions, lmax = checked_cluster(particles, positions, wavelength, n_env, lmax)
    n = positions.shape[0]
    terms = sphere_terms(particles, wavelength, n_env, lmax, n_max, n_particles=n)
    if method == "auto":
        method = "dense" if 2 * n * n_modes(lmax) <= DENSE_UNKNOWNS else "gmres"
    kwargs = {"method": method, "tol": tol, "restart": restart, "maxiter": maxiter}
    direction, polarization = jnp.asarray(direction), jnp.asarray(polarization)
    if lmax == 1:
        pol = polarizabilities_of(terms.t, terms.absorption, terms.wavenumber)
        return solve_dipoles(pol, positions, direction, polarization, **kwargs)
    return solve_multipoles(terms, positions, direction, polarization, lmax=lmax, **kwargs)


def checked_cluster(particles, positions, wavelength, n_env, lmax: int | None
                    ) -> tuple[jax.Array, int]:
    """Positions as an (N, 3) array and the static lmax, after the checks of solve.

    Raises ValueError for a bad shape of positions, overlapping spheres (when concrete), a
    bad lmax, or lmax=None with traced inputs; None picks jaxmie.cluster.lmax_for's order.
    """
    positions = jnp.asarray(positions)
    if positions.ndim != 2 or positions.shape[-1] != 3:
        raise ValueError(f"positions must have shape (N, 3); got {positions.shape}")
    n = positions.shape[0]
    radii = _outer_radii(particles, n)
    centres = concrete_value(positions)
    if radii is not None and centres is not None:
        _check_overlaps(radii, centres)
    if lmax is None:
        k = concrete_value(2 * np.pi * jnp.asarray(n_env) / jnp.asarray(wavelength))
        if radii is None or centres is None or k is None:
            raise ValueError(
                "lmax=None needs concrete radii, positions and wavelength, but some are "
                "traced (inside jit, vmap or grad). Pass a static lmax, e.g. "
                "lmax=jaxmie.cluster.lmax_for(size_parameter, proximity) computed outside.")
        lmax = cluster_lmax(radii, centres, float(k))
    else:
        try:
            lmax = operator.index(lmax)
        except TypeError:
            lmax = None
        if lmax is None or lmax < 1:
            raise ValueError(f"lmax must be an integer >= 1 (static); got {lmax!r}")
    return positions, lmax
