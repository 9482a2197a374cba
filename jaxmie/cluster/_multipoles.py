r"""The multiple-scattering equations of N spheres in vector spherical waves, and their solvers.

Each sphere i is excited by the incident wave and by every other sphere's scattered field,
both expanded in regular waves about its centre (coefficients f_i, shape (2, n_modes)):

.. math::
    f_i = f^\mathrm{inc}_i + \sum_{j \ne i} W_{ij}\, T_j f_j, \qquad
    W_{ij} = \begin{pmatrix} A(\mathbf r_i - \mathbf r_j) & B \\ B & A \end{pmatrix},

with T_j the sphere's diagonal T-matrix (jaxmie.cluster._tmatrix) and A, B the translation
coefficients (jaxmie.cluster._translation). The unknowns are the exciting fields f (the
dipole model's local fields at lmax = 1); s_i = T_i f_i are the scattered coefficients.
Solving for f keeps the operator I - W T well scaled however small the high-order T_l are.

Solvers:

- ``dense``: assembles the (2 N n_modes)^2 matrix (A and B of every pair through one matrix
  product of the pair coefficients with the Gaunt tables) and calls jnp.linalg.solve;
  memory 16 (2 N n_modes)^2 bytes per copy (0.37 GB for N = 100 at lmax = 4, about three
  copies alive while differentiating), time O((N n_modes)^3).
- ``gmres``: jax.scipy.sparse.linalg.gmres with a matrix-free product that forms the
  translations of each row block on the fly (jaxmie.cluster._translation.coupling: memory
  of one block, ~64 MB, plus the sources' terms, 2 N (2 lmax + 1)^2 n_modes complex numbers,
  62 MB at N = 1000, lmax = 4), wrapped in jax.lax.custom_linear_solve: derivatives solve
  the transposed system (I - T W^T) by GMRES with the same tolerance, applying W^T with the
  same blocked product, instead of differentiating through the iterations. Forward and
  reverse mode, and higher orders, go through it.

Stability: the exciting field of a high degree l near a small sphere is large (the
neighbours' outgoing waves grow like (2l - 1)!! / (kd)^(l+1)) while t_l is tiny (~ x^(2l+1)
/ ((2l - 1)!! (2l + 1)!!)), so I - W T has rows and columns of very different sizes: at
x = 0.3, a gap of 0.25 (r_i + r_j) and lmax = 12 the unscaled LU kept only 1e-3 of the
cross sections (lmax = 14: none). Both solvers therefore work with y = S f, S = sqrt|T|
(elementwise, stop_gradient, floored at the smallest normal number):
(I - S W T S^-1) y = S f_inc, whose entries sqrt|t_a| W_ab sqrt|t_b| are balanced; f = y / S.

Every solution carries its relative residual ||M y - S b|| / ||S b|| of that scaled system
(recomputed with the product after the solve; not differentiated) and ``converged``
(residual <= tol). GMRES stops silently after ``maxiter`` restarts; the transposed solve of
a gradient is not reported.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
from jax import lax

from ._translation import coupling, source_terms, translation_matrices
from ._waves import mode_orders, n_modes, plane_wave_coefficients

__all__ = ["MultipoleSolution", "balancing_scale", "block_matrix", "dense_matrix",
           "solve_multipoles", "unit_incidence"]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class MultipoleSolution:
    """Self-consistent multipole coefficients of a cluster under one plane wave.

    Coefficients are of regular (incident, local) and outgoing (scattered) vector
    spherical waves about each sphere's centre, normalised as in jaxmie.cluster (module
    docstring), relative to an incident plane wave of unit amplitude; polarisation axis:
    0 for M (TE, magnetic multipoles), 1 for N (TM, electric); modes (l, m) at index
    l^2 + l + m - 1.

    Attributes:
        positions: real, shape (N, 3), nm.
        direction: real unit vector, shape (3,); propagation direction of the plane wave.
        polarization: complex unit vector, shape (3,), orthogonal to direction.
        wavenumber: real scalar; host k in 1/nm.
        t_matrix: complex, shape (N, 2, lmax); (-b_l, -a_l) of each sphere.
        absorption: real, shape (N, 2, lmax); (Re b_l - |b_l|^2, Re a_l - |a_l|^2).
        incident: complex, shape (N, 2, n_modes); the plane wave about each centre.
        local: complex, shape (N, 2, n_modes); field exciting each sphere (incident plus
            the other spheres' scattered fields).
        scattered: complex, shape (N, 2, n_modes); t_matrix times local.
        residual: real scalar; ||M f - b|| / ||b|| after the solve (stop_gradient).
        converged: bool scalar; residual <= tol.
        layer_radii: real, shape (N, L); layer radii of every sphere in nm, inner to
            outer (spheres with fewer than L layers have their core split into layers of
            the same index; jaxmie.cluster._tmatrix.padded_layers).
        layer_index: complex, shape (N, L); relative indices n_l / n_env of those layers.
    """

    positions: jax.Array
    direction: jax.Array
    polarization: jax.Array
    wavenumber: jax.Array
    t_matrix: jax.Array
    absorption: jax.Array
    incident: jax.Array
    local: jax.Array
    scattered: jax.Array
    residual: jax.Array
    converged: jax.Array
    layer_radii: jax.Array
    layer_index: jax.Array

    @property
    def lmax(self) -> int:
        return self.t_matrix.shape[-1]

    @property
    def radius(self) -> jax.Array:
        """Outer radii in nm, shape (N,)."""
        return self.layer_radii[:, -1]


def unit_incidence(direction, polarization, dtype):
    """Unit propagation direction and the unit polarisation's part orthogonal to it."""
    d = jnp.asarray(direction, dtype=dtype)
    d = d / jnp.linalg.norm(d)
    e = jnp.asarray(polarization).astype(jnp.result_type(dtype, jnp.complex64))
    e = e - d * jnp.sum(d * e)
    return d, e / jnp.linalg.norm(e)


def _per_mode(values, lmax):
    """(..., lmax) per degree -> (..., n_modes) per mode."""
    ls, _ = mode_orders(lmax)
    return values[..., ls - 1]


def _helicity(v):
    """(N, 2, n) parity coefficients -> (2, N, n) combinations M + N, M - N."""
    return jnp.stack([v[:, 0] + v[:, 1], v[:, 0] - v[:, 1]])


def _parity(v):
    """Inverse of _helicity: (2, N, n) -> (N, 2, n)."""
    return jnp.stack([(v[0] + v[1]) / 2, (v[0] - v[1]) / 2], 1)


def balancing_scale(t_modes):
    """S = sqrt|T| of the scaled system y = S f (module docstring, Stability), floored at the
    smallest normal number. S is any fixed diagonal, so it carries no derivative."""
    tiny = jnp.finfo(jnp.real(t_modes).dtype).tiny
    return lax.stop_gradient(jnp.sqrt(jnp.maximum(jnp.abs(t_modes), tiny)))


def block_matrix(a, b):
    """(N, N, n_modes, n_modes) translation coefficients A, B of every pair -> the dense
    (N 2 n_modes)^2 matrix [[A, B], [B, A]] per pair, ordered (sphere, pol, mode)."""
    n, nm = a.shape[0], a.shape[-1]
    w = jnp.stack([jnp.stack([a, b], -3), jnp.stack([b, a], -3)], -4)  # (N, N, 2, 2, nm, nm)
    return w.transpose(0, 2, 4, 1, 3, 5).reshape(n * 2 * nm, n * 2 * nm)


def dense_matrix(positions, k, rows, columns, lmax):
    """I - diag(rows) W diag(columns) as a dense (N 2 n_modes)^2 matrix, unknowns ordered
    (sphere, pol, mode); rows and columns of shape (N, 2, n_modes)."""
    n, nm = positions.shape[0], n_modes(lmax)
    if n == 1:  # no pairs (and XLA would constant-fold the all-masked products)
        return jnp.eye(2 * nm, dtype=columns.dtype)
    mask = ~jnp.eye(n, dtype=bool)
    w = block_matrix(*translation_matrices(positions[:, None] - positions[None], k, lmax, mask))
    return jnp.eye(w.shape[0], dtype=w.dtype) - rows.reshape(-1, 1) * w * columns.reshape(-1)


@functools.partial(jax.jit, static_argnames=("lmax", "method", "tol", "restart", "maxiter"))
def solve_multipoles(terms, positions, direction, polarization, *, lmax, method, tol,
                     restart, maxiter) -> MultipoleSolution:
    """Solve the multiple-scattering equations (module docstring).

    Args:
        terms: jaxmie.cluster._tmatrix.SphereTerms of N spheres (lmax orders).
        positions: real, shape (N, 3), nm.
        direction, polarization: shape (3,) each (normalised and made orthogonal here).
        lmax: highest degree (static); method: "dense" or "gmres"; tol, restart, maxiter:
            GMRES settings (tol is also the threshold of ``converged``).

    Returns:
        MultipoleSolution.
    """
    k = terms.wavenumber
    n, nm = positions.shape[0], n_modes(lmax)
    positions = positions.astype(jnp.result_type(positions.dtype, k.dtype))
    d, e = unit_incidence(direction, polarization, positions.dtype)
    phase = jnp.exp(1j * k * (positions @ d))
    incident = phase[:, None, None] * plane_wave_coefficients(d, e, lmax)  # (N, 2, nm)
    t_modes = _per_mode(terms.t, lmax)  # (N, 2, nm)
    scale = balancing_scale(t_modes)
    columns = t_modes / scale
    rhs = (scale * incident).reshape(-1)

    if method == "dense":
        matrix = dense_matrix(positions, k, scale, columns, lmax)
        scaled = jnp.linalg.solve(matrix, rhs)

        def matvec(f):
            return matrix @ f
    else:
        def product(v, transpose):
            z = source_terms(_helicity(v), lmax, transpose)
            return _parity(coupling(positions, positions, z, k, lmax)).reshape(-1)

        def matvec(y):
            return y - scale.reshape(-1) * product(columns * y.reshape(n, 2, nm), False)

        def vecmat(x):
            return x - columns.reshape(-1) * product(scale * x.reshape(n, 2, nm), True)

        def gmres(mv, b):
            # "incremental" stops inside a restart once converged; each Krylov vector costs
            # one O(N^2) product here.
            x, _ = jax.scipy.sparse.linalg.gmres(mv, b, tol=tol, atol=0.0,
                                                 restart=min(restart, b.shape[0]),
                                                 maxiter=maxiter, solve_method="incremental")
            return x

        scaled = lax.custom_linear_solve(matvec, rhs, solve=gmres,
                                         transpose_solve=lambda _, b: gmres(vecmat, b))

    residual = lax.stop_gradient(jnp.linalg.norm(matvec(scaled) - rhs) / jnp.linalg.norm(rhs))
    local = scaled.reshape(n, 2, nm) / scale
    return MultipoleSolution(positions=positions, direction=d, polarization=e, wavenumber=k,
                             t_matrix=terms.t,
                             absorption=terms.absorption, incident=incident, local=local,
                             scattered=t_modes * local, residual=residual,
                             converged=residual <= tol, layer_radii=terms.layer_radii,
                             layer_index=terms.layer_index)
