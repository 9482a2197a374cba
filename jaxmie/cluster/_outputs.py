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
Inside a sphere that expansion does not describe the field; there, with ``inside=True``,
the sphere's exciting field f_i is continued into its layers (jaxmie.cluster._internal).
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
from ._internal import internal_fields, sphere_tables
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


@functools.partial(jax.jit, static_argnames=("inside",))
def multipole_near_field(solution: MultipoleSolution, points, inside: bool = False):
    """Total E and Z H at probe points (module docstring).

    Args:
        solution: MultipoleSolution.
        points: real, shape (M, 3), nm.
        inside: static; True evaluates points inside a sphere (distance to its centre below
            its outer radius) from its internal expansion (jaxmie.cluster._internal).

    Returns:
        (E, H): complex, each (M, 3); H is Z H, relative to the incident wave (|E| = 1).
        With inside=False, a point inside sphere i gets the field exciting sphere i (the
        incident wave and the other spheres' outgoing waves), not the field there.
    """
    s = solution
    k = s.wavenumber
    points = jnp.asarray(points).astype(s.positions.dtype)
    h_amplitude = jnp.cross(s.direction.astype(s.polarization.dtype), s.polarization)
    tables = sphere_tables(s) if inside else None

    @functools.partial(jax.checkpoint, prevent_cse=False)
    def block(point):
        disp = point[:, None] - s.positions[None]
        within = jnp.sqrt(jnp.sum(disp ** 2, -1)) < s.radius  # (B, N), at most one per row
        # A sphere's outgoing waves are not evaluated inside it (they overflow near its
        # centre): a point on its surface stands in, with zero coefficients.
        surface = jnp.zeros_like(disp).at[..., 0].set(s.radius)
        waves = outgoing_waves(jnp.where(within[..., None], surface, disp), k, s.lmax)
        coefficients = jnp.where(within[..., None, None], 0, s.scattered)
        phase = jnp.exp(1j * k * (point @ s.direction))[:, None]
        e = phase * s.polarization + jnp.einsum("bjsnc,bjsn->bc", waves, coefficients)
        h = phase * h_amplitude - 1j * jnp.einsum("bjsnc,bjsn->bc", waves[:, :, ::-1],
                                                   coefficients)
        if not inside:
            return e, h
        owner = jnp.argmax(within, -1)
        in_sphere = jnp.any(within, -1)[:, None]
        # A point outside every sphere evaluates sphere 0's expansion at its centre instead.
        e_in, h_in = internal_fields(s, tables, owner,
                                     jnp.where(in_sphere, point - s.positions[owner], 0))
        return jnp.where(in_sphere, e_in, e), jnp.where(in_sphere, h_in, h)

    per_point = s.positions.shape[0] * s.scattered[0].size * 3
    batch = max(1, min(points.shape[0], _BLOCK_ELEMENTS // per_point))
    return lax.map(lambda p: tuple(v[0] for v in block(p[None])), points, batch_size=batch)


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


def near_field(solution: ClusterSolution | MultipoleSolution, points, *, inside: bool = False):
    """Total E and Z H (incident plus every sphere's scattered field) at probe points.

    Outside the spheres: for the dipole model, within ~ a radius of a surface the dropped
    multipoles matter. Inside the spheres (multipole model, ``inside=True``): in every
    layer, each sphere's exciting field continued with its layers' radial functions.

    Args:
        solution: from jaxmie.cluster.solve.
        points: real, shape (M, 3), nm; anywhere with ``inside=True`` (a sphere's centre,
            its interfaces and the z axis included).
        inside: static bool. True: a point inside sphere i (distance to its centre below
            its outer radius) gets sphere i's internal field, converged like the solution
            (tangential E and Z H continuous across the surface to the truncation error
            of lmax); needs a MultipoleSolution (lmax >= 2). False (default, cheaper to
            compile and run): a point inside sphere i gets the field exciting it
            (incident plus the other spheres' scattered fields), not the field there (for
            the dipole model, a point at a centre gets nothing from that sphere).

    Returns:
        (E, H): complex, each shape (M, 3), relative to the incident field; H is Z H (Z the
        host's impedance, inside the spheres too), so the incident wave has |E| = |Z H| = 1
        and the intensity enhancement is |E|^2.
    """
    if isinstance(solution, ClusterSolution):
        if inside:
            raise ValueError("near_field(inside=True) needs the multipole model: solve with "
                             "lmax >= 2 (the dipole model, lmax = 1, has no internal "
                             "expansion)")
        return dipole_near_field(solution, points)
    return multipole_near_field(solution, points, inside=inside)
