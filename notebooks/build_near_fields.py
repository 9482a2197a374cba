"""Build and execute notebooks/near_fields.ipynb (python notebooks/build_near_fields.py)."""

from _notebook import code, execute_and_write, md

cells = [
    md("""# Near fields of a core-shell sphere (PyMieDiff Fig. 3c) and a hotspot optimisation

A gold core (radius 20 nm) in a silicon shell (outer radius 100 nm), in vacuum, lit at
575 nm by a plane wave polarised along x and travelling along +z. We map |E|^2 and |H|^2
over 400 nm x 400 nm in the x-z plane with `jaxmie.fields`, check a few points against
scattnlay, and then let optax grow the particle so that the field enhancement at a hotspot
just outside its surface increases. Fields are relative to the incident wave (|E_0| = 1,
|H_0| = 1)."""),
    code("""import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import jaxmie as jm

jax.config.update("jax_enable_x64", True)  # float64: the accuracy jaxmie is built for
import jaxmie.materials

gold, silicon = jaxmie.materials.get("Au"), jaxmie.materials.get("Si")
wavelength = 575.0
print("n_Au =", complex(gold(wavelength)), " n_Si =", complex(silicon(wavelength)))
particle = jm.CoreShell(r_core=20.0, r_shell=100.0, n_core=gold, n_shell=silicon)"""),
    md("## Field maps in the x-z plane"),
    code("""start = time.perf_counter()
fmap = jm.field_map(particle, wavelength, half_width=200.0, n_points=400, plane="xz")
fmap.e2.block_until_ready()
print(f"160,000 points (both fields): {time.perf_counter() - start:.2f} s including compilation")
print("orders used (Le Ru rule):", jm.n_max_near_field(2 * np.pi * 100.0 / wavelength))

fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
for ax, quantity in zip(axes, ("e2", "h2")):
    _, image = jm.plot_field_map(fmap, quantity, ax=ax)
    fig.colorbar(image, ax=ax, shrink=0.85)
fig.suptitle("Au (20 nm) / Si (100 nm) core-shell at 575 nm, x-polarised, k along +z")
plt.tight_layout()
plt.show()
print(f"max |E|^2 = {float(fmap.e2.max()):.2f}, max |H|^2 = {float(fmap.h2.max()):.2f}")"""),
    md("""A cross-check against scattnlay's `fieldnlay` (a test-only reference, GPL) at a few
points in the core, the shell and outside. scattnlay takes coordinates in units of 1/k and
gives H in units of E_0/Z_0."""),
    code("""try:
    from scattnlay import fieldnlay
except ImportError:
    fieldnlay = None
if fieldnlay is not None:
    k = 2 * np.pi / wavelength
    points = np.array([[5.0, 3.0, -8.0], [60.0, 0.0, 40.0], [30.0, -20.0, -80.0],
                       [120.0, 10.0, 30.0], [-150.0, 0.0, 150.0]])
    e, h = jm.fields(particle, wavelength, points)
    n_layers = np.array([complex(gold(wavelength)), complex(silicon(wavelength))])
    _, e_ref, h_ref = fieldnlay(k * np.array([20.0, 100.0]), n_layers, *(k * points.T),
                                nmax=jm.n_max_near_field(k * 100.0))
    h_ref = h_ref * 4e-7 * np.pi * 299792458.0
    err_e = np.abs(np.asarray(e) - e_ref).max(-1) / np.linalg.norm(e_ref, axis=-1)
    err_h = np.abs(np.asarray(h) - h_ref).max(-1) / np.linalg.norm(h_ref, axis=-1)
    print("relative difference E:", np.array2string(err_e, precision=1))
    print("relative difference H:", np.array2string(err_h, precision=1))"""),
    md("""## Hotspot enhancement by gradient descent

The hotspot is the brightest point of the map outside the particle. We keep its direction
and place the probe 5 nm outside the (changing) shell surface, then maximise |E|^2 there
with Adam on the two radii (parametrised so that 5 nm <= r_core < r_shell). `n_max` is
passed explicitly: inside `jit` and `grad` the sizes are traced."""),
    code("""r = jnp.sqrt(fmap.u[None, :] ** 2 + fmap.v[:, None] ** 2)
outside = jnp.where(r > 100.0, fmap.e2, 0.0)
row, col = np.unravel_index(int(jnp.argmax(outside)), outside.shape)
hotspot = np.array([float(fmap.u[col]), 0.0, float(fmap.v[row])])
direction = hotspot / np.linalg.norm(hotspot)
print("hotspot at (x, z) =", hotspot[[0, 2]], "nm, |E|^2 =", float(outside[row, col]))

N_MAX = 24  # Le Ru's rule gives 16 at r = 100 nm; margin for growth


def radii_of(params):
    r_core = 5.0 + jnp.exp(params[0])
    return r_core, r_core + jnp.exp(params[1])


def enhancement(params):
    r_core, r_shell = radii_of(params)
    p = jm.CoreShell(r_core=r_core, r_shell=r_shell, n_core=gold, n_shell=silicon)
    probe = (r_shell + 5.0) * jnp.asarray(direction)
    e, _ = jm.fields(p, wavelength, probe, n_max=N_MAX)
    return jnp.sum(jnp.abs(e) ** 2)


params = jnp.log(jnp.array([15.0, 80.0]))
optimiser = optax.adam(0.005)  # the shell resonance is narrow: small steps in log radius
state = optimiser.init(params)


@jax.jit
def step(params, state):
    value, grad = jax.value_and_grad(lambda q: -enhancement(q))(params)
    updates, state = optimiser.update(grad, state)
    return optax.apply_updates(params, updates), state, -value


history, best = [], (-np.inf, params)
for i in range(50):
    new_params, state, value = step(params, state)  # value is at params (before the step)
    history.append(float(value))
    best = max(best, (float(value), params), key=lambda b: b[0])
    params = new_params
params = best[1]  # Adam is not monotone: keep the best point seen
r_core, r_shell = (float(v) for v in radii_of(params))
print(f"|E|^2 at the probe: {history[0]:.2f} -> {float(enhancement(params)):.2f}")
print(f"radii: core {r_core:.2f} nm, shell {r_shell:.2f} nm")"""),
    code("""optimised = jm.CoreShell(r_core=r_core, r_shell=r_shell, n_core=gold, n_shell=silicon)
after = jm.field_map(optimised, wavelength, half_width=200.0, n_points=200, n_max=N_MAX)
fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
axes[0].plot(history, "o-", ms=3)
axes[0].set_xlabel("Adam step")
axes[0].set_ylabel("|E|^2 at the probe")
axes[0].set_title("hotspot enhancement")
for ax, fm, label in ((axes[1], fmap, "start"), (axes[2], after, "optimised")):
    _, image = jm.plot_field_map(fm, "e2", ax=ax)
    fig.colorbar(image, ax=ax, shrink=0.85)
    ax.set_title(f"|E|^2, {label}")
axes[2].plot(*((r_shell + 5.0) * direction[[0, 2]]), "c+", ms=12)
plt.tight_layout()
plt.show()"""),
]

execute_and_write(cells, "near_fields.ipynb", timeout=900)
