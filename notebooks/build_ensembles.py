"""Build and execute notebooks/ensembles.ipynb (python notebooks/build_ensembles.py)."""

from _notebook import code, execute_and_write, md

cells = [
    md("""# Polydisperse ensembles: a water cloud and a dense colloidal suspension

`jaxmie.ensemble` averages Mie optics over size distributions by quadrature, so that the
averages are smooth, differentiable functions of the distribution's parameters.
`jaxmie.suspension` adds what dense suspensions need: the scattering vector, the sphere form
factor, the Percus-Yevick hard-sphere structure factor and the decoupling approximation,
and fits (volume fraction, polydispersity) to a measured I(q) with optax.

1. A log-normal water cloud (Hale & Querry water): extinction, albedo and asymmetry spectra,
   the phase function and polarisation at 550 nm, and gradients with respect to r_eff, v_eff.
2. A dense suspension of Schulz-distributed hard spheres: S(q), beta(q), I(q), a fit of
   (eta, p) to a noisy curve, and the same decoupling with Mie amplitudes for light.
3. Batches at scale: 10^6 sphere-wavelength pairs in bounded memory."""),
    code("""import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import jaxmie as jm

jax.config.update("jax_enable_x64", True)  # float64: the accuracy jaxmie is built for
import jaxmie.materials
from jaxmie import ensemble, suspension

water = jaxmie.materials.get("H2O")
print(water.name, "valid", water.wavelength_range, "nm")"""),
    md("""## 1. A log-normal water cloud

Cloud droplets with effective radius 4 um and effective variance 0.1 (Hansen & Travis),
i.e. a log-normal with r_g = r_eff / (1 + v_eff)^(5/2) and sigma^2 = ln(1 + v_eff).
The quadrature drops 1e-6 of the droplets in the tails (`tail`); `nodes` must resolve the
ripple structure at the largest size parameter, so we first check convergence at 550 nm."""),
    code("""cloud = ensemble.LogNormal.from_effective(4000.0, 0.1)
print(f"r_g = {float(cloud.median):.1f} nm, sigma = {float(cloud.sigma):.4f}, "
      f"r_eff = {float(cloud.effective_radius()):.1f} nm, "
      f"v_eff = {float(cloud.effective_variance()):.4f}")

for nodes in (512, 1024, 2048, 4096, 8192):
    quad = ensemble.Quadrature(nodes=nodes, tail=1e-6)
    o = ensemble.mean_optics(cloud, water, jnp.array([550.0]), quadrature=quad)
    print(f"{nodes:5d} nodes: Q_ext = {float(o.q_ext[0]):.8f}, g = {float(o.g[0]):.8f}, "
          f"albedo = {float(o.albedo[0]):.10f}")"""),
    md("""Water is almost lossless at 550 nm (k ~ 2e-9), so droplets of x up to ~200
have very narrow resonances; the quadrature converges slowly, to ~1e-4 in Q_ext and g
at 2048-8192 nodes (absorbing particles converge much faster: see the tests). 2048 nodes
are plenty for the plots below.

Extinction, single-scattering albedo and asymmetry parameter from 0.4 to 15 um:
Q_ext tends to 2 at short wavelengths (the extinction paradox), the albedo drops in the
water absorption bands near 1.45, 1.94, 2.9 and beyond 6 um."""),
    code("""quad = ensemble.Quadrature(nodes=2048, tail=1e-6)
wavelengths = jnp.geomspace(400.0, 15000.0, 100)
start = time.perf_counter()
spec = ensemble.mean_optics(cloud, water, wavelengths, quadrature=quad)
spec.q_ext.block_until_ready()
print(f"{wavelengths.size} wavelengths x {quad.nodes} radii: {time.perf_counter() - start:.1f} s "
      "(with compilation)")

fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
for ax, value, label in zip(axes, (spec.q_ext, spec.albedo, spec.g),
                            ("mean Q_ext = <C_ext> / <pi r^2>", "single-scattering albedo",
                             "asymmetry parameter g")):
    ax.semilogx(wavelengths / 1000, value)
    ax.set_xlabel("wavelength (um)")
    ax.set_title(label, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
plt.tight_layout()
plt.show()
k_mass = spec.mass_extinction(1.0)  # water, 1 g/cm^3
print(f"mass extinction at 550 nm: {float(jnp.interp(550.0, wavelengths, k_mass)):.1f} m^2/g "
      f"(geometric optics 3 Q_ext / (4 rho r_eff) = "
      f"{3 * 2 / (4 * 1e6 * 4000e-9):.1f} m^2/g)")"""),
    md("""### Phase function and polarisation at 550 nm

The ensemble phase function p(theta) = 4 pi <S11> / (k^2 <C_sca>) (normalised to 4 pi)
shows the strong forward peak, the primary rainbow near 138 degrees and the glory at 180
degrees; a single droplet of radius r_eff (grey) has the same features buried in ripples.
The right panel is the degree of linear polarisation -S12/S11."""),
    code("""theta = jnp.linspace(0.0, jnp.pi, 1441)
start = time.perf_counter()
o = ensemble.mean_optics(cloud, water, jnp.array([550.0]), theta, quadrature=quad)
print(f"{theta.size} angles: {time.perf_counter() - start:.1f} s; "
      f"<C_sca> = {float(o.c_sca[0]):.4g} nm^2, g = {float(o.g[0]):.4f}")
mu, w = np.polynomial.legendre.leggauss(400)
check = ensemble.mean_optics(cloud, water, jnp.array([550.0]), jnp.arccos(jnp.asarray(mu)),
                             quadrature=quad)
print("int p dOmega / 4 pi =", float(2 * np.pi * jnp.sum(w * check.phase[0]) / (4 * np.pi)))

single = jm.mueller_matrix(jm.Sphere(radius=4000.0, n=water), 550.0, theta)
single_cs = jm.cross_sections(jm.Sphere(radius=4000.0, n=water), 550.0)
k = 2 * np.pi / 550.0
single_phase = 4 * np.pi * single.s11 / (k**2 * single_cs.c_sca)
deg = np.degrees(theta)
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4))
ax.semilogy(deg, single_phase, color="0.7", lw=0.6, label="one droplet, r = 4 um")
ax.semilogy(deg, o.phase[0], color="C0", lw=1.5, label="log-normal, r_eff 4 um, v_eff 0.1")
ax.set_xlabel("scattering angle (degrees)")
ax.set_ylabel("phase function p (4 pi normalised)")
ax.legend()
ax.grid(True, which="both", alpha=0.3)
ax2.plot(deg, -o.mueller.s12[0] / o.mueller.s11[0], color="C1")
ax2.set_xlabel("scattering angle (degrees)")
ax2.set_ylabel("-S12 / S11")
ax2.axvline(138, color="0.6", ls=":")
ax2.grid(True, alpha=0.3)
plt.tight_layout()
plt.show()"""),
    md("""### Gradients with respect to the distribution

The weights are smooth functions of (r_eff, v_eff), so `jax.jacfwd` / `jax.grad` give the
sensitivity of any ensemble quantity, e.g. for a retrieval of cloud properties. By default
the derivative is the quadrature of the derivative of the density (nodes held fixed, see
`ensemble.Quadrature`), as accurate as the value itself. Under `jit` the sizes are traced,
so `n_max` comes from `ensemble.ensemble_n_max` (computed once, for a slightly larger
cloud). A central finite difference checks the derivatives at 2.13 and 3.75 um, the
absorbing channels of cloud retrievals; at 550 nm (almost lossless water) the derivatives
are only as good as the ~1e-4 convergence of the values above."""),
    code("""wl = jnp.array([2130.0, 3750.0])
n_max = ensemble.ensemble_n_max(ensemble.LogNormal.from_effective(4400.0, 0.12), wl,
                                quadrature=quad)


@jax.jit
def observables(r_eff, v_eff):
    o = ensemble.mean_optics(ensemble.LogNormal.from_effective(r_eff, v_eff), water, wl,
                             quadrature=quad, n_max=n_max)
    return jnp.concatenate([o.q_ext, o.albedo])


jac = jax.jacfwd(observables, argnums=(0, 1))(4000.0, 0.1)
h = 1e-3
fd = (observables(4000.0 + 4000.0 * h, 0.1) - observables(4000.0 - 4000.0 * h, 0.1)) / (
    2 * 4000.0 * h)
names = ["Q_ext(2130)", "Q_ext(3750)", "albedo(2130)", "albedo(3750)"]
for name, d_r, d_v, d_fd in zip(names, jac[0], jac[1], fd):
    print(f"{name:>13}: d/dr_eff = {float(d_r): .4e} /nm (finite difference {float(d_fd): .4e}),"
          f" d/dv_eff = {float(d_v): .4e}")"""),
    md("""The albedo at 2.13 and 3.75 um (where water absorbs) falls as the droplets grow:
the sensitivity behind the Nakajima-King retrieval of cloud effective radius.

## 2. A dense suspension of polydisperse hard spheres

Spheres of number-mean radius 30 nm with a Schulz distribution (polydispersity p =
std/mean) at volume fraction eta. In the decoupling approximation
I(q) / <V^2> = P(q) [1 + beta(q) (S(q) - 1)] with the Percus-Yevick S(q) of spheres of the
mean diameter and beta = <F>^2 / <F^2> from the size distribution."""),
    code("""q = jnp.linspace(0.002, 0.3, 400)  # 1/nm
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
for eta in (0.05, 0.2, 0.35, 0.45):
    axes[0].plot(q, suspension.percus_yevick(q, 60.0, eta), label=f"eta = {eta}")
axes[0].set_title("Percus-Yevick S(q), diameter 60 nm", fontsize=10)
for p in (0.05, 0.1, 0.2):
    d = suspension.decoupling(q, ensemble.Gamma.schulz(30.0, p), 0.3)
    axes[1].plot(q, d.beta, label=f"p = {p}")
    axes[2].semilogy(q, d.intensity, label=f"p = {p}, eta = 0.3")
axes[2].semilogy(q, suspension.sphere_form_factor(q, 30.0), "k:", label="P(q), monodisperse")
axes[1].set_title("beta(q) = <F>^2 / <F^2>", fontsize=10)
axes[2].set_title("I(q) / <V^2>", fontsize=10)
for ax in axes:
    ax.set_xlabel("q (1/nm)")
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
print("S(0) for eta = 0.3:", float(suspension.percus_yevick(0.0, 60.0, 0.3)),
      "= (1 - eta)^4 / (1 + 2 eta)^2 =", 0.7**4 / 1.6**2)
plt.tight_layout()
plt.show()"""),
    md("""### Fitting (eta, p) to a measured curve

A synthetic measurement: eta = 0.32, p = 0.12, with 3 % multiplicative noise. The model
is the same decoupling approximation; `fit_suspension` runs Adam on sigmoid-bounded
parameters inside one jitted `lax.scan`, from a deliberately poor start."""),
    code("""rng = np.random.default_rng(0)
q_data = jnp.linspace(0.005, 0.25, 120)
truth = suspension.decoupling(q_data, ensemble.Gamma.schulz(30.0, 0.12), 0.32).intensity
measured = truth * jnp.asarray(1 + 0.03 * rng.standard_normal(q_data.size))

start = time.perf_counter()
fit = suspension.fit_suspension(q_data, measured, 30.0, eta0=0.1, polydispersity0=0.3,
                                steps=500, learning_rate=0.05)
print(f"fit in {time.perf_counter() - start:.1f} s (with compilation): "
      f"eta = {float(fit.eta):.4f} (true 0.32), p = {float(fit.polydispersity):.4f} (true 0.12)")

fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 3.8))
ax.semilogy(q_data, measured, ".", ms=3, label="synthetic data (3 % noise)")
ax.semilogy(q_data, fit.model, label="fit")
ax.set_xlabel("q (1/nm)")
ax.set_ylabel("I(q) / <V^2>")
ax.legend()
ax.grid(True, alpha=0.3)
ax2.semilogy(fit.losses)
ax2.set_xlabel("Adam step")
ax2.set_ylabel("mean squared log residual")
ax2.grid(True, alpha=0.3)
plt.tight_layout()
plt.show()"""),
    md("""### The same with light: Mie amplitudes in the decoupling approximation

Polystyrene-like spheres (n = 1.59) of mean radius 150 nm in water (n_env = 1.33) at
532 nm, p = 0.1, eta = 0.3. `mie_decoupling` replaces F by the Mie amplitudes S1, S2; for
these sizes 2 x |m - 1| ~ 0.9 (m = 1.59 / 1.33, x = 2.4), outside the RGD regime, and the
curves differ visibly.
At m -> 1 the two agree (tests/test_ensemble.py checks it)."""),
    code("""theta = jnp.linspace(0.02, jnp.pi, 300)
wl, n_env = 532.0, 1.33
dist = ensemble.Gamma.schulz(150.0, 0.1)
mie = suspension.mie_decoupling(dist, 1.59, wl, theta, 0.3, n_env=n_env)
q_theta = suspension.scattering_vector(theta, wl, n_env)
rgd = suspension.decoupling(q_theta, dist, 0.3)
polarisation = (1 + jnp.cos(theta) ** 2) / 2
plt.figure(figsize=(6.5, 4))
plt.semilogy(np.degrees(theta), mie.intensity, label="Mie amplitudes")
plt.semilogy(np.degrees(theta), rgd.intensity * polarisation, "--",
             label="RGD (x unpolarised factor)")
plt.xlabel("scattering angle (degrees)")
plt.ylabel("I / I_form(0)")
plt.legend()
plt.grid(True, alpha=0.3)
plt.show()"""),
    md("""## 3. Batches at scale

`pair_efficiencies` evaluates N independent sphere-wavelength pairs, streaming them
through `lax.map` in chunks (4096 by default), so memory is the inputs and outputs plus one
chunk. `sharded_pair_efficiencies` splits the pairs over all local devices with
`jax.shard_map` (see its docstring for multi-host runs with `jax.distributed`). The
benchmark (bench/bench_ensemble.py) sweeps N from 1 to 10^7."""),
    code("""n = 1_000_000
rng = np.random.default_rng(1)
radius = jnp.asarray(rng.uniform(10.0, 150.0, n))
wavelength = jnp.asarray(rng.uniform(400.0, 800.0, n))
run = lambda: ensemble.pair_efficiencies(radius, 1.5 + 0.01j, wavelength, n_max=12).q_ext
run().block_until_ready()
start = time.perf_counter()
q_ext = run().block_until_ready()
elapsed = time.perf_counter() - start
print(f"{n:,} pairs in {elapsed:.2f} s: {n / elapsed:.3g} evaluations/s on "
      f"{jax.device_count()} {jax.default_backend()} device(s)")"""),
]

execute_and_write(cells, "ensembles.ipynb", timeout=900)
