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
N_MAX = 6          # static number of Mie orders (the dipole model uses a_1, b_1)

g = (jnp.arange(N_SIDE) - (N_SIDE - 1) / 2) * PITCH
gx, gy = jnp.meshgrid(g, g, indexing="ij")
xy0 = jnp.stack([gx.ravel(), gy.ravel()], -1)             # (100, 2) nm


def positions3(xy):
    return jnp.concatenate([xy, jnp.zeros((xy.shape[0], 1))], -1)


def particles(r_core, r_shell):
    return jm.CoreShell(r_core=r_core, r_shell=r_shell, n_core=silicon, n_shell=gold)


def focus_intensity(xy, r_core, r_shell, lmax=1):
    # lmax = 1: coupled dipoles; >= 2: multipoles (dense LU up to lmax 2, else GMRES)
    method = "dense" if lmax <= 2 else "gmres"
    s = cluster.solve(particles(r_core, r_shell), positions3(xy), WAVELENGTH, lmax=lmax,
                      method=method, n_max=max(N_MAX, lmax))
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
    s = cluster.solve(particles(r_core, r_shell), positions3(xy), WAVELENGTH, lmax=1,
                      n_max=N_MAX)
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
    md("""## Converged multipoles beside the dipole model

The dipole model keeps only each sphere's a_1, b_1 and the dipoles its neighbours induce.
`cluster.solve` with `lmax >= 2` solves the full multipole T-matrix problem instead: every
sphere's exact a_l, b_l up to `lmax`, coupled through the vector translation-addition
theorem. `cluster.lmax_for` (the default `lmax=None`) would ask for lmax = 14 at the 20 nm
gaps of the optimised layouts, a rule made for 1e-6 of the extinction cross section;
for this focal intensity we measure the convergence in lmax directly: the layouts above
under lmax = 1 (dipoles), 2 (the model we optimise with below), 3 and 4 (the reference,
with lmax = 3 showing how converged it is)."""),
    code("""import functools

LMAX_OPT = 2         # the multipole model we optimise with (dense LU, ~1.5 s per step)
LMAX_REF = 4         # the converged reference (GMRES)
LMAXES = (1, LMAX_OPT, LMAX_REF - 1, LMAX_REF)
intensity = {l: jax.jit(functools.partial(focus_intensity, lmax=l)) for l in LMAXES}


def evaluate(layout):
    return {l: float(intensity[l](*layout)) for l in LMAXES}


def show(results):
    print(f"{'layout':<26}" + "".join(f"{'lmax ' + str(l):>11}" for l in LMAXES)
          + f"{'dipole err':>12}{'lmax 3 - 4':>12}")
    for name, r in results.items():
        ref = r[LMAX_REF]
        print(f"{name:<26}" + "".join(f"{r[l]:>11.5f}" for l in LMAXES)
              + f"{abs(r[1] - ref) / ref:>12.2e}{abs(r[LMAX_REF - 1] - ref) / ref:>12.1e}")


layouts = {"regular grid": (xy0, rc0, rs0), "dipole: positions": (xy_opt, rc0, rs0),
           "dipole: + radii": (xy_opt, rc_opt, rs_opt)}
t0 = time.perf_counter()
results = {name: evaluate(layout) for name, layout in layouts.items()}
print(f"|E|^2 at the focus under each model ({time.perf_counter() - t0:.0f} s with compilation); "
      "errors relative to lmax = 4")
show(results)"""),
    md("""## Optimising with multipoles

How far does the optimum move when the model includes the quadrupoles (lmax = 2: a
1,600-unknown dense system per step instead of 600, ~30x the cost of a dipole step)?
Running both loops again from the regular grid would take over ten minutes on this CPU, so
we start each loop from the dipole model's optimum and continue with the multipole model
(40 Adam steps on the positions, then 30 on the radii from the dipole model's radii, same
step sizes and penalty). Adam with a fixed step keeps moving by about a step size near an
optimum, so as a control the dipole model continues the same number of steps from its own
optimum: displacements at that level are the optimiser's, not the model's. Every layout
is then evaluated with the converged model (lmax = 4)."""),
    code("""def loss_positions_mp(xy):
    return -focus_intensity(xy, rc0, rs0, lmax=LMAX_OPT) + overlap_penalty(xy, R_SHELL)


def loss_radii_at(xy, lmax):
    def loss(u):
        p = jm.design.from_unconstrained(u, bounds)
        r_shell = p["r_core"] + p["shell"]
        return (-focus_intensity(xy, p["r_core"], r_shell, lmax=lmax)
                + overlap_penalty(xy, r_shell))
    return loss


STEPS_POS, STEPS_RAD = 40, 30
xy_mp, history_pos_mp, compile_pos_mp, ms_pos_mp = run_adam(loss_positions_mp, xy_opt, 4.0,
                                                            STEPS_POS)
u_mp, history_rad_mp, compile_rad_mp, ms_rad_mp = run_adam(loss_radii_at(xy_mp, LMAX_OPT), u,
                                                           0.1, STEPS_RAD)
p_mp = jm.design.from_unconstrained(u_mp, bounds)
rc_mp, rs_mp = p_mp["r_core"], p_mp["r_core"] + p_mp["shell"]
# the control: the dipole model continues from its own optimum just as long
xy_c, history_pos_c, _, _ = run_adam(loss_positions, xy_opt, 4.0, STEPS_POS)
u_c, history_rad_c, _, _ = run_adam(loss_radii_at(xy_c, 1), u, 0.1, STEPS_RAD)
p_c = jm.design.from_unconstrained(u_c, bounds)
rc_c, rs_c = p_c["r_core"], p_c["r_core"] + p_c["shell"]
print(f"lmax = {LMAX_OPT}: positions: first step {compile_pos_mp:.0f} s, then {ms_pos_mp:.0f} ms "
      f"per step; radii: first step {compile_rad_mp:.0f} s, then {ms_rad_mp:.0f} ms per step")
print(f"smallest surface gaps: {min_gap(xy_mp, R_SHELL):.1f} nm (positions), "
      f"{min_gap(xy_mp, rs_mp):.1f} nm (+ radii)")

layouts_more = {"multipole: positions": (xy_mp, rc0, rs0),
                "multipole: + radii": (xy_mp, rc_mp, rs_mp),
                "dipole cont.: positions": (xy_c, rc0, rs0),
                "dipole cont.: + radii": (xy_c, rc_c, rs_c)}
results.update({name: evaluate(layout) for name, layout in layouts_more.items()})
show(results)"""),
    md("""## How far does the optimum move?

Per-sphere displacement from the dipole optimum after the multipole refinement and after
the control, the change of the optimised radii, and each layout's focal intensity under
the converged model."""),
    code("""travel = np.linalg.norm(np.asarray(xy_opt) - np.asarray(xy0), axis=-1)
print(f"(the dipole optimisation moved the spheres {travel.mean():.1f} nm on average from the grid)")
for label, xy_, rc_, rs_ in [("multipole model", xy_mp, rc_mp, rs_mp),
                             ("control: dipole model", xy_c, rc_c, rs_c)]:
    shift = np.linalg.norm(np.asarray(xy_) - np.asarray(xy_opt), axis=-1)
    d_core = np.abs(np.asarray(rc_) - np.asarray(rc_opt))
    d_outer = np.abs(np.asarray(rs_) - np.asarray(rs_opt))
    print(f"{label:<22} from the dipole optimum: positions move {shift.mean():.2f} nm on average "
          f"(max {shift.max():.2f}); core radii {d_core.mean():.2f} nm (max {d_core.max():.2f}), "
          f"outer radii {d_outer.mean():.2f} nm (max {d_outer.max():.2f})")
for stage in ("positions", "+ radii"):
    a = results[f"dipole: {stage}"]
    b = results[f"multipole: {stage}"]
    c = results[f"dipole cont.: {stage}"]
    print(f"{stage:<10} |E|^2 at the focus, converged model: dipole optimum {a[LMAX_REF]:.4f} "
          f"(the dipole model said {a[1]:.4f}), refined with multipoles {b[LMAX_REF]:.4f} "
          f"({100 * (b[LMAX_REF] - a[LMAX_REF]) / a[LMAX_REF]:+.2f} %), control "
          f"{c[LMAX_REF]:.4f} ({100 * (c[LMAX_REF] - a[LMAX_REF]) / a[LMAX_REF]:+.2f} %)")

fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
ax = axes[0]
xd, xm = np.asarray(xy_opt), np.asarray(xy_mp)
ax.scatter(*xd.T, s=12, c="C0", label="dipole optimum")
ax.quiver(*xd.T, *(xm - xd).T, angles="xy", scale_units="xy", scale=1, color="C3",
          width=0.004, label="to the multipole-refined layout (to scale)")
ax.set_aspect("equal")
ax.set_xlabel("x (nm)")
ax.set_ylabel("y (nm)")
ax.set_title("positions: dipole optimum -> refined with multipoles")
ax.legend(loc="upper right", fontsize=8)
ax = axes[1]
ax.scatter(np.asarray(rc_opt), np.asarray(rc_mp), s=12, label="core radius")
ax.scatter(np.asarray(rs_opt), np.asarray(rs_mp), s=12, label="outer radius")
lims = [min(float(rc_opt.min()), float(rc_mp.min())) - 1, max(float(rs_opt.max()), float(rs_mp.max())) + 1]
ax.plot(lims, lims, color="grey", lw=0.8)
ax.set_xlabel("dipole optimum (nm)")
ax.set_ylabel("refined with multipoles (nm)")
ax.set_title("radius optima")
ax.legend()
ax = axes[2]
steps = np.arange(STEPS_POS + STEPS_RAD)
ax.plot(steps, history_pos_c + history_rad_c, label="dipole model, continued (control)")
ax.plot(steps, history_pos_mp + history_rad_mp, "--", label=f"multipoles (lmax = {LMAX_OPT})")
for name, marker, colour in [("dipole cont.: positions", "o", "C0"),
                             ("dipole cont.: + radii", "s", "C0"),
                             ("multipole: positions", "o", "C1"), ("multipole: + radii", "s", "C1")]:
    step = STEPS_POS - 1 if "positions" in name else steps[-1]
    ax.plot(step, results[name][LMAX_REF], marker, color=colour, mfc="none", ms=9)
ax.axvline(STEPS_POS - 0.5, color="grey", lw=0.8, ls=":")
ax.set_xlabel("Adam step from the dipole optimum (positions, then radii)")
ax.set_ylabel("$|E|^2$ at focus - penalty")
ax.set_title(f"open markers: the layouts under lmax = {LMAX_REF}")
ax.legend(fontsize=8)
plt.tight_layout()
plt.show()"""),
    md("""## Remarks

- The gold shell absorbs about ten times more than it scatters at this resonance, so the
  regular array mainly casts a shadow (|E|^2 < 1 on the axis). Moving the spheres turns
  the shadow into constructive interference at the focus; tuning the radii then sets each
  sphere's phase and amplitude (a Fresnel-zone-like grading of the core radius), which
  gives a focal spot above the incident intensity.
- The optimised layouts are local optima of Adam from the regular grid with a short
  budget; more steps, multiple starts or a less lossy particle would focus more strongly.
- The times per iteration include value and gradient (one 600 x 600 complex solve and its
  adjoint for the dipoles, 1,600 x 1,600 at lmax = 2); on a shared CPU they vary by a
  factor of a few between runs.
- Dipoles against converged multipoles (lmax = 4, within ~1e-4 of lmax = 3): the dipole
  model's focal intensity is off by 0.1-0.5 % on every layout here (size parameter 0.33;
  the higher multipoles matter through the near-field coupling across the 20-25 nm gaps),
  and its optimum is worth 0.9868 (positions) and 1.6560 (+ radii) under the converged
  model, against the 0.9880 and 1.6475 it predicted.
- Does the optimum move? Continuing from the dipole optimum with multipoles moved the
  spheres 44 nm on average and changed the radii by 3-4 nm, but continuing with the dipole
  model itself (the control) moved them 40 nm and 3-5 nm: Adam restarts with fresh
  moments, so its first steps (a full step size on every coordinate) push spheres into
  the penalty (the dips in the right panel), and that restart, not the change of model,
  dominates both displacements. Objective values
  after the continuation differ by a few per cent in both directions for the same reason.
  At this size parameter the dipole optimum is as good as the multipole one within what
  this optimiser resolves. For larger or higher-index spheres the dipole model's errors
  grow (bench/cluster_dipole_error.py: median 1.4 %, up to 6 % in the extinction of random
  clusters of 20-60 nm spheres at 400-900 nm)."""),
]

execute_and_write(cells, "cluster_focusing.ipynb", timeout=1500)
