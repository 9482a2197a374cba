r"""Coupled electric and magnetic dipoles: differentiable scattering by clusters of spheres.

Each of N spheres (any layered particle) is replaced by the electric and magnetic dipoles of
its exact first-order Mie coefficients a_1, b_1, and the dipoles are coupled through the
free-space dyadic Green's functions of the host (real index ``n_env``, wavenumber
k = 2 pi n_env / wavelength, lengths in nm, time dependence exp(-i omega t)).

Units and normalisation. Fields are given relative to the incident amplitude: the incident
plane wave is E_inc = e exp(i k d.r) with |e| = 1, and magnetic quantities are multiplied by
the host impedance Z, so that the incident H (times Z) is d x E_inc and has modulus 1 too.
The dipoles are p~ = p / (eps_0 eps_host) and m~ = Z m (both in nm^3 times the incident
field), so that for an isolated sphere p = eps_0 eps_host alpha_e E and m = alpha_m H with

.. math::
    \alpha_e = \frac{6 \pi i}{k^3} a_1, \qquad \alpha_m = \frac{6 \pi i}{k^3} b_1

(volume units, nm^3; alpha_e -> 4 pi r^3 (m^2 - 1)/(m^2 + 2) in the Rayleigh limit; the
radiative correction is exact because a_1, b_1 are). With the free-space Green's dyadic
G(R) = (I + grad grad / k^2) exp(ikR) / (4 pi R) and the cross term C(R) v = g_c(R) R^ x v,
g_c = exp(ikR) (1 + i/(kR)) / (4 pi R), the fields of the dipoles are

.. math::
    E(r) = E_\mathrm{inc} + k^2 \sum_j [G(r - r_j) p_j - C(r - r_j) m_j], \qquad
    Z H(r) = Z H_\mathrm{inc} + k^2 \sum_j [C(r - r_j) p_j + G(r - r_j) m_j],

and the self-consistent local fields solve (I - A diag(alpha)) [E_loc; Z H_loc] = [E_inc;
Z H_inc] at the particle centres, where A holds the blocks k^2 [[G, -C], [C, G]] between
different particles (6N x 6N). Cross sections (nm^2):

.. math::
    \sigma_\mathrm{ext} = k \,\mathrm{Im} \sum_i (E^*_\mathrm{inc}(r_i) \cdot p_i
        + Z H^*_\mathrm{inc}(r_i) \cdot m_i), \qquad
    \sigma_\mathrm{abs} = \frac{6\pi}{k^2} \sum_i [(\mathrm{Re}\, a_1 - |a_1|^2) |E_\mathrm{loc}|^2
        + (\mathrm{Re}\, b_1 - |b_1|^2) |Z H_\mathrm{loc}|^2],

sigma_sca = sigma_ext - sigma_abs (equal to the integral of |F|^2 over directions, with the
far-field amplitude F(n) = k^2/(4 pi) sum_j exp(-i k n.r_j) [p_j - n (n.p_j) - n x m_j],
E_sca ~ F exp(ikr)/r). For one sphere these are the n = 1 terms of Bohren & Huffman (4.61)
and (4.62).

Accuracy: the dipole approximation drops every multipole of order >= 2 of each sphere and
the quadrupolar parts of the coupling. Relative error of sigma_ext against treams' full
multipole T-matrix (lmax = 8) for chains along x in vacuum at 500 nm, against the surface
gap in radii, with the isolated sphere's own truncation error for scale (at lmax = 1 treams
and this module agree to 1e-14; tests/test_cluster.py checks these with lmax = 4):

=============================  ===================  ======  ======  ======  ======  ========
chain (size parameter x)       incidence            0.5     1       2       4       isolated
=============================  ===================  ======  ======  ======  ======  ========
5 x n = 1.5, r = 30 nm (0.38)  broadside, E along   4.7e-3  1.7e-3  6.6e-4  4.0e-4  1.0e-4
\                              broadside, E across  3.7e-4  2.1e-4  3.5e-4  3.6e-4
\                              end-on               7.5e-3  1.0e-2  1.4e-2  1.6e-2
5 x n = 1.5, r = 15 nm (0.19)  broadside, E along   2.5e-3  6.3e-4  1.5e-4  4.5e-5  6.7e-6
\                              broadside, E across  4.0e-4  1.4e-5  1.8e-5  1.2e-5
\                              end-on               1.2e-3  1.6e-3  2.5e-3  3.2e-3
4 core-shell, 15 / 30 nm,      broadside, E along   9.5e-3  3.2e-3  1.8e-3  1.7e-3  2.0e-3
0.2+3i / 1.5+0.01i (0.38)      broadside, E across  2.9e-3  2.0e-3  1.9e-3  2.0e-3
\                              end-on               6.2e-5  8.0e-4  2.5e-3  3.3e-3
3 x n = 0.2+3i, r = 20 nm      broadside, E along   8.0e-2  1.5e-2  3.1e-3  2.1e-3  2.7e-3
(0.25)                         broadside, E across  1.3e-2  4.3e-3  2.3e-3  2.4e-3
\                              end-on               7.6e-3  1.1e-3  1.6e-3  3.0e-3
=============================  ===================  ======  ======  ======  ======  ========

With E along the axis the near-field coupling error falls with the gap towards the
isolated sphere's error (x^4 for lossless spheres, x^2 with absorption); close up it
depends on gap / radius rather than on x. End-on, the neglected quadrupole coupling along
the axis decays like 1/R, as the dipoles' does, and adds up along the chain, so the error
grows with gap and length (a dimer of the 30 nm spheres: 4e-3 to 8e-3 at gaps 1-4). Metal
spheres closer than one radius need higher multipoles. Tolerance the tests state: 2e-2 for
x <= 0.4 and gaps >= 1 radius.

Solvers: ``method="dense"`` builds the 6N x 6N matrix and calls ``jnp.linalg.solve``
(memory 576 N^2 bytes per copy: 0.6 GB at N = 1000, 5.2 GB at N = 3000; time O(N^3));
``method="gmres"`` uses ``jax.scipy.sparse.linalg.gmres`` with a matrix-free product that
recomputes the Green's tensors in row blocks (memory O(N) per row, also in reverse mode),
wrapped in ``jax.lax.custom_linear_solve`` so that gradients solve the transposed system
(by GMRES, with the same tolerance) instead of backpropagating through the iterations.
Every solution carries its relative residual ||M x - b|| / ||b|| and ``converged``
(residual <= tol); check it, since GMRES stops silently after ``maxiter`` restarts (the
gradient's transposed solve has the same spectrum but is not reported). Times and memory
against N: bench/README.md.

References:
    C. F. Bohren and D. R. Huffman, Absorption and Scattering of Light by Small Particles
    (Wiley, 1983), sections 4.4 and 5.2.
    J. D. Jackson, Classical Electrodynamics, 3rd ed. (Wiley, 1999), eqs. (9.18), (9.36).
    G. W. Mulholland, C. F. Bohren and K. A. Fuller, Langmuir 10, 2533 (1994).
    O. Merchiers et al., Phys. Rev. A 76, 043834 (2007).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
from jax import lax

from .. import _special as special
from .._coefficients import series
from .._particles import Particle

__all__ = [
    "ClusterCrossSections",
    "ClusterSolution",
    "Polarizabilities",
    "dipole_cross_sections",
    "dipole_far_field",
    "dipole_near_field",
    "green_tensors",
    "interaction_matrix",
    "polarizabilities",
    "polarizabilities_of",
    "solve_dipoles",
]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Polarizabilities:
    """Dipole polarisabilities of N spheres in the host (see the module docstring).

    Attributes:
        alpha_e, alpha_m: complex, shape (N,); 6 pi i a_1 / k^3 and 6 pi i b_1 / k^3, nm^3.
        absorption_e, absorption_m: real, shape (N,); Re a_1 - |a_1|^2 and Re b_1 - |b_1|^2,
            computed without cancellation (zero for lossless spheres).
        wavenumber: real scalar; k = 2 pi n_env / wavelength in 1/nm.
    """

    alpha_e: jax.Array
    alpha_m: jax.Array
    absorption_e: jax.Array
    absorption_m: jax.Array
    wavenumber: jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class ClusterSolution:
    """Self-consistent dipoles of a cluster under one plane wave.

    Attributes:
        positions: real, shape (N, 3), nm.
        direction: real unit vector, shape (3,); propagation direction d of the plane wave.
        polarization: complex unit vector, shape (3,), orthogonal to d; the incident E.
        polarizabilities: Polarizabilities with fields of shape (N,).
        p, m: complex, shape (N, 3); p / (eps_0 eps_host) and Z m, in nm^3 (incident field 1).
        e_local, h_local: complex, shape (N, 3); E and Z H exciting each sphere (incident
            field and the other spheres' fields, not its own).
        residual: real scalar; ||M x - b|| / ||b|| of the solved system M x = b (x the
            local fields, b the incident ones), recomputed after the solve; a diagnostic,
            not differentiated (stop_gradient). ~1e-16 for the dense solver.
        converged: bool scalar; residual <= tol (False for a NaN residual). For GMRES,
            False means ``maxiter`` restarts ran out first: raise ``maxiter`` or
            ``restart``.
    """

    positions: jax.Array
    direction: jax.Array
    polarization: jax.Array
    polarizabilities: Polarizabilities
    p: jax.Array
    m: jax.Array
    e_local: jax.Array
    h_local: jax.Array
    residual: jax.Array
    converged: jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class ClusterCrossSections:
    """Cross sections of the whole cluster in nm^2 (scalars): ext, sca = ext - abs, abs."""

    ext: jax.Array
    sca: jax.Array
    abs: jax.Array


def polarizabilities_of(t, absorption, wavenumber) -> Polarizabilities:
    """Polarizabilities from dipole T-matrix terms (jaxmie.cluster._tmatrix.SphereTerms).

    Args:
        t: complex, shape (N, 2, lmax >= 1); (-b_l, -a_l).
        absorption: real, shape (N, 2, lmax); (Re b - |b|^2, Re a - |a|^2).
        wavenumber: host k, 1/nm.
    """
    factor = -6j * jnp.pi / wavenumber ** 3
    return Polarizabilities(alpha_e=factor * t[:, 1, 0], alpha_m=factor * t[:, 0, 0],
                            absorption_e=absorption[:, 1, 0],
                            absorption_m=absorption[:, 0, 0], wavenumber=wavenumber)


def polarizabilities(particles: Particle, wavelength, n_env=1.0, n_max: int | None = None,
                     n_particles: int | None = None) -> Polarizabilities:
    """Electric and magnetic dipole polarisabilities from the exact a_1, b_1.

    Args:
        particles: Sphere, CoreShell or Multilayer with batch shape (N,) or () (one particle
            shared by all N).
        wavelength: vacuum wavelength in nm, scalar (vmap for spectra).
        n_env: real host index, scalar.
        n_max: orders used by the coefficient recurrence (static); None applies
            jaxmie.n_max_for, which needs concrete radii (pass e.g. n_max=8 under jit for small
            spheres).
        n_particles: N, to broadcast a shared particle; defaults to the batch size.

    Returns:
        Polarizabilities with fields of shape (N,).
    """
    s = series(particles, wavelength, n_env, n_max)
    a1, b1 = s.a[..., 0], s.b[..., 0]
    shape = a1.shape if n_particles is None else (n_particles,)
    if len(shape) != 1:
        raise ValueError(f"particles must have batch shape (N,); got {a1.shape}")
    real = jnp.real(a1).dtype
    k = (2 * jnp.pi * jnp.asarray(n_env) / jnp.asarray(wavelength)).astype(real)
    factor = 6j * jnp.pi / k ** 3
    return Polarizabilities(
        alpha_e=jnp.broadcast_to(factor * a1, shape),
        alpha_m=jnp.broadcast_to(factor * b1, shape),
        absorption_e=jnp.broadcast_to(s.absorption_a[..., 0], shape),
        absorption_m=jnp.broadcast_to(s.absorption_b[..., 0], shape),
        wavenumber=k,
    )


def _green_parts(displacement, k, mask=None):
    """Scalars of G = g_i I + g_rr R^R^ and C v = g_c R^ x v, and R^; shape (...).

    Entries where ``mask`` is False (or R = 0) are zero, with finite gradients."""
    r2 = jnp.sum(displacement ** 2, axis=-1)
    ok = r2 > 0 if mask is None else mask & (r2 > 0)
    r = jnp.sqrt(jnp.where(ok, r2, 1))
    rhat = displacement / r[..., None]
    kr = k * r
    e = jnp.exp(1j * kr) / (4 * jnp.pi * r)
    inv = 1 / kr
    g_i = e * (1 + 1j * inv - inv ** 2)
    g_rr = e * (-1 - 3j * inv + 3 * inv ** 2)
    g_c = e * (1 + 1j * inv)
    zero = jnp.zeros_like(e)
    return (jnp.where(ok, g_i, zero), jnp.where(ok, g_rr, zero), jnp.where(ok, g_c, zero),
            rhat)


def _cross_matrix(v):
    """[v]_x with [v]_x w = v x w; shape (..., 3, 3)."""
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    o = jnp.zeros_like(x)
    return jnp.stack([jnp.stack([o, -z, y], -1), jnp.stack([z, o, -x], -1),
                      jnp.stack([-y, x, o], -1)], -2)


@jax.jit
def green_tensors(displacement, wavenumber):
    r"""Free-space dyadic Green's tensors of the host, without the k^2 factor.

    G(R) = (I + grad grad / k^2) exp(ikR)/(4 pi R) (electric field of an electric dipole,
    E = k^2 G p~) and C(R) = exp(ikR)(1 + i/(kR))/(4 pi R) [R^]_x (the cross term: E of a
    magnetic dipole is -k^2 C m~, Z H of an electric dipole is k^2 C p~).

    Args:
        displacement: real, shape (..., 3); R = r_observation - r_source in nm, R != 0.
        wavenumber: k in the host, 1/nm.

    Returns:
        (G, C): complex, each shape (..., 3, 3); G symmetric, C antisymmetric; zero at R = 0.
    """
    displacement = jnp.asarray(displacement)
    g_i, g_rr, g_c, rhat = _green_parts(displacement, wavenumber)
    eye = jnp.eye(3, dtype=displacement.dtype)
    green = g_i[..., None, None] * eye + g_rr[..., None, None] * (rhat[..., :, None]
                                                                  * rhat[..., None, :])
    return green, g_c[..., None, None] * _cross_matrix(rhat)


@jax.jit
def interaction_matrix(positions, wavenumber):
    """The coupling matrix A (6N x 6N) between dipoles at different positions.

    Ordering of the 6N unknowns: [E_x, E_y, E_z of particles 0..N-1, then Z H likewise]
    (index = ((0 for E, 1 for H) * N + particle) * 3 + component). A = k^2 [[G, -C], [C, G]]
    with zero diagonal blocks, so that the field at particle i of the dipoles
    [p; m] is A [p; m].

    Args:
        positions: real, shape (N, 3), nm.
        wavenumber: k in the host, 1/nm.

    Returns:
        complex, shape (6N, 6N).
    """
    positions = jnp.asarray(positions)
    n = positions.shape[0]
    mask = ~jnp.eye(n, dtype=bool)
    g_i, g_rr, g_c, rhat = _green_parts(positions[:, None] - positions[None], wavenumber,
                                        mask)
    eye = jnp.eye(3, dtype=positions.dtype)
    green = g_i[..., None, None] * eye + g_rr[..., None, None] * (rhat[..., :, None]
                                                                  * rhat[..., None, :])
    cross = g_c[..., None, None] * _cross_matrix(rhat)  # (N, N, 3, 3)
    blocks = wavenumber ** 2 * jnp.stack([jnp.stack([green, -cross]),
                                          jnp.stack([cross, green])])  # (2, 2, N, N, 3, 3)
    return blocks.transpose(0, 2, 4, 1, 3, 5).reshape(6 * n, 6 * n)


#: Point-dipole pairs per row block of ``_dipole_fields`` (a few MB of temporaries): smaller
#: blocks were up to 20% faster per pair on a 2-core CPU at N = 1500 than 256 full rows.
_PAIRS_PER_BLOCK = 2 ** 15


def _dipole_fields(points, positions, p, m, k, mask=None):
    """E and Z H radiated at points (M, 3) by dipoles p, m (N, 3) at positions (N, 3).

    Rows are streamed in blocks; ``jax.checkpoint`` makes reverse mode store only each
    block's inputs and recompute its Green's tensors, so no transformation holds M x N of
    them at once."""

    @functools.partial(jax.checkpoint, prevent_cse=False)  # prevent_cse: not needed in scans
    def one(point, row_mask):
        g_i, g_rr, g_c, rhat = _green_parts(point - positions, k, row_mask)  # (N,)

        def green(v):
            return g_i[:, None] * v + g_rr[:, None] * rhat * jnp.sum(rhat * v, -1,
                                                                       keepdims=True)

        def cross(v):
            return g_c[:, None] * jnp.cross(rhat, v)

        e = jnp.sum(green(p) - cross(m), axis=0)
        h = jnp.sum(cross(p) + green(m), axis=0)
        return k ** 2 * e, k ** 2 * h

    if mask is None:
        mask = jnp.ones((points.shape[0], positions.shape[0]), dtype=bool)
    batch = max(1, min(points.shape[0], _PAIRS_PER_BLOCK // positions.shape[0]))
    return lax.map(lambda args: one(*args), (points, mask), batch_size=batch)


def _plane_wave(points, k, direction, polarization):
    phase = jnp.exp(1j * k * (points @ direction))[..., None]
    return polarization * phase, jnp.cross(direction.astype(polarization.dtype),
                                           polarization) * phase


def _unit_incidence(direction, polarization, dtype):
    d = jnp.asarray(direction, dtype=dtype)
    d = d / jnp.linalg.norm(d)
    e = jnp.asarray(polarization).astype(jnp.result_type(dtype, jnp.complex64))
    e = e - d * jnp.sum(d * e)
    return d, e / jnp.linalg.norm(e)


@functools.partial(jax.jit, static_argnames=("method", "tol", "restart", "maxiter"))
def solve_dipoles(pol, positions, direction, polarization, *, method, tol, restart, maxiter
                  ) -> ClusterSolution:
    """Self-consistent dipoles (module docstring); the arguments of jaxmie.cluster.solve.

    Args:
        pol: Polarizabilities of the N spheres.
        positions: real, shape (N, 3), nm.
        direction, polarization: shape (3,) each (normalised and made orthogonal here).
        method: "dense" or "gmres"; tol, restart, maxiter: GMRES settings (static).
    """
    n = positions.shape[0]
    k = pol.wavenumber
    positions = positions.astype(jnp.result_type(positions.dtype, k.dtype))
    d, e = _unit_incidence(direction, polarization, positions.dtype)
    e_inc, h_inc = _plane_wave(positions, k, d, e)
    rhs = jnp.stack([e_inc, h_inc]).reshape(-1)
    alpha = jnp.broadcast_to(jnp.stack([pol.alpha_e, pol.alpha_m])[..., None],
                             (2, n, 3)).reshape(-1)

    if method == "dense":
        matrix = jnp.eye(6 * n, dtype=alpha.dtype) - interaction_matrix(positions, k) * alpha
        local = jnp.linalg.solve(matrix, rhs)

        def matvec(y):
            return matrix @ y
    else:
        not_self = ~jnp.eye(n, dtype=bool)

        def coupling(dipoles):  # A [p; m]: the other spheres' fields at every sphere
            d = dipoles.reshape(2, n, 3)
            e_f, h_f = _dipole_fields(positions, positions, d[0], d[1], k, not_self)
            return jnp.stack([e_f, h_f]).reshape(-1)

        # Reciprocity: A^T = P A P with P = diag(1, -1) on (E, Z H), so M^T = I - diag(alpha)
        # P A P is applied with the same blocked product; JAX's own transpose of it would
        # store the N^2 Green's tensors.
        sign = jnp.repeat(jnp.array([1.0, -1.0], dtype=positions.dtype), 3 * n)

        def matvec(y):
            return y - coupling(alpha * y)

        def vecmat(y):
            return y - alpha * sign * coupling(sign * y)

        def gmres(mv, b):
            # "incremental" stops inside a restart once converged; "batched" always builds
            # all `restart` Krylov vectors, each costing one O(N^2) product here.
            x, _ = jax.scipy.sparse.linalg.gmres(mv, b, tol=tol, atol=0.0,
                                                 restart=min(restart, 6 * n),
                                                 maxiter=maxiter, solve_method="incremental")
            return x

        local = lax.custom_linear_solve(matvec, rhs, solve=gmres,
                                        transpose_solve=lambda _, b: gmres(vecmat, b))

    residual = lax.stop_gradient(jnp.linalg.norm(matvec(local) - rhs) / jnp.linalg.norm(rhs))
    local = local.reshape(2, n, 3)
    dipoles = alpha.reshape(2, n, 3) * local
    return ClusterSolution(positions=positions, direction=d, polarization=e,
                           polarizabilities=pol, p=dipoles[0], m=dipoles[1],
                           e_local=local[0], h_local=local[1], residual=residual,
                           converged=residual <= tol)


@jax.jit
def dipole_cross_sections(solution: ClusterSolution) -> ClusterCrossSections:
    """Extinction (optical theorem), absorption and scattering of the cluster, in nm^2.

    Returns:
        ClusterCrossSections of scalars; sca = ext - abs.
    """
    s, pol = solution, solution.polarizabilities
    k = pol.wavenumber
    e_inc, h_inc = _plane_wave(s.positions, k, s.direction, s.polarization)
    ext = k * jnp.imag(jnp.sum(jnp.conj(e_inc) * s.p) + jnp.sum(jnp.conj(h_inc) * s.m))
    absorbed = (6 * jnp.pi / k ** 2) * jnp.sum(
        pol.absorption_e * jnp.sum(special.abs_squared(s.e_local), -1)
        + pol.absorption_m * jnp.sum(special.abs_squared(s.h_local), -1))
    return ClusterCrossSections(ext=ext, sca=ext - absorbed, abs=absorbed)


@jax.jit
def dipole_far_field(solution: ClusterSolution, directions) -> jax.Array:
    """Far-field amplitude F(n): E_sca = F exp(ikr) / r + O(1/r^2) (incident |E| = 1).

    Args:
        solution: ClusterSolution.
        directions: real, shape (..., 3); observation directions (normalised here).

    Returns:
        complex, shape (..., 3), nm; transverse to n. The differential scattering cross
        section is |F|^2 (nm^2/sr).
    """
    s = solution
    k = s.polarizabilities.wavenumber
    n = jnp.asarray(directions)
    n = n / jnp.linalg.norm(n, axis=-1, keepdims=True)
    phase = jnp.exp(-1j * k * (n @ s.positions.T))  # (..., N)
    p = jnp.einsum("...j,jc->...c", phase, s.p)
    m = jnp.einsum("...j,jc->...c", phase, s.m)
    n_c = n.astype(p.dtype)
    transverse = p - n_c * jnp.sum(n_c * p, -1, keepdims=True) - jnp.cross(n_c, m)
    return k ** 2 / (4 * jnp.pi) * transverse


@jax.jit
def dipole_near_field(solution: ClusterSolution, points):
    """Total E and Z H (incident plus every dipole's field) at probe points.

    Valid outside the spheres (the dipole fields are those of point sources; inside a sphere
    or within ~ a radius of its surface the multipoles the model drops matter). A point at a
    particle centre gets no contribution from that particle.

    Args:
        solution: ClusterSolution.
        points: real, shape (M, 3), nm.

    Returns:
        (E, H): complex, each shape (M, 3), relative to the incident field; H is Z H, so the
        incident wave has |E| = |Z H| = 1 and the intensity enhancement is |E|^2.
    """
    s = solution
    k = s.polarizabilities.wavenumber
    points = jnp.asarray(points).astype(s.positions.dtype)
    e_inc, h_inc = _plane_wave(points, k, s.direction, s.polarization)
    e_sca, h_sca = _dipole_fields(points, s.positions, s.p, s.m, k)
    return e_inc + e_sca, h_inc + h_sca
