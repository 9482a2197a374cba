"""Fast versions of the design notebooks (issue 5): PyMieDiff Fig. 4, Soun et al. (a), (b).

notebooks/pymiediff_fig4.ipynb fits 100 random core-shell particles to a Gaussian Q_sca
target; notebooks/directional_design.ipynb minimises -Q_fwd + Q_back at 705 nm over a Si core
and six shell materials with 5,004 starts. Here: 8 particles x 30 Adam steps, and 64 starts for
the SiO2 and Au shells. Truth: loss reductions, and the physics the full runs show (a thin
plasmonic shell, a thick dielectric one). notebooks/soun_inverse_design.ipynb recovers 200
random core-shell designs from their spectra; here 6, with the notebook's helpers
(notebooks/_core_shell_design.py). Truth: spectra from exact Mie of the known designs.
"""

import functools
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxmie as jm

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "notebooks"))
D = jm.design
FIT_FACTOR = 2.0   # measured: mean loss over the 8 starts falls 3.4x in 30 steps


def test_gaussian_target_fit_reduces_loss():
    wavelength = jnp.linspace(400.0, 800.0, 21)
    target = 2.0 * jnp.exp(-0.5 * ((wavelength - 600.0) / 50.0) ** 2)
    bounds = {"r_shell": D.Bounded(10.0, 100.0), "f": D.Bounded(0.0, 1.0),
              "n": D.Bounded(jnp.ones(2), 4.5), "k": D.Bounded(jnp.zeros(2), 0.1)}
    objective = D.spectrum_objective("q_sca", wavelength, target, n_max=10)

    def loss(p):
        m = p["n"] + 1j * p["k"]
        return objective(jm.CoreShell(r_core=10.0 + p["f"] * (p["r_shell"] - 10.0),
                                      r_shell=p["r_shell"], n_core=m[0], n_shell=m[1]))

    init = D.uniform_starts(jax.random.key(0), bounds, 8)
    res = D.multi_start(loss, init, optax.adam(0.1), 30, bounds=bounds, check_every=10)
    h = np.asarray(res.history)
    assert h.shape == (4, 8) and np.all(np.isfinite(h))
    for name, b in bounds.items():                       # constraints hold by construction
        assert np.all((res.params[name] > b.lo) & (res.params[name] < b.hi))
    assert np.mean(h[-1]) < np.mean(h[0]) / FIT_FACTOR
    assert float(res.loss[0]) < float(np.min(h[0]))


def test_directional_design_sio2_and_au_shells():
    names = ["Si", "Au", "SiO2"]
    table = jm.materials.stack([jm.materials.get(n) for n in names],
                               jnp.array([700.0, 705.0, 710.0]), names=names)
    objective = D.kerker_objective(705.0, mode="difference", n_max=12)

    def loss(p, mats):
        return objective(jm.CoreShell(r_core=p["r_core"], r_shell=p["r_core"] + p["t"],
                                      n_core=mats[0], n_shell=mats[1]))

    bounds = {"r_core": D.Bounded(1.0, 100.0), "t": D.Bounded(1.0, 100.0)}
    init = D.uniform_starts(jax.random.key(1), bounds, 64)
    res = D.enumerate_materials(loss, table, init, optax.adam(0.1), 300,
                                choices=[[0], [1, 2]], bounds=bounds, check_every=100)
    by_shell = {shell: i for i, (_, shell) in enumerate(res.names)}
    for i, (core, shell) in enumerate(res.names):
        row = table.material(0), table.material(names.index(shell))
        start = jax.vmap(lambda p, row=row: loss(p, row))(init)
        assert core == "Si"
        assert float(res.loss[i]) < float(jnp.min(start))            # better than any start
        assert np.median(res.start_loss[i]) < float(jnp.median(start))
    au = jax.tree.map(lambda x: x[by_shell["Au"]], res.params)
    sio2 = jax.tree.map(lambda x: x[by_shell["SiO2"]], res.params)
    # thin plasmonic shell, thick dielectric one. The Au optimum lies at the r_core = 100 nm
    # bound with t = 9.96 nm (same in the 5,004-start notebook): assert "thin" with a margin
    assert float(au["t"]) < 12.0 and float(au["r_core"]) > 95.0
    assert float(sio2["t"]) > 25.0
    assert float(res.loss[by_shell["SiO2"]]) < -10.0 and float(res.loss[by_shell["Au"]]) < -10.0


def test_soun_inverse_design_recovers_random_spectra():
    # Soun et al. (b): 6 random core-shell designs (49 material pairs, 1-100 nm) recovered
    # from their Q_fwd, Q_back spectra (64 wavelengths); the notebook runs 200 targets on a
    # 40 x 40 grid, this one 6 on 20 x 20. Measured: all 6 recovered exactly, pair and
    # spectra (error <= 7e-13 %), where Soun et al. report a mean of 1.12 % (surrogate
    # gradients). Margin: one target may end on a near-equivalent design
    import _core_shell_design as cs

    datasets = ["Si", "Au", "Ag", "SiO2", "Si3N4", "ZrO2", "TiO2/Sarkar"]
    table = jm.materials.stack([jm.materials.get(d) for d in datasets],
                               jnp.linspace(400.0, 800.0, 64))
    bounds = {"r_core": D.Bounded(1.0, 100.0), "t": D.Bounded(1.0, 100.0)}
    true_params, true_rows = cs.random_designs(jax.random.key(0), 6, bounds, len(datasets))
    targets = cs.batched_spectra(true_params, true_rows, table, 10)
    grid = cs.geometry_grid(bounds, 20)
    rows, starts = cs.screen(targets, cs.spectrum_library(table, grid, 10), grid, 16)
    solve = functools.partial(D.least_squares, cs.normalised_residual(table, 10),
                              bounds=bounds, steps=30)
    best_rows, best_params, _ = cs.keep_best(*cs.fit_pairs(solve, targets, rows, starts))
    recovered = cs.batched_spectra(best_params, best_rows, table, 10)
    err = 100 * np.asarray(cs.relative_errors(recovered, targets))
    assert np.mean(err) < 1.12 / 10
    assert np.sum(err < 1e-8) >= 5                       # exact recovery, not just close
    assert np.sum(np.all(np.asarray(best_rows) == np.asarray(true_rows), axis=1)) >= 5
