"""Build and execute notebooks/core_shell_spectra.ipynb (python notebooks/build_core_shell_spectra.py)."""

from _notebook import code, execute_and_write, md

cells = [
    md("""# Spectra of a gold-core / silicon-shell sphere (PyMieDiff Fig. 3a)

A gold core of radius 20 nm inside a silicon shell of outer radius 100 nm, in vacuum:
extinction, scattering and absorption efficiencies from 500 to 1000 nm, with the optical
constants of the bundled database (gold: Johnson & Christy 1972, silicon: Schinke et al.
2015, interpolated smoothly in wavelength). Then the multipole decomposition behind the
peaks, a cross-check against scattnlay with the same indices, and the derivative of the
spectrum with respect to the shell radius, which flows through the tabulated dispersion."""),
    code("""import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import jaxmie as jm

jax.config.update("jax_enable_x64", True)  # float64: the accuracy jaxmie is built for

gold, silicon = jm.materials.get("Au"), jm.materials.get("Si")
for name in ("Au", "Si"):
    print(jm.materials.citation(name).splitlines()[0])
particle = jm.CoreShell(r_core=20.0, r_shell=100.0, n_core=gold, n_shell=silicon)
wavelength = jnp.linspace(500.0, 1000.0, 501)

start = time.perf_counter()
q = jm.efficiencies(particle, wavelength)
q.q_ext.block_until_ready()
print(f"501 wavelengths: {1e3 * (time.perf_counter() - start):.0f} ms including compilation")"""),
    code("""fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(wavelength, q.q_ext, label="$Q_{ext}$")
ax.plot(wavelength, q.q_sca, label="$Q_{sca}$")
ax.plot(wavelength, q.q_abs, label="$Q_{abs}$")
ax.set_xlabel("wavelength (nm)")
ax.set_ylabel("efficiency")
ax.set_title("Au (20 nm) / Si (100 nm) core-shell sphere in vacuum")
ax.legend()
plt.tight_layout()
plt.show()
peak = int(jnp.argmax(q.q_sca))
print(f"largest Q_sca = {float(q.q_sca[peak]):.3f} at {float(wavelength[peak]):.0f} nm")"""),
    md("""## Which multipoles make the peaks

`jm.multipoles` splits Q_sca into electric (a_n) and magnetic (b_n) orders; the sum over
orders returns Q_sca exactly."""),
    code("""mp = jm.multipoles(particle, wavelength)
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(wavelength, q.q_sca, "k", lw=2, label="$Q_{sca}$")
names = {0: "dipole", 1: "quadrupole", 2: "octupole"}
for n, name in names.items():
    ax.plot(wavelength, mp.q_sca_electric[:, n], label=f"electric {name}")
    ax.plot(wavelength, mp.q_sca_magnetic[:, n], "--", label=f"magnetic {name}")
ax.set_xlabel("wavelength (nm)")
ax.set_ylabel("scattering efficiency")
ax.legend(fontsize=8, ncol=2)
plt.tight_layout()
plt.show()
total = mp.q_sca_electric.sum(-1) + mp.q_sca_magnetic.sum(-1)
print("max |sum of orders - Q_sca| / Q_sca:", float(jnp.max(jnp.abs(total - q.q_sca) / q.q_sca)))"""),
    md("""## Cross-check against scattnlay

scattnlay (Peña & Pal, a test-only reference, GPL) with exactly the same complex indices.
It takes size parameters and relative indices."""),
    code("""try:
    from scattnlay import scattnlay
except ImportError:
    scattnlay = None
if scattnlay is not None:
    wl = np.asarray(wavelength)
    x = 2 * np.pi * np.stack([np.full_like(wl, 20.0), np.full_like(wl, 100.0)], -1) / wl[:, None]
    m = np.stack([np.asarray(gold(wavelength)), np.asarray(silicon(wavelength))], -1)
    reference = np.array([scattnlay(xi, mi)[1:4] for xi, mi in zip(x, m)])  # Qext, Qsca, Qabs
    ours = np.stack([q.q_ext, q.q_sca, q.q_abs], -1)
    print("largest relative difference (Q_ext, Q_sca, Q_abs):",
          np.max(np.abs(ours - reference) / np.abs(reference), axis=0))"""),
    md("""## The derivative of the spectrum with respect to the shell radius

One `jax.jacfwd` gives dQ_sca/dr_shell at every wavelength; it agrees with a central
difference (the check below), and is smooth across the nodes of the tabulated data."""),
    code("""def q_sca(r_shell):
    p = jm.CoreShell(r_core=20.0, r_shell=r_shell, n_core=gold, n_shell=silicon)
    return jm.efficiencies(p, wavelength, n_max=16).q_sca

derivative = jax.jit(jax.jacfwd(q_sca))(100.0)
h = 1e-3
central = (q_sca(100.0 + h) - q_sca(100.0 - h)) / (2 * h)
print("max |jacfwd - central difference| / max |dQ/dr|:",
      float(jnp.max(jnp.abs(derivative - central)) / jnp.max(jnp.abs(derivative))))

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(wavelength, derivative)
ax.axhline(0, color="grey", lw=0.5)
ax.set_xlabel("wavelength (nm)")
ax.set_ylabel(r"$\\partial Q_{sca} / \\partial r_{shell}$ (1/nm)")
plt.tight_layout()
plt.show()"""),
]

execute_and_write(cells, "core_shell_spectra.ipynb", timeout=600)
