r"""Cross sections, far-field amplitudes and near fields of a multipole cluster solution.

With incident coefficients p_i, exciting (local) f_i and scattered s_i = T_i f_i of each
sphere (jaxmie.cluster._multipoles; unit incident amplitude, host wavenumber k), in nm^2:

.. math::
    \sigma_\mathrm{ext} = -\frac{1}{k^2}\,\mathrm{Re}\sum_i p_i^\dagger s_i, \qquad
    \sigma_\mathrm{abs} = \frac{1}{k^2}\sum_i\sum_{lm}
        \big[(\mathrm{Re}\,b_l - |b_l|^2)|f^M_{i,lm}|^2
           + (\mathrm{Re}\,a_l - |a_l|^2)|f^N_{i,lm}|^2\big],

sigma_sca = sigma_ext - sigma_abs (the optical theorem applied to the far-field amplitude
below, and the power each sphere absorbs from its exciting field; for one sphere these are
Bohren & Huffman's (4.61)-(4.62)). The far-field amplitude, E_sca -> F(n) exp(ikr)/r, is

.. math::
    \mathbf F(\hat{\mathbf n}) = \frac{1}{k}\sum_i e^{-ik\hat{\mathbf n}\cdot\mathbf r_i}
        \sum_{lm}\big[s^M_{i,lm}(-i)^{l+1}\mathbf X_{lm}(\hat{\mathbf n})
        + s^N_{i,lm}(-i)^l\,\hat{\mathbf n}\times\mathbf X_{lm}(\hat{\mathbf n})\big],

and |F|^2 is the differential scattering cross section (nm^2/sr). Near fields outside the
spheres sum every sphere's outgoing waves: E = E_inc + sum_i sum_lm [s^M M_lm + s^N N_lm]
and Z H = Z H_inc - i sum_i sum_lm [s^M N_lm + s^N M_lm] (from curl M = k N, curl N = k M).
Inside a sphere's circumscribing surface that expansion does not describe the field.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from .._special import abs_squared
from ._dipoles import (
    ClusterCrossSections,
    ClusterSolution,
    dipole_cross_sections,
    dipole_far_field,
    dipole_near_field,
)
from ._multipoles import MultipoleSolution, _per_mode
from ._waves import far_field_modes, outgoing_waves

__all__ = ["cross_sections", "far_field", "multipole_cross_sections", "multipole_far_field",
           "multipole_near_field", "near_field"]


@jax.jit
def multipole_cross_sections(solution: MultipoleSolution):
    """(ext, sca, abs) of the cluster in nm^2, scalars (module docstring)."""
    s = solution
    k2 = s.wavenumber ** 2
    ext = -jnp.real(jnp.sum(jnp.conj(s.incident) * s.scattered)) / k2
    absorbed = jnp.sum(_per_mode(s.absorption, s.lmax) * abs_squared(s.local)) / k2
    return ext, ext - absorbed, absorbed


@jax.jit
def multipole_far_field(solution: MultipoleSolution, directions) -> jax.Array:
    """F(n) for directions of shape (..., 3) (normalised here); complex (..., 3), nm."""
    s = solution
    n = jnp.asarray(directions).astype(s.positions.dtype)
    n = n / jnp.linalg.norm(n, axis=-1, keepdims=True)
    phase = jnp.exp(-1j * s.wavenumber * (n @ s.positions.T))  # (..., N)
    coefficients = jnp.einsum("...j,jsn->...sn", phase, s.scattered)
    return jnp.einsum("...sn,...snc->...c", coefficients, far_field_modes(n, s.lmax)) / \
        s.wavenumber


#: Outgoing-wave values (complex numbers) per block of probe points in multipole_near_field.
_BLOCK_ELEMENTS = 2 ** 21


@jax.jit
def multipole_near_field(solution: MultipoleSolution, points):
    """Total E and Z H at probe points outside the spheres.

    Args:
        solution: MultipoleSolution.
        points: real, shape (M, 3), nm.

    Returns:
        (E, H): complex, each (M, 3); H is Z H, relative to the incident wave (|E| = 1).
        A point at a sphere's centre gets no contribution from that sphere; points inside
        a sphere get finite values that do not describe the field there.
    """
    s = solution
    k = s.wavenumber
    points = jnp.asarray(points).astype(s.positions.dtype)
    e_inc = s.polarization * jnp.exp(1j * k * (points @ s.direction))[:, None]
    h_inc = jnp.cross(s.direction.astype(e_inc.dtype), s.polarization) * \
        jnp.exp(1j * k * (points @ s.direction))[:, None]

    @functools.partial(jax.checkpoint, prevent_cse=False)
    def block(point):
        disp = point[:, None] - s.positions[None]
        at_centre = jnp.sum(disp ** 2, -1) == 0
        disp = jnp.where(at_centre[..., None], jnp.ones_like(disp), disp)
        waves = outgoing_waves(disp, k, s.lmax)  # (B, N, 2, n_modes, 3)
        coefficients = jnp.where(at_centre[..., None, None], 0, s.scattered)
        e = jnp.einsum("bjsnc,bjsn->bc", waves, coefficients)
        h = -1j * jnp.einsum("bjsnc,bjsn->bc", waves[:, :, ::-1], coefficients)
        return e, h

    per_point = s.positions.shape[0] * s.scattered[0].size * 3
    batch = max(1, min(points.shape[0], _BLOCK_ELEMENTS // per_point))
    e_sca, h_sca = lax.map(lambda p: tuple(v[0] for v in block(p[None])), points,
                           batch_size=batch)
    return e_inc + e_sca, h_inc + h_sca


def cross_sections(solution: ClusterSolution | MultipoleSolution) -> ClusterCrossSections:
    """Extinction (optical theorem), absorption and scattering of the cluster, in nm^2.

    Args:
        solution: from jaxmie.cluster.solve (dipole or multipole model).

    Returns:
        ClusterCrossSections of scalars; sca = ext - abs.
    """
    if isinstance(solution, ClusterSolution):
        return dipole_cross_sections(solution)
    ext, sca, absorbed = multipole_cross_sections(solution)
    return ClusterCrossSections(ext=ext, sca=sca, abs=absorbed)


def far_field(solution: ClusterSolution | MultipoleSolution, directions) -> jax.Array:
    """Far-field amplitude F(n): E_sca = F exp(ikr) / r + O(1/r^2) (incident |E| = 1).

    Args:
        solution: from jaxmie.cluster.solve.
        directions: real, shape (..., 3); observation directions (normalised here).

    Returns:
        complex, shape (..., 3), nm; transverse to n. |F|^2 is the differential scattering
        cross section (nm^2/sr).
    """
    if isinstance(solution, ClusterSolution):
        return dipole_far_field(solution, directions)
    return multipole_far_field(solution, directions)


def near_field(solution: ClusterSolution | MultipoleSolution, points):
    """Total E and Z H (incident plus every sphere's scattered field) at probe points.

    Valid outside the spheres. For the dipole model, also within ~ a radius of a surface
    the dropped multipoles matter; a point at a sphere's centre gets nothing from it.

    Args:
        solution: from jaxmie.cluster.solve.
        points: real, shape (M, 3), nm.

    Returns:
        (E, H): complex, each shape (M, 3), relative to the incident field; H is Z H, so
        the incident wave has |E| = |Z H| = 1 and the intensity enhancement is |E|^2.
    """
    if isinstance(solution, ClusterSolution):
        return dipole_near_field(solution, points)
    return multipole_near_field(solution, points)
