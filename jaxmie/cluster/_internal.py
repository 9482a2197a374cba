r"""Fields inside the spheres of a multipole cluster, from each sphere's exciting field.

Sphere i is excited by the regular waves sum_lm [f^M_lm Rg M_lm + f^N_lm Rg N_lm] about its
centre (MultipoleSolution.local; normalisation of jaxmie.cluster._waves). Its response is
diagonal in (l, m, parity) and independent of m, so each wave continues into every layer
with the radial functions of the plane-wave problem (jaxmie._layer_fields; Bohren &
Huffman 4.40-4.45, Yang 2003): with U_l and V_l normalised so that the host's regular wave
is psi_l(kr) (c = d = 1 in the host), in layer j (relative index m_j, rho = m_j k r)

.. math::
    \mathrm{Rg}\mathbf M_{lm} \to \frac{U_l(\rho)}{\rho}\,\mathbf X_{lm}, \qquad
    \mathrm{Rg}\mathbf N_{lm} \to i\sqrt{l(l+1)}\,\frac{V_l(\rho)}{\rho^2}\,Y_{lm}\hat{\mathbf r}
        + \frac{V_l'(\rho)}{\rho}\,\hat{\mathbf r}\times\mathbf X_{lm},

U_l = c_l psi_l(rho) - b_l zeta_l(rho) and V_l = d_l psi_l - a_l zeta_l (zeta terms only in
shells). The magnetic field follows from curl M = m_j k N and curl N = m_j k M (both with
the layer's rho): Z H = curl E / (i k) is -i m_j times E with the two radial functions
swapped between the M and N forms. E and Z H are relative to the incident wave, Z the
host's impedance, as outside.

At the centre the angular factors are undefined; a point within 1e-8 / (k |m|) of it is
moved that far off (jaxmie._layer_fields.off_centre), as in jaxmie.fields.

References:
    C. F. Bohren and D. R. Huffman, Absorption and Scattering of Light by Small Particles
    (Wiley, 1983), sections 4.1-4.4.
    W. Yang, Appl. Opt. 42, 1710 (2003).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .._layer_fields import LayerTables, layer_tables, off_centre, radial_functions
from ._multipoles import MultipoleSolution
from ._waves import angular_parts, mode_orders

__all__ = ["internal_fields", "sphere_tables"]


def sphere_tables(solution: MultipoleSolution) -> LayerTables:
    """LayerTables of every sphere at orders 1..lmax, batched along a leading axis (N)."""
    k = solution.wavenumber
    return jax.vmap(layer_tables, in_axes=(0, 0, None))(
        k * solution.layer_radii, solution.layer_index, solution.lmax)


def _internal_one(t: LayerTables, k, local, displacement, lmax: int):
    """(E, Z H) at one point inside a sphere: displacement (3,) nm from its centre, local
    (2, n_modes) its exciting field, t its LayerTables. Complex (3,) each."""
    position = off_centre(t, k, displacement)
    r = jnp.sqrt(jnp.sum(position ** 2))
    f, df, rho, m_j, _ = radial_functions(t, k * r, lmax)
    x, radial, n_x = angular_parts(position / r, lmax)
    degree = mode_orders(lmax)[0] - 1
    inv = 1 / rho
    u, v = f[0, degree] * inv, f[1, degree] * inv  # U / rho, V / rho per mode
    du, dv = df[0, degree] * inv, df[1, degree] * inv
    f_m, f_n = local
    e = (f_m * u) @ x + (f_n * v * inv) @ radial + (f_n * dv) @ n_x
    h = -1j * m_j * ((f_m * u * inv) @ radial + (f_m * du) @ n_x + (f_n * v) @ x)
    return e, h


def internal_fields(solution: MultipoleSolution, tables: LayerTables, owner, displacement):
    """E and Z H at points inside spheres, from each sphere's internal expansion.

    Args:
        solution: MultipoleSolution.
        tables: sphere_tables(solution).
        owner: int, shape (B,); the sphere each point lies in.
        displacement: real, shape (B, 3), nm; the point relative to that sphere's centre,
            within its outer radius (any point there, its centre included).

    Returns:
        (E, H): complex, each (B, 3); H is Z H, relative to the incident wave.
    """
    own = jax.tree.map(lambda v: v[owner], tables)
    return jax.vmap(_internal_one, in_axes=(0, None, 0, 0, None))(
        own, solution.wavenumber, solution.local[owner], displacement, solution.lmax)
