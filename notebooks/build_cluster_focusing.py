"""Build and execute notebooks/cluster_focusing.ipynb (python notebooks/build_cluster_focusing.py)."""

from _notebook import code, execute_and_write, md

cells = [
    md("""# Focusing light with a 10 x 10 array of core-shell spheres (in the spirit of PyMieDiff Fig. 6)

One hundred silicon-core / gold-shell spheres (core 40 nm, shell 50 nm) lie in the plane
z = 0 and are lit by a plane wave travelling along +z, polarised along x. Each sphere is
replaced by the electric and magnetic dipoles of its exact a_1, b_1 and the dipoles are
coupled through the free-space Green's tensors (`jaxmie.cluster`, dense solve of the
600 x 600 system). We maximise the intensity |E|^2 (relative to the incident wave) at a
focal point on the axis, 2.5 wavelengths above the array:

1. by moving the 100 spheres in the plane (200 coordinates), with a soft penalty that keeps
   neighbouring surfaces at least 20 nm apart;
2. then, from that layout, by changing every sphere's core radius and shell thickness
   (200 more parameters, each bounded with `jm.design.Bounded`).

Both loops are jitted optax Adam steps; gradients flow through the linear solve, the Mie
coefficients and the tabulated optical constants. The dipole approximation is reasonable
here (size parameter 2 pi r / lambda below 0.4 for the largest sphere allowed), but the spheres
are strongly absorbing, so the focus is weak compared with a dielectric metalens."""),
    code("""import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import jaxmie as jm

jax.config.update("jax_enable_x64", True)  # float64: the accuracy jaxmie is built for
from jaxmie import cluster

silicon, gold = jm.materials.get("Si"), jm.materials.get("Au")
print(f"{jax.device_count()} {jax.default_backend()} device(s), float64: {jax.config.jax_enable_x64}")"""),
    md("""## The particle and the wavelength

The gold shell on a silicon core has a dipolar plasmon in the near infrared; we work at its
scattering peak (searched between 800 and 1100 nm, away from gold's interband absorption
at the short-wavelength end)."""),
    code("""R_CORE, R_SHELL = 40.0, 50.0
sphere = jm.CoreShell(r_core=R_CORE, r_shell=R_SHELL, n_core=silicon, n_shell=gold)
wl_scan = jnp.linspace(500.0, 1100.0, 301)
q = jm.efficiencies(sphere, wl_scan)
window = (wl_scan >= 800.0) & (wl_scan <= 1100.0)
WAVELENGTH = float(wl_scan[jnp.argmax(jnp.where(window, q.q_sca, -1.0))])
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(wl_scan, q.q_sca, label="$Q_{sca}$")
ax.plot(wl_scan, q.q_abs, label="$Q_{abs}$")
ax.axvline(WAVELENGTH, color="grey", lw=0.8, ls="--")
ax.set_xlabel("wavelength (nm)")
ax.set_ylabel("efficiency")
ax.set_title("Si (40 nm) / Au (50 nm) core-shell sphere")
ax.legend()
plt.tight_layout()
plt.show()
print(f"working wavelength {WAVELENGTH:.0f} nm: Q_sca = {float(jnp.interp(WAVELENGTH, wl_scan, q.q_sca)):.3f}, "
      f"Q_abs = {float(jnp.interp(WAVELENGTH, wl_scan, q.q_abs)):.3f}, "
      f"size parameter {2 * np.pi * R_SHELL / WAVELENGTH:.3f}")"""),
    md("""## The array, the focus and the objective

A regular 10 x 10 grid with a 250 nm pitch (2.25 um wide); focus at (0, 0, 2.5 lambda).
The penalty acts on every pair whose surfaces come closer than 20 nm."""),
    code("""N_SIDE, PITCH = 10, 250.0
N = N_SIDE ** 2
GAP = 20.0
FOCUS = jnp.array([0.0, 0.0, 2.5 * WAVELENGTH])
N_MAX = 6          # static number of Mie orders (only a_1, b_1 are used)

g = (jnp.arange(N_SIDE) - (N_SIDE - 1) / 2) * PITCH
gx, gy = jnp.meshgrid(g, g, indexing="ij")
xy0 = jnp.stack([gx.ravel(), gy.ravel()], -1)             # (100, 2) nm


def positions3(xy):
    return jnp.concatenate([xy, jnp.zeros((xy.shape[0], 1))], -1)


def particles(r_core, r_shell):
    return jm.CoreShell(r_core=r_core, r_shell=r_shell, n_core=silicon, n_shell=gold)


def focus_intensity(xy, r_core, r_shell):
    s = cluster.solve(particles(r_core, r_shell), positions3(xy), WAVELENGTH, n_max=N_MAX)
    e, _ = cluster.near_field(s, FOCUS[None])
    return jnp.sum(jnp.abs(e[0]) ** 2)


def overlap_penalty(xy, r_shell):
    d2 = jnp.sum((xy[:, None] - xy[None]) ** 2, -1) + jnp.eye(xy.shape[0]) * 1e12
    dist = jnp.sqrt(d2)
    r = jnp.broadcast_to(r_shell, (xy.shape[0],))
    violation = jax.nn.relu(r[:, None] + r[None] + GAP - dist)
    return 0.5 * jnp.sum((violation / 10.0) ** 2)        # both orderings of each pair


def min_gap(xy, r_shell):
    d = np.sqrt(((np.asarray(xy)[:, None] - np.asarray(xy)[None]) ** 2).sum(-1))
    r = np.broadcast_to(np.asarray(r_shell), (len(d),))
    d = d - r[:, None] - r[None] + np.eye(len(d)) * 1e9
    return d.min()


def run_adam(loss, x0, learning_rate, steps):
    # jitted optax Adam steps on loss(x); returns x, the history of -loss, the seconds of
    # the first step (with compilation) and the ms per later step
    opt = optax.adam(learning_rate)

    @jax.jit
    def step(x, state):
        value, grad = jax.value_and_grad(loss)(x)
        updates, state = opt.update(grad, state)
        return optax.apply_updates(x, updates), state, value

    x, state = x0, opt.init(x0)
    t0 = time.perf_counter()
    x, state, v = step(x, state)
    v.block_until_ready()
    first = time.perf_counter() - t0
    history = [-float(v)]
    t0 = time.perf_counter()
    for _ in range(steps - 1):
        x, state, v = step(x, state)
        history.append(-float(v))
    return x, history, first, 1e3 * (time.perf_counter() - t0) / (steps - 1)


rc0 = jnp.full(N, R_CORE)
rs0 = jnp.full(N, R_SHELL)
I_grid = float(focus_intensity(xy0, rc0, rs0))
print(f"|E|^2 at the focus, regular grid: {I_grid:.4f}")
"""),
    md("""## 1. Optimise the 200 in-plane coordinates

Loss = -|E|^2(focus) + penalty; Adam with a 4 nm step size, 100 steps."""),
    code("""def loss_positions(xy):
    return -focus_intensity(xy, rc0, rs0) + overlap_penalty(xy, R_SHELL)


xy_opt, history_pos, compile_pos, ms_pos = run_adam(loss_positions, xy0, 4.0, 100)
I_pos = float(focus_intensity(xy_opt, rc0, rs0))
print(f"first step (with compilation): {compile_pos:.1f} s; then {ms_pos:.0f} ms per iteration")
print(f"|E|^2 at the focus after position optimisation: {I_pos:.4f} "
      f"(x{I_pos / I_grid:.2f} the regular grid); smallest surface gap {min_gap(xy_opt, R_SHELL):.1f} nm")"""),
    md("""## 2. Then optimise every sphere's core radius and shell thickness

Positions fixed at the optimised layout. Core radius in (25, 45) nm, shell thickness in
(3, 15) nm, both through `jm.design.Bounded` (a sigmoid), so the outer radius stays below
60 nm; the overlap penalty now uses the actual outer radii."""),
    code("""bounds = {"r_core": jm.design.Bounded(25.0, 45.0), "shell": jm.design.Bounded(3.0, 15.0)}
params0 = {"r_core": rc0, "shell": rs0 - rc0}
u0 = jm.design.to_unconstrained(params0, bounds)


def loss_radii(u):
    p = jm.design.from_unconstrained(u, bounds)
    r_shell = p["r_core"] + p["shell"]
    return -focus_intensity(xy_opt, p["r_core"], r_shell) + overlap_penalty(xy_opt, r_shell)


u, history_rad, compile_rad, ms_rad = run_adam(loss_radii, u0, 0.1, 80)
p_opt = jm.design.from_unconstrained(u, bounds)
rc_opt, rs_opt = p_opt["r_core"], p_opt["r_core"] + p_opt["shell"]
I_rad = float(focus_intensity(xy_opt, rc_opt, rs_opt))
print(f"first step (with compilation): {compile_rad:.1f} s; then {ms_rad:.0f} ms per iteration")
print(f"|E|^2 at the focus after radius optimisation: {I_rad:.4f} (x{I_rad / I_grid:.2f} the regular grid)")
print(f"core radii {float(rc_opt.min()):.1f}-{float(rc_opt.max()):.1f} nm, "
      f"outer radii {float(rs_opt.min()):.1f}-{float(rs_opt.max()):.1f} nm; "
      f"smallest surface gap {min_gap(xy_opt, rs_opt):.1f} nm")"""),
    code("""print(f"{'layout':<28}{'|E|^2 at focus':>16}{'vs grid':>10}{'ms/iter':>10}")
print(f"{'regular grid':<28}{I_grid:>16.4f}{1.0:>10.2f}{'':>10}")
print(f"{'optimised positions':<28}{I_pos:>16.4f}{I_pos / I_grid:>10.2f}{ms_pos:>10.0f}")
print(f"{'+ optimised radii':<28}{I_rad:>16.4f}{I_rad / I_grid:>10.2f}{ms_rad:>10.0f}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(np.arange(len(history_pos)), history_pos, label="positions")
ax.plot(len(history_pos) + np.arange(len(history_rad)), history_rad, label="radii")
ax.axhline(I_grid, color="grey", lw=0.8, ls="--", label="regular grid")
ax.set_xlabel("Adam step")
ax.set_ylabel("$|E|^2$ at focus - penalty")
ax.legend()
plt.tight_layout()
plt.show()"""),
    md("""## Layouts

Circles to scale (outer radius); colour = core radius in the last panel."""),
    code("""from matplotlib.collections import PatchCollection
from matplotlib.patches import Circle


def draw(ax, xy, r_shell, colours, title):
    xy, r = np.asarray(xy), np.broadcast_to(np.asarray(r_shell), (len(xy),))
    pc = PatchCollection([Circle(c, ri) for c, ri in zip(xy, r)], cmap="viridis")
    pc.set_array(np.asarray(colours))
    pc.set_clim(25, 45)
    ax.add_collection(pc)
    lim = 1.15 * np.abs(xy).max() + 60
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_title(title)
    ax.set_xlabel("x (nm)")
    return pc


fig, axes = plt.subplots(1, 3, figsize=(13, 4.5))
draw(axes[0], xy0, rs0, rc0, f"regular grid: $|E|^2$ = {I_grid:.3f}")
draw(axes[1], xy_opt, rs0, rc0, f"positions: $|E|^2$ = {I_pos:.3f}")
pc = draw(axes[2], xy_opt, rs_opt, rc_opt, f"+ radii: $|E|^2$ = {I_rad:.3f}")
axes[0].set_ylabel("y (nm)")
fig.colorbar(pc, ax=axes, label="core radius (nm)", shrink=0.8)
plt.show()"""),
    md("""## |E|^2 in the x-z plane through the focus

Near fields of the dipoles on a grid from z = 150 nm (above every sphere) to 4 lambda;
incident polarisation along x."""),
    code("""xs = jnp.linspace(-2500.0, 2500.0, 161)
zs = jnp.linspace(150.0, 4.0 * WAVELENGTH, 161)
XX, ZZ = jnp.meshgrid(xs, zs, indexing="xy")
grid = jnp.stack([XX.ravel(), jnp.zeros(XX.size), ZZ.ravel()], -1)


@jax.jit
def intensity_map(xy, r_core, r_shell):
    s = cluster.solve(particles(r_core, r_shell), positions3(xy), WAVELENGTH, n_max=N_MAX)
    e, _ = cluster.near_field(s, grid)
    return jnp.sum(jnp.abs(e) ** 2, -1).reshape(XX.shape)


maps = [intensity_map(xy0, rc0, rs0), intensity_map(xy_opt, rc0, rs0),
        intensity_map(xy_opt, rc_opt, rs_opt)]
vmax = max(float(m.max()) for m in maps)
fig, axes = plt.subplots(1, 3, figsize=(14, 4.8), sharey=True)
titles = ["regular grid", "optimised positions", "+ optimised radii"]
for ax, m, title in zip(axes, maps, titles):
    im = ax.pcolormesh(xs, zs, m, shading="auto", cmap="inferno", vmin=0, vmax=vmax)
    ax.plot(0, float(FOCUS[2]), "c+", ms=12, mew=2)
    ax.set_title(title)
    ax.set_xlabel("x (nm)")
    ax.set_aspect("equal")
axes[0].set_ylabel("z (nm)")
fig.colorbar(im, ax=axes, label="$|E|^2$ (incident = 1)", shrink=0.8)
plt.show()
for title, m in zip(titles, maps):
    m = np.asarray(m)
    i, j = np.unravel_index(m.argmax(), m.shape)
    print(f"{title:<22} brightest point of the map: |E|^2 = {m[i, j]:.3f} at x = {float(xs[j]):.0f}, "
          f"z = {float(zs[i]):.0f} nm")"""),
    md("""## Remarks

- The gold shell absorbs about ten times more than it scatters at this resonance, so the
  regular array mainly casts a shadow (|E|^2 < 1 on the axis). Moving the spheres turns
  the shadow into constructive interference at the focus; tuning the radii then sets each
  sphere's phase and amplitude (a Fresnel-zone-like grading of the core radius), which
  gives a focal spot above the incident intensity.
- The optimised layouts are local optima of Adam from the regular grid with a short
  budget; more steps, multiple starts or a less lossy particle would focus more strongly.
- The times per iteration include value and gradient (one 600 x 600 complex solve and its
  adjoint); on a shared CPU they vary by a factor of a few between runs."""),
]

execute_and_write(cells, "cluster_focusing.ipynb", timeout=600)
