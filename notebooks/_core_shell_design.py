"""Core-shell design helpers shared by the Soun et al. notebooks and their fast tests.

Geometry is a dict {"r_core": nm, "t": shell thickness in nm}; materials are rows of a
`jm.materials.StackedTable` tabulated on the design's wavelength grid (exact there).

Inverse design of spectra (Soun et al. (b)) runs in three batched steps, all exact Mie:

1. `spectrum_library`: Q_fwd and Q_back of every material pair on a geometry grid
   (independent of the targets, so it is computed once for all of them);
2. `screen`: keep each target's closest pairs, each with its closest grid point as start;
3. `fit_pairs` with `jm.design.least_squares`: Levenberg-Marquardt from every start in one
   vmapped batch; `keep_best` picks each target's best fit.

Distances and residuals are relative to the target's mean over wavelengths, per spectrum
(`normalised_residual`), so targets of any size weigh the same.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

import jaxmie as jm

jax.config.update("jax_enable_x64", True)  # float64: the accuracy jaxmie is built for

D = jm.design


def core_shell(p, mats) -> jm.CoreShell:
    """Core-shell particle from p = {"r_core", "t"} (nm) and mats = (core, shell)."""
    return jm.CoreShell(r_core=p["r_core"], r_shell=p["r_core"] + p["t"],
                        n_core=mats[0], n_shell=mats[1])


def directional_spectra(p, rows, table, n_max: int) -> jax.Array:
    """Q_fwd and Q_back of one particle on the table's grid, shape (2, n_wavelengths).

    Args:
        p: geometry {"r_core", "t"} (scalars, nm).
        rows: (core, shell) table rows, ints (may be traced).
        table: `StackedTable` whose wavelength grid is the spectrum's.
        n_max: static number of multipole orders.
    """
    mats = (table.material(rows[0]), table.material(rows[1]))
    q = jm.efficiencies(core_shell(p, mats), table.wavelength, n_max=n_max)
    return jnp.stack([q.q_fwd, q.q_back])


def batched_spectra(params, rows, table, n_max: int, batch_size: int = 1024) -> jax.Array:
    """`directional_spectra` of many particles, shape (N, 2, n_wavelengths).

    Args:
        params: geometry dict with leaves of shape (N,). rows: shape (N, 2) ints.
        batch_size: particles per vmapped block (`lax.map` streams blocks, bounding memory).
    """
    one = lambda pr: directional_spectra(pr[0], pr[1], table, n_max)
    return jax.jit(lambda p, r: jax.lax.map(one, (p, r), batch_size=batch_size))(params, rows)


def random_designs(key: jax.Array, n: int, bounds, n_materials: int):
    """n designs: geometry uniform in the `Bounded` boxes, core and shell rows uniform.

    Returns:
        (params with leaves (n,), rows (n, 2) int32).
    """
    k_geometry, k_rows = jax.random.split(key)
    rows = jax.random.randint(k_rows, (n, 2), 0, n_materials, dtype=jnp.int32)
    return D.uniform_starts(k_geometry, bounds, n), rows


def geometry_grid(bounds, n_per_axis: int):
    """Cell-centred grid in the `Bounded` boxes (strictly inside, where the bijection is finite).

    Returns:
        geometry dict with leaves of shape (n_per_axis**2,), r_core-major.
    """
    axes = [b.lo + (b.hi - b.lo) * (np.arange(n_per_axis) + 0.5) / n_per_axis
            for b in (bounds["r_core"], bounds["t"])]
    r_core, t = np.meshgrid(*axes, indexing="ij")
    return {"r_core": jnp.asarray(r_core.ravel()), "t": jnp.asarray(t.ravel())}


def spectrum_library(table, grid, n_max: int):
    """Q_fwd, Q_back of every (core, shell) pair of table rows at every grid geometry.

    Returns:
        (pairs (P, 2) int, spectra (P, G, 2, n_wavelengths)), P = n_materials**2 pairs
        (core-major), G grid points.
    """
    n_materials = int(table.index.shape[0])
    pairs = np.array(list(itertools.product(range(n_materials), repeat=2)), dtype=np.int32)
    g = grid["r_core"].shape[0]
    params = jax.tree.map(lambda x: jnp.tile(x, pairs.shape[0]), grid)
    spectra = batched_spectra(params, jnp.asarray(np.repeat(pairs, g, axis=0)), table, n_max)
    return pairs, spectra.reshape(pairs.shape[0], g, *spectra.shape[1:])


@jax.jit
def _closest_per_pair(targets, spectra):
    """Distance from each target to each pair's closest grid point,
    sum_s sum_w ((L - T) / mean_w T)^2 (expanded so the cross term is one matmul).

    Returns:
        (distance (T, P), grid index (T, P)).
    """
    lib = spectra.reshape(-1, *spectra.shape[2:])                        # (P * G, 2, W)
    weight = 1.0 / jnp.mean(targets, axis=2) ** 2                        # (T, 2)
    d2 = (weight @ jnp.sum(lib ** 2, axis=2).T
          + jnp.sum(weight * jnp.sum(targets ** 2, axis=2), axis=1)[:, None]
          - 2.0 * jnp.einsum("tsw,lsw->tl", weight[..., None] * targets, lib))
    d2 = d2.reshape(targets.shape[0], *spectra.shape[:2])
    return jnp.min(d2, axis=2), jnp.argmin(d2, axis=2)


def screen(targets, library, grid, n_keep: int):
    """The n_keep pairs whose grid spectra come closest to each target, with their closest
    grid geometry as start.

    Args:
        targets: (T, 2, n_wavelengths) Q_fwd, Q_back. library: `spectrum_library`'s output.
        grid: the geometry grid the library was computed on.

    Returns:
        (rows (T, n_keep, 2), starts: geometry dict with leaves (T, n_keep)), closest first.
    """
    pairs, spectra = library
    distance, point = _closest_per_pair(targets, spectra)
    keep = jnp.argsort(distance, axis=1)[:, :n_keep]
    point = jnp.take_along_axis(point, keep, axis=1)
    return jnp.asarray(pairs)[keep], jax.tree.map(lambda x: x[point], grid)


def normalised_residual(table, n_max: int):
    """Build residual(p, (target, rows)) = (Q - Q_target) / mean_w Q_target, per spectrum.

    Returns:
        a function of one geometry and one (target (2, W), rows (2,)) pair, giving (2 * W,).
    """
    def residual(p, data):
        target, rows = data
        q = directional_spectra(p, rows, table, n_max)
        return ((q - target) / jnp.mean(target, axis=1, keepdims=True)).ravel()
    return residual


def fit_pairs(solve, targets, rows, starts):
    """Fit every (target, start) in one batch.

    Args:
        solve: solve(init, data) -> (params, loss), leaves (N,), in start order, with
            data = (target (N, 2, W), rows (N, 2)); e.g. `jm.design.least_squares` with its
            keywords
            bound by `functools.partial`.
        targets: (T, 2, W). rows (T, K, 2), starts (leaves (T, K)): `screen`'s output.

    Returns:
        (rows (T, K, 2), params with leaves (T, K), loss (T, K)).
    """
    t, k = rows.shape[:2]
    data = (jnp.repeat(targets, k, axis=0), rows.reshape(t * k, 2))
    params, loss = solve(jax.tree.map(lambda x: x.reshape(t * k), starts), data)
    return rows, jax.tree.map(lambda x: x.reshape(t, k), params), loss.reshape(t, k)


def keep_best(rows, params, loss):
    """Each target's lowest-loss fit (NaN counts as worst).

    Args:
        rows (T, K, 2), params (leaves (T, K)), loss (T, K): `fit_pairs`'s output.

    Returns:
        (rows (T, 2), params with leaves (T,), loss (T,)).
    """
    best = jnp.argmin(jnp.where(jnp.isnan(loss), jnp.inf, loss), axis=1)
    take = lambda x: jnp.take_along_axis(x, best[:, None], axis=1)[:, 0]
    return (jnp.take_along_axis(rows, best[:, None, None], axis=1)[:, 0],
            jax.tree.map(take, params), take(loss))


def relative_errors(predicted, target) -> jax.Array:
    """Per design `jm.design.mean_relative_error` over both spectra and every wavelength.

    Args:
        predicted, target: (N, 2, n_wavelengths) Q_fwd and Q_back spectra.

    Returns:
        shape (N,).
    """
    return jax.vmap(D.mean_relative_error)(predicted, target)
