r"""Orientation-averaged cross sections of a multipole cluster, exact in the T-matrix model.

A cluster in every orientation under one plane wave is the fixed cluster under plane waves
from every direction; the average is over 4 pi of directions and two orthonormal
polarisations (unit amplitude):

.. math::
    \langle C\rangle = \frac{1}{8\pi}\int d\Omega_{\hat{\mathbf k}}
        \sum_{\mathbf e\perp\hat{\mathbf k}} C(\hat{\mathbf k}, \mathbf e).

The incident coefficients about sphere i (normalisation of jaxmie.cluster._waves) are
p_i = J(r_i) p_0 with p_0 = 4 pi i^l (X*_lm . e, i X*_lm . (k^ x e)) and J(d) the regular
translation (jaxmie.cluster._translation, regular=True). Summing over the polarisations
gives the tangential projector I - k^ k^T, and the orthonormality of X_lm and
k^ x X_lm over the sphere then gives <p_0 p_0^dagger> = 2 pi I over all modes. The
untruncated translations are unitary and compose, J(r_i) J(r_j)^dagger = J(r_i - r_j), so
the lmax block needed here is exactly the lmax block of J(r_i - r_j) (no truncated
intermediate sum):

.. math::
    \langle p_i\, p_j^\dagger\rangle = 2\pi\, J(\mathbf r_i - \mathbf r_j) =: 2\pi\,\mathcal J_{ij},

with J(0) = I. The exciting fields are f = F p, F = (I - W T)^{-1}, and the scattered
s = T F p (jaxmie.cluster._multipoles), so the cross sections of jaxmie.cluster._outputs,
quadratic forms in p, average to traces (D: the absorbed parts Re b_l - |b_l|^2,
Re a_l - |a_l|^2 per mode, diagonal):

.. math::
    \langle C_\mathrm{ext}\rangle = -\frac{2\pi}{k^2}\,\mathrm{Re}\,\mathrm{Tr}
        \big(T F \mathcal J\big), \qquad
    \langle C_\mathrm{abs}\rangle = \frac{2\pi}{k^2}\,\mathrm{Tr}
        \big(D F \mathcal J F^\dagger\big), \qquad
    \langle C_\mathrm{sca}\rangle = \langle C_\mathrm{ext}\rangle
        - \langle C_\mathrm{abs}\rangle.

This is the multi-centre form of Mackowski's average (T F = T_cluster in its sphere-centred
blocks, Tr(T_ij J_ji) summed over pairs): no T-matrix about a common origin, whose
truncation would need lmax ~ k R_cluster; the result is exactly the average of
jaxmie.cluster.cross_sections at the same lmax. One sphere gives Mie's
(2 pi / k^2) sum (2l + 1) Re(a_l + b_l) and the absorbed part, exactly.

Numerics: as in the solver, with S = sqrt|T| (stop_gradient) and G = (I - S W T S^-1)^-1,
F = S^-1 G S; with K = S J S (entries bounded: |t_l| and the regular translations are),
Tr(T F J) = sum_a (t_a / S_a^2) (G K)_aa and Tr(D F J F^dagger) = sum_a (D_a / S_a^2)
(G K G^dagger)_aa, so nothing large multiplies anything small. One LU of the
(2 N n_modes)^2 matrix, solved for the 4 N n_modes columns [K, I]: time
O((2 N n_modes)^3), memory ~8 complex matrices of that size (23 MB each at 1,200
unknowns, e.g. N = 25 at lmax = 4; 0.37 GB each at N = 100, lmax = 4; more in reverse
mode). MAX_UNKNOWNS bounds it.

References:
    D. W. Mackowski and M. I. Mishchenko, J. Opt. Soc. Am. A 13, 2266 (1996).
    M. I. Mishchenko, L. D. Travis and A. A. Lacis, Scattering, Absorption, and Emission of
    Light by Small Particles (Cambridge University Press, 2002), sections 5.5 and 5.11.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ._dipoles import ClusterCrossSections
from ._multipoles import _per_mode, balancing_scale, block_matrix, dense_matrix
from ._solve import checked_cluster
from ._tmatrix import SphereTerms, sphere_terms
from ._translation import translation_matrices
from ._waves import n_modes

__all__ = ["MAX_UNKNOWNS", "averaged_cross_sections", "averaged_multipoles"]

#: Largest 2 N lmax (lmax + 2) that averaged_cross_sections accepts: 1 GB per dense matrix.
MAX_UNKNOWNS = 8000


def regular_translations(positions, k, lmax: int) -> jax.Array:
    """The matrix of J(r_i - r_j) blocks, J(0) = I, shape (N 2 n_modes)^2, complex."""
    n = positions.shape[0]
    size = 2 * n * n_modes(lmax)
    if n == 1:
        return jnp.eye(size, dtype=jnp.result_type(positions.dtype, jnp.complex64))
    mask = ~jnp.eye(n, dtype=bool)
    pairs = translation_matrices(positions[:, None] - positions[None], k, lmax, mask,
                                 regular=True)
    blocks = block_matrix(*pairs)
    return blocks + jnp.eye(size, dtype=blocks.dtype)


@functools.partial(jax.jit, static_argnames=("lmax",))
def averaged_multipoles(terms: SphereTerms, positions, *, lmax: int):
    """(ext, sca, abs) averaged over orientations, nm^2, scalars (module docstring).

    Args:
        terms: jaxmie.cluster._tmatrix.SphereTerms of N spheres (lmax orders).
        positions: real, shape (N, 3), nm.
        lmax: highest degree (static).
    """
    k = terms.wavenumber
    n, nm = positions.shape[0], n_modes(lmax)
    positions = positions.astype(jnp.result_type(positions.dtype, k.dtype))
    t = _per_mode(terms.t, lmax)  # (N, 2, nm)
    scale = balancing_scale(t)
    matrix = dense_matrix(positions, k, scale, t / scale, lmax)
    s, s2 = scale.reshape(-1), (scale * scale).reshape(-1)
    kernel = s[:, None] * regular_translations(positions, k, lmax) * s
    size = 2 * n * nm
    solved = jnp.linalg.solve(matrix, jnp.concatenate(
        [kernel, jnp.eye(size, dtype=kernel.dtype)], 1))
    gk, g = solved[:, :size], solved[:, size:]
    factor = 2 * np.pi / (k * k)
    ext = -factor * jnp.real(jnp.sum(t.reshape(-1) / s2 * jnp.diagonal(gk)))
    local = jnp.real(jnp.sum(gk * jnp.conj(g), -1))  # diagonal of G K G^dagger
    absorbed = factor * jnp.sum(_per_mode(terms.absorption, lmax).reshape(-1) / s2 * local)
    return ext, ext - absorbed, absorbed


def averaged_cross_sections(particles, positions, wavelength, n_env=1.0, *,
                            lmax: int | None = None,
                            n_max: int | None = None) -> ClusterCrossSections:
    r"""Extinction, scattering and absorption of a cluster averaged over its orientations.

    Equivalently, averaged over the incident direction (4 pi) and two orthonormal
    polarisations at a fixed cluster, exactly in the multipole model at this lmax: the
    average of jaxmie.cluster.cross_sections over every plane wave, from one dense solve.
    With T the spheres' T-matrices, W the outgoing-to-regular and J the regular
    translations between their centres (J_ii = I), F = (I - W T)^-1 and D the absorbed
    parts (Re b_l - |b_l|^2, Re a_l - |a_l|^2),

    .. math::
        \langle C_\mathrm{ext}\rangle = -\frac{2\pi}{k^2}\,\mathrm{Re}\,
            \mathrm{Tr}(T F J), \qquad
        \langle C_\mathrm{abs}\rangle = \frac{2\pi}{k^2}\,\mathrm{Tr}(D F J F^\dagger),
        \qquad \langle C_\mathrm{sca}\rangle = \langle C_\mathrm{ext}\rangle
            - \langle C_\mathrm{abs}\rangle,

    from <p_i p_j^dagger> = 2 pi J(r_i - r_j) for the incident coefficients p (derivation
    in jaxmie.cluster._average). The trace runs over the sphere-centred modes: no
    T-matrix about a common origin, which would need lmax ~ k R_cluster.

    Args:
        particles: as in jaxmie.cluster.solve (Sphere, CoreShell, Multilayer or a sequence).
        positions: real, shape (N, 3); centres in nm; the spheres must not overlap.
        wavelength: vacuum wavelength in nm, scalar (vmap for spectra).
        n_env: real host index.
        lmax: highest multipole degree per sphere (static); None picks
            jaxmie.cluster.lmax_for's converged order (concrete inputs only). lmax = 1 is the
            coupled electric and magnetic dipole model.
        n_max: orders of the Mie recurrence (static, >= lmax); None uses lmax (exact).

    Returns:
        ClusterCrossSections of scalars, nm^2; sca = ext - abs.

    Cost: one dense LU of 2 N lmax (lmax + 2) unknowns, O((N n_modes)^3) time; a ValueError
    above MAX_UNKNOWNS = 8000 (1 GB per matrix, ~8 of them). jit (static lmax), vmap and
    grad (positions, radii, indices, wavelength) go through it.

    References:
        D. W. Mackowski and M. I. Mishchenko, J. Opt. Soc. Am. A 13, 2266 (1996).
        M. I. Mishchenko, L. D. Travis and A. A. Lacis, Scattering, Absorption, and
        Emission of Light by Small Particles (Cambridge University Press, 2002).
    """
    positions, lmax = checked_cluster(particles, positions, wavelength, n_env, lmax)
    n = positions.shape[0]
    if 2 * n * n_modes(lmax) > MAX_UNKNOWNS:
        raise ValueError(f"averaged_cross_sections solves a dense system of 2 N lmax (lmax + 2) "
                         f"= {2 * n * n_modes(lmax)} unknowns (N = {n}, lmax = {lmax}); the "
                         f"limit is {MAX_UNKNOWNS}")
    terms = sphere_terms(particles, wavelength, n_env, lmax, n_max, n_particles=n)
    ext, sca, absorbed = averaged_multipoles(terms, positions, lmax=lmax)
    return ClusterCrossSections(ext=ext, sca=sca, abs=absorbed)
