"""Build and execute notebooks/soun_inverse_design.ipynb (python notebooks/build_soun_inverse_design.py)."""

from _notebook import code, execute_and_write, md

cells = [
    md("""# Inverse design of random spectra with discrete materials (Soun et al. (b))

Soun et al., Opt. Express 33, 25945 (2025), part (b): given the forward and backward
scattering spectra Q_fwd(λ) and Q_back(λ) of an unknown core-shell sphere (64 wavelengths,
400-800 nm), find a core material, a shell material and the geometry (core radius and shell
thickness, each 1-100 nm) that reproduce them. They report a mean relative error of the
recovered spectra of 1.12 % with gradients through a neural surrogate and 11.88 % with
differential evolution. Here the physics is exact Mie everywhere (no surrogate), and the
discrete choice is exact enumeration.

Setup (our choices, stated because they matter):

- **Materials**: the seven of part (a) (`directional_design.ipynb`), Si, Au, Ag, SiO2,
  Si3N4, ZrO2, TiO2, for core *and* shell: 49 pairs (same-material pairs are homogeneous
  spheres). Bundled data; TiO2 is the Sarkar thin-film set because the default (Devore,
  rutile) starts at 430 nm. In air (n_env = 1).
- **Targets**: 200 random designs, pair uniform over the 49, r_core and t uniform in
  1-100 nm, spectra from exact Mie.
- **Figure of merit**, per target: the mean over both spectra and all 64 wavelengths of
  |Q_pred - Q_target| / |Q_target| (`jm.design.mean_relative_error` on the (2, 64) array).

Method, three batched exact-Mie steps (helpers in `notebooks/_core_shell_design.py`):

1. **Library**: Q_fwd, Q_back of all 49 pairs on a 40 x 40 grid of (r_core, t), computed
   once for every target (78,400 particles x 64 wavelengths).
2. **Screen**: the distance of each target to every library spectrum (normalised by the
   target's mean, per spectrum); keep the 16 pairs that come closest, each with its closest
   grid point as start.
3. **Fit**: Levenberg-Marquardt (30 iterations, inside the bounds through
   `jm.design.Bounded`) on the normalised residual from those starts, all
   200 x 16 fits in one vmapped, jitted call; the lowest residual wins.

A last section compares the fit with `jm.design.multi_start` (Adam) from the same starts."""),
    code("""import functools
import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
from _core_shell_design import (
    batched_spectra,
    fit_pairs,
    geometry_grid,
    keep_best,
    normalised_residual,
    random_designs,
    relative_errors,
    screen,
    spectrum_library,
)

import jaxmie as jm

jax.config.update("jax_enable_x64", True)  # float64: the accuracy jaxmie is built for

D = jm.design
T0 = time.perf_counter()
names = ["Si", "Au", "Ag", "SiO2", "Si3N4", "ZrO2", "TiO2"]
datasets = ["Si", "Au", "Ag", "SiO2", "Si3N4", "ZrO2", "TiO2/Sarkar"]
wavelength = jnp.linspace(400.0, 800.0, 64)
table = jm.materials.stack([jm.materials.get(d) for d in datasets], wavelength, names=names)
for name, d, m in zip(names, datasets, table.index):
    print(f"{name:6s} ({jm.materials.get(d).name:22s}) n = {complex(m[0]):.3f} at 400 nm, "
          f"{complex(m[-1]):.3f} at 800 nm")

bounds = {"r_core": D.Bounded(1.0, 100.0), "t": D.Bounded(1.0, 100.0)}
N_MAX = 10            # outer radius <= 200 nm: x <= 3.1 at 400 nm (checked below)
N_TARGETS, GRID, KEEP, LM_STEPS = 200, 40, 16, 30
SOUN = {"gradient with surrogate": 1.12, "differential evolution": 11.88}   # % MRE"""),
    md("## Targets: 200 random designs and their exact spectra"),
    code("""true_params, true_rows = random_designs(jax.random.key(2025), N_TARGETS, bounds, len(names))
targets = batched_spectra(true_params, true_rows, table, N_MAX)      # (200, 2, 64)
# truncation check: n_max = 10 against 16 on every target
converged = batched_spectra(true_params, true_rows, table, 16)
print(f"max relative change of any target value from n_max = 10 to 16: "
      f"{float(jnp.max(jnp.abs(targets / converged - 1))):.1e}")
print(f"Q_back spans {float(targets[:, 1].min()):.1e} .. {float(targets[:, 1].max()):.2f}, "
      f"Q_fwd {float(targets[:, 0].min()):.1e} .. {float(targets[:, 0].max()):.2f}")"""),
    md("## Library and screen"),
    code("""start = time.perf_counter()
grid = geometry_grid(bounds, GRID)
library = spectrum_library(table, grid, N_MAX)
library[1].block_until_ready()
t_library = time.perf_counter() - start
print(f"library: {library[1].shape[0]} pairs x {library[1].shape[1]} geometries x 64 "
      f"wavelengths in {t_library:.1f} s (including compilation)")

start = time.perf_counter()
rows, starts = screen(targets, library, grid, KEEP)
rows.block_until_ready()
t_screen = time.perf_counter() - start
kept = np.any(np.all(np.asarray(rows) == np.asarray(true_rows)[:, None], axis=-1), axis=-1)
print(f"screen: {t_screen:.1f} s; the true pair is among the {KEEP} kept for "
      f"{100 * kept.mean():.1f} % of targets")"""),
    md("""## Fit: Levenberg-Marquardt for every (target, kept pair)

3,200 fits of two parameters against 128 values each, one vmapped batch."""),
    code("""residual = normalised_residual(table, N_MAX)
solve_lm = functools.partial(jm.design.least_squares, residual, bounds=bounds, steps=LM_STEPS)
start = time.perf_counter()
best_rows, best_params, best_loss = keep_best(*fit_pairs(solve_lm, targets, rows, starts))
best_loss.block_until_ready()
t_fit = time.perf_counter() - start
recovered = batched_spectra(best_params, best_rows, table, N_MAX)
err = 100 * np.asarray(relative_errors(recovered, targets))          # %
same_pair = np.all(np.asarray(best_rows) == np.asarray(true_rows), axis=-1)
print(f"fit: {rows.shape[0] * rows.shape[1]} fits x {LM_STEPS} iterations in {t_fit:.1f} s "
      "(including compilation)")
print(f"wall time, targets to recovered designs: {time.perf_counter() - T0:.0f} s")


def summary(err):
    return (f"mean {err.mean():.3g} %, median {np.median(err):.2g} %, "
            f"90th percentile {np.percentile(err, 90):.2g} %, max {err.max():.3g} %")


print(f"\\nmean relative error over {N_TARGETS} targets: {summary(err)}")
for method, value in SOUN.items():
    print(f"  Soun et al., {method}: {value} %  (ours is {value / err.mean():.0f}x lower)")
print(f"recovered to machine precision (< 1e-8 %): {100 * np.mean(err < 1e-8):.1f} % of targets")
print(f"true material pair recovered: {100 * same_pair.mean():.1f} % of targets")
print(f"  the other {np.sum(~same_pair)} reproduce the target with another pair: "
      f"{summary(err[~same_pair])}")"""),
    md("""Every target has an exact solution (its true design), so every error above machine
precision is a miss of the search. Most misses land on a near-equivalent design with another
pair (median 0.2 %): a few-nm core barely changes a large shell's spectra, a core and shell
of one material are one sphere, and Si3N4, ZrO2 and TiO2 have similar indices. The few large
errors are thin Ag shells and large Si shells, whose resonances are narrower than the
2.5 nm library grid, so the fit starts outside the true basin. The worst designs:"""),
    code("""def describe(rows, p):
    return (f"{names[int(rows[0])]:5s}/{names[int(rows[1])]:5s} "
            f"{float(p['r_core']):5.1f} + {float(p['t']):5.1f} nm")


print(f"{'target':30s} {'recovered':30s} {'MRE':>8s}")
for i in np.argsort(err)[::-1][:8]:
    take = lambda x, i=i: x[i]
    print(f"{describe(true_rows[i], jax.tree.map(take, true_params)):30s} "
          f"{describe(best_rows[i], jax.tree.map(take, best_params)):30s} {err[i]:7.3f} %")"""),
    md("## Error distribution"),
    code("""floor = 1e-12                 # exact recoveries (~1e-14 %) drawn at the floor
fig, ax = plt.subplots(figsize=(7, 3.5))
bins = np.logspace(np.log10(floor), 2, 43)
ax.hist(np.maximum(err, floor), bins=bins, color="C0", label=f"jaxmie, exact Mie ({N_TARGETS} targets)")
ax.axvline(err.mean(), color="C0", ls="--", label=f"our mean {err.mean():.3g} %")
for (method, value), color in zip(SOUN.items(), ["C1", "C3"]):
    ax.axvline(value, color=color, label=f"Soun et al. mean, {method} ({value} %)")
ax.set_xscale("log")
ax.set_xlabel("mean relative error of the recovered spectra (%)")
ax.set_ylabel("targets")
ax.legend(fontsize=8, loc="upper center")
plt.tight_layout()
plt.show()"""),
    md("## Example targets and recovered spectra (the worst three and a median one)"),
    code("""order = np.argsort(err)
examples = [*order[::-1][:3], order[len(order) // 2]]
fig, axes = plt.subplots(2, len(examples), figsize=(13, 5.5), sharex=True)
for j, i in enumerate(examples):
    take = lambda x, i=i: x[i]
    for row, label in enumerate(["$Q_{fwd}$", "$Q_{back}$"]):
        ax = axes[row, j]
        ax.plot(wavelength, targets[i, row], "k-", lw=3, alpha=0.3, label="target")
        ax.plot(wavelength, recovered[i, row], "C0--", label="recovered")
        ax.set_ylabel(label)
    axes[0, j].set_title(f"{describe(true_rows[i], jax.tree.map(take, true_params))}\\n"
                         f"-> {describe(best_rows[i], jax.tree.map(take, best_params))}\\n"
                         f"MRE {err[i]:.2g} %", fontsize=8)
    axes[1, j].set_xlabel("wavelength (nm)")
axes[0, 0].legend(fontsize=8)
plt.tight_layout()
plt.show()"""),
    md("""## Why Levenberg-Marquardt: the same fits with `jm.design.multi_start` (Adam)

The first 50 targets, the same kept pairs and grid starts, loss mean(residual²), Adam with a
cosine-decayed step (0.03 -> 0.0003 in unconstrained space), 100 steps."""),
    code("""ADAM_TARGETS, ADAM_STEPS = 50, 100
adam = optax.adam(optax.cosine_decay_schedule(0.03, ADAM_STEPS, alpha=0.01))


def solve_adam(init, data):
    res = D.multi_start(lambda p, d: jnp.mean(residual(p, d) ** 2), init, adam, ADAM_STEPS,
                        bounds=bounds, data=data, check_every=ADAM_STEPS)
    unsort = jnp.argsort(res.order)                  # multi_start sorts by loss
    return jax.tree.map(lambda x: x[unsort], res.params), res.loss[unsort]


subset = lambda x: x[:ADAM_TARGETS]
start = time.perf_counter()
a_rows, a_params, _ = keep_best(*fit_pairs(solve_adam, subset(targets), subset(rows),
                                           jax.tree.map(subset, starts)))
t_adam = time.perf_counter() - start
err_adam = 100 * np.asarray(relative_errors(batched_spectra(a_params, a_rows, table, N_MAX),
                                            subset(targets)))
print(f"Adam, {ADAM_STEPS} steps ({t_adam:.0f} s): {summary(err_adam)}")
print(f"LM, {LM_STEPS} iterations, same targets: {summary(err[:ADAM_TARGETS])}")"""),
    md("""Adam, at three times the iterations, stops short in the narrow, curved valleys
that sharp resonances of 100-200 nm particles make in (r_core, t); Gauss-Newton steps follow
them and converge quadratically on these zero-residual fits. The screen does the global part
of the search, the exact enumeration the discrete part, and a local least-squares solver the
rest."""),
]

execute_and_write(cells, "soun_inverse_design.ipynb", timeout=1800)
