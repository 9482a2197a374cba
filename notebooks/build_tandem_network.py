"""Build and execute notebooks/tandem_network.ipynb (python notebooks/build_tandem_network.py)."""

from _notebook import code, execute_and_write, md

cells = [
    md("""# A tandem network trained through exact Mie (PyMieDiff Fig. 5)

A network reads a target scattering spectrum Q_sca(400-800 nm, 40 wavelengths) and proposes
a core-shell particle; jaxmie computes that particle's exact spectrum and the loss is the mean
squared error against the target, so the gradient flows through the Mie series into the
network ("tandem" training: no particle labels are used).

As in PyMieDiff's example: targets are spectra of random core-shell particles with core
radius and shell thickness in 40-100 nm, n in 1.5-4 and k in 0-0.1 for core and shell; the
network is an MLP 40 -> 1024 -> 1024 -> 1024 -> 6 with ReLU and a sigmoid output scaled to
those boxes (`jm.design.Bounded`), trained with Adam on minibatches. Differences: 20,000
training spectra (+ 1,000 held out), n_max = 12 (Wiscombe's rule at the largest size
parameter; PyMieDiff's example uses 4), the network in float32 and Mie in float64."""),
    code("""import os
import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
from _tandem import BOUNDS, core_shell, to_params

import jaxmie as jm

jax.config.update("jax_enable_x64", True)  # float64: the accuracy jaxmie is built for

D = jm.design
L = jm.learning
print("jax", jax.__version__, "| devices:", jax.devices(), "| CPU cores:", os.cpu_count())

wavelength = jnp.linspace(400.0, 800.0, 40)
N_MAX = 12        # x + 4.05 x^(1/3) + 2 = 11.04 at x = 2 pi 200 nm / 400 nm
N_TRAIN, N_HELD_OUT = 20_000, 1_000
start = time.perf_counter()
ds = L.random_dataset(jax.random.key(0), N_TRAIN + N_HELD_OUT, BOUNDS, core_shell, wavelength,
                      n_max=N_MAX, chunk=4096, verbose=True)
print(f"dataset: {time.perf_counter() - start:.1f} s")
spectra = ds.spectra["q_sca"]
train_set, held_out = spectra[:N_TRAIN], spectra[N_TRAIN:]
print("train", train_set.shape, "held out", held_out.shape,
      "| MSE of predicting the mean training spectrum on the held-out set:",
      float(jnp.mean((held_out - train_set.mean(0)) ** 2)))"""),
    md("""## Network and loss

`L.mlp_init` / `L.mlp_apply` are a plain pytree MLP (input: the spectrum standardised per
wavelength with the training set's mean and spread); `to_params` (in `notebooks/_tandem.py`,
shared with the fast test, beside `BOUNDS` and `core_shell`) maps the six linear outputs
through `D.from_unconstrained` (sigmoids) into the parameter boxes, so every proposed
particle is valid. `L.train` runs each epoch as one compiled `lax.scan` over shuffled minibatches."""),
    code("""# standardised input: raw spectra (Q_sca up to ~10) saturate the output sigmoids at start
mean, std = train_set.mean(0), train_set.std(0)


def design(net, target):
    return to_params(L.mlp_apply(net, (target - mean) / std))


def q_sca(p):
    return jm.efficiencies(core_shell(p), wavelength, n_max=N_MAX).q_sca


def tandem_loss(net, target):
    return D.spectrum_mse(jax.vmap(q_sca)(design(net, target)), target)


EPOCHS, BATCH = 30, 64
net = L.mlp_init(jax.random.key(1), (wavelength.size, 1024, 1024, 1024, 6))
steps = EPOCHS * (N_TRAIN // BATCH)
adam = optax.adam(optax.cosine_decay_schedule(3e-4, steps, alpha=0.1))
start = time.perf_counter()
result = L.train(tandem_loss, net, train_set, adam, jax.random.key(2), epochs=EPOCHS,
                 batch_size=BATCH, held_out=held_out, verbose=True)
train_seconds = time.perf_counter() - start
print(f"training: {EPOCHS} epochs x {N_TRAIN // BATCH} steps of {BATCH} spectra "
      f"in {train_seconds / 60:.1f} min ({os.cpu_count()} CPU cores, compilation included)")
print(f"final loss: train {float(result.train_loss[-1]):.4f}, "
      f"held out {float(result.held_out_loss[-1]):.4f}")"""),
    code("""fig, ax = plt.subplots(figsize=(6, 4))
ax.semilogy(np.arange(1, EPOCHS + 1), result.train_loss, "o-", label="train (epoch mean)")
ax.semilogy(np.arange(EPOCHS + 1), result.held_out_loss, "s-", label="held out")
ax.set_xlabel("epoch")
ax.set_ylabel("spectrum MSE")
ax.legend()
plt.tight_layout()
plt.show()"""),
    md("""## Held-out targets: target spectrum vs the spectrum of the proposed particle

The predicted spectra are recomputed with n_max = 24 to show that n_max = 12 is converged
(orders 13-24 fall below rounding)."""),
    code("""proposed = design(result.params, held_out)
predicted = jax.vmap(q_sca)(proposed)
check = jm.efficiencies(jax.vmap(core_shell)(proposed), wavelength, n_max=24).q_sca
print("max |Q_sca(n_max=12) - Q_sca(n_max=24)| over the held-out designs:",
      float(jnp.max(jnp.abs(predicted - check))))
errors = np.asarray(jnp.mean((predicted - held_out) ** 2, axis=1))
print("held-out MSE per target: median %.4f, 90th percentile %.4f" % (
    np.median(errors), np.percentile(errors, 90)))

picks = np.argsort(errors)[[100, 500, 800, 950]]          # from good to poor
fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
for ax, i in zip(axes.flat, picks):
    p = jax.tree.map(lambda x, i=i: np.asarray(x[i]), proposed)
    ax.plot(wavelength, held_out[i], "k--", lw=2, label="target")
    ax.plot(wavelength, predicted[i], "C3", lw=2, label="proposed particle")
    ax.set_title("MSE %.3g (rank %d / %d): r_c %.0f nm, t %.0f nm, n %.2f / %.2f" % (
        errors[i], int(np.sum(errors < errors[i])) + 1, errors.size, p["r_core"], p["t"],
        *p["n"]), fontsize=9)
    ax.set_ylabel("$Q_{sca}$")
for ax in axes[1]:
    ax.set_xlabel("wavelength (nm)")
axes[0, 0].legend()
plt.tight_layout()
plt.show()"""),
]

execute_and_write(cells, "tandem_network.ipynb", timeout=2400)
