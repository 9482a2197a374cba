"""Build and execute notebooks/nanoshell_fit.ipynb (python notebooks/build_nanoshell_fit.py)."""

from _notebook import code, execute_and_write, md

cells = [
    md("""# Fitting a noisy extinction spectrum of gold nanoshells, with uncertainties

Silica core / gold shell nanoshells in water (n_env = 1.33). A synthetic "measured"
extinction spectrum, 500-1000 nm, is made from a true geometry (core 60 nm, shell 75 nm,
an overall scale factor 1, standing in for concentration x path length) plus Gaussian noise
of known sigma = 1 % of the maximum. We fit core radius, shell radius and scale with
`jm.design.multi_start` (bounded radii, several starts), then get the parameter covariance
from `jm.design.laplace_covariance` with the loss written as the negative log-likelihood,
0.5 chi^2 = 0.5 sum((model - data) / sigma)^2. A Monte-Carlo check over 20 noise
realisations tests whether the reported sigma matches the scatter of the fitted values."""),
    code("""import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import jaxmie as jm

jax.config.update("jax_enable_x64", True)  # float64: the accuracy jaxmie is built for
from jaxmie import design

gold, silica = jm.materials.get("Au"), jm.materials.get("SiO2")
wavelength = jnp.linspace(500.0, 1000.0, 81)
KEYS = ("r_core", "r_shell", "scale")


def model(p):
    particle = jm.CoreShell(r_core=p["r_core"], r_shell=p["r_shell"], n_core=silica,
                            n_shell=gold)
    return p["scale"] * jm.efficiencies(particle, wavelength, n_env=1.33, n_max=10).q_ext


true = {"r_core": jnp.array(60.0), "r_shell": jnp.array(75.0), "scale": jnp.array(1.0)}
clean = model(true)
sigma = 0.01 * float(clean.max())
data = clean + sigma * jax.random.normal(jax.random.PRNGKey(0), clean.shape)
print(f"noise sigma = {sigma:.4f} (1 % of max Q_ext = {float(clean.max()):.3f})")"""),
    md("""## Multi-start fit

Bounds keep every iterate physical: the core box (40, 70) nm lies below the shell box
(70, 95) nm, so r_core < r_shell always. Eight starts drawn uniformly in the boxes."""),
    code("""bounds = {"r_core": design.Bounded(40.0, 70.0), "r_shell": design.Bounded(70.0, 95.0),
          "scale": design.Bounded(0.5, 2.0)}


def loss(p, y):
    \"\"\"0.5 chi^2: the negative log-likelihood for independent Gaussian noise sigma.\"\"\"
    return 0.5 * jnp.sum(((model(p) - y) / sigma) ** 2)


n_starts = 8
init = design.uniform_starts(jax.random.PRNGKey(1), bounds, n_starts)
start = time.perf_counter()
res = design.multi_start(loss, init, optax.adam(0.05), 400, bounds=bounds, tol=1e-6,
                         check_every=50, data=jnp.broadcast_to(data, (n_starts, data.size)))
best = res.best
print(f"{res.steps} steps, {time.perf_counter() - start:.1f} s")
print("final 0.5 chi^2 of the starts:", np.round(np.asarray(res.loss), 3))
dof = data.size - 3
print(f"chi^2 / dof at the best fit = {2 * float(res.loss[0]) / dof:.3f}  (dof = {dof})")"""),
    md("""## Laplace uncertainties

Assumptions: independent Gaussian noise of known sigma, flat prior, the optimum inside the
bounds (checked below), locally Gaussian posterior. Then Sigma = (Hessian of 0.5 chi^2)^-1
in the constrained parameters (nm, nm, 1)."""),
    code("""lap = design.laplace_covariance(lambda p: loss(p, data), best, mode="forward")
print("Hessian eigenvalues:", np.asarray(jnp.linalg.eigvalsh(lap.hessian)))
print(f"{'param':8s} {'fit':>10s} {'1 sigma':>9s} {'true':>7s} {'(fit-true)/sigma':>17s}")
for k in KEYS:
    z = float((best[k] - true[k]) / lap.std[k])
    print(f"{k:8s} {float(best[k]):10.3f} {float(lap.std[k]):9.4f} {float(true[k]):7.2f} {z:17.2f}")
std = np.sqrt(np.diag(np.asarray(lap.covariance)))
print("correlation matrix:\\n", np.round(np.asarray(lap.covariance) / np.outer(std, std), 3))
assert all(abs(float((best[k] - true[k]) / lap.std[k])) < 3 for k in KEYS)"""),
    code("""fit = model(best)
fig, (ax, axr) = plt.subplots(2, 1, figsize=(7, 5.5), sharex=True,
                              gridspec_kw={"height_ratios": [3, 1]})
ax.errorbar(wavelength, data, yerr=sigma, fmt=".", ms=3, color="k", label="data (1 sigma)")
ax.plot(wavelength, fit, "C3", label="fit")
ax.plot(wavelength, clean, "C0--", lw=1, label="truth")
ax.set_ylabel("extinction (scale x $Q_{ext}$)")
label = ", ".join(f"{k} = {float(best[k]):.2f} ± {float(lap.std[k]):.2f}" for k in KEYS)
ax.set_title(f"SiO$_2$/Au nanoshells in water\\n{label}", fontsize=9)
ax.legend()
axr.plot(wavelength, (data - fit) / sigma, ".", color="k")
axr.axhline(0, color="grey", lw=0.5)
axr.set_ylabel("residual / sigma")
axr.set_xlabel("wavelength (nm)")
plt.tight_layout()
plt.show()"""),
    md("""## Monte-Carlo check of the reported sigma

Twenty independent noise realisations, each fitted from two random starts, all in one
vmapped `multi_start` call (the spectrum is passed per start as `data`). If the Laplace
approximation holds, the standard deviation of the fitted values matches the Laplace sigma
(ratio ~1; with 20 samples the ratio itself is uncertain by about 1/sqrt(2 x 19) ~ 16 %)."""),
    code("""n_real, n_per = 20, 2
spectra = clean + sigma * jax.random.normal(jax.random.PRNGKey(2), (n_real, clean.size))
init = design.uniform_starts(jax.random.PRNGKey(3), bounds, n_real * n_per)
start = time.perf_counter()
mc = design.multi_start(loss, init, optax.adam(0.05), 400, bounds=bounds, tol=1e-6,
                        check_every=50, data=jnp.repeat(spectra, n_per, axis=0))
print(f"{n_real * n_per} fits, {mc.steps} steps, {time.perf_counter() - start:.1f} s")
unsort = jnp.argsort(mc.order)
losses = mc.loss[unsort].reshape(n_real, n_per)
pick = jnp.argmin(losses, axis=1)
fits = {k: np.asarray(v[unsort].reshape(n_real, n_per)[jnp.arange(n_real), pick])
        for k, v in mc.params.items()}
print("chi^2/dof per realisation:", np.round(np.asarray(2 * losses.min(1) / dof), 2))
print(f"{'param':8s} {'MC mean':>10s} {'MC std':>9s} {'Laplace':>9s} {'ratio':>7s}")
ratios = {}
for k in KEYS:
    ratios[k] = fits[k].std(ddof=1) / float(lap.std[k])
    print(f"{k:8s} {fits[k].mean():10.3f} {fits[k].std(ddof=1):9.4f} {float(lap.std[k]):9.4f}"
          f" {ratios[k]:7.2f}")"""),
    code("""fig, axes = plt.subplots(1, 3, figsize=(10, 3))
for ax, k in zip(axes, KEYS):
    ax.hist(fits[k], bins=8, density=True, alpha=0.6, label="MC fits")
    x = np.linspace(float(true[k]) - 4 * float(lap.std[k]), float(true[k]) + 4 * float(lap.std[k]), 200)
    ax.plot(x, np.exp(-0.5 * ((x - float(true[k])) / float(lap.std[k])) ** 2)
            / (np.sqrt(2 * np.pi) * float(lap.std[k])), "C3", label="Laplace")
    ax.axvline(float(true[k]), color="k", lw=0.8)
    ax.set_title(f"{k}: MC/Laplace = {ratios[k]:.2f}", fontsize=9)
axes[0].legend(fontsize=8)
plt.tight_layout()
plt.show()"""),
]

execute_and_write(cells, "nanoshell_fit.ipynb", timeout=900)
