r"""Polydisperse ensembles: averages over size distributions, and batches at scale.

Size distributions (LogNormal, Normal, Uniform, Gamma / Schulz, ModifiedGamma, Weighted) and
the Quadrature that controls the averages live in jaxmie.distributions (re-exported by
jaxmie.ensemble). Averages are quadratures over the truncated distribution, smooth and
differentiable in
its parameters.

Ensemble optics (per particle, B&H units), with :math:`\langle f \rangle = \int f(r) n(r) dr`:

.. math::
    \bar C = \langle C(r) \rangle,\quad \bar Q = \bar C / \langle \pi r^2 \rangle,\quad
    \varpi = \bar C_{sca} / \bar C_{ext},\quad
    \bar g = \langle g C_{sca} \rangle / \bar C_{sca},\quad
    p(\theta) = \frac{4\pi \langle S_{11}(\theta) \rangle}{k^2 \bar C_{sca}}

with k = 2 pi n_env / wavelength, so that the phase function integrates to 4 pi.

Large batches of independent particle-wavelength pairs (`pair_efficiencies`) are streamed in
chunks with ``lax.map`` so that memory is bounded by the chunk, and `sharded_pair_efficiencies`
splits them over every device with ``jax.shard_map`` on a one-axis ``Mesh``.

References:
    J. E. Hansen and L. D. Travis, Space Sci. Rev. 16, 527 (1974), section 2.
    D. Deirmendjian, Electromagnetic Scattering on Spherical Polydispersions (Elsevier, 1969).
    C. F. Bohren and D. R. Huffman, Absorption and Scattering of Light by Small Particles
    (Wiley, 1983), sections 4.4 and 4.5.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import PartitionSpec as P

from ._batching import BLOCK_SIZE
from ._dispatch import warn_if_float32_default
from ._distributions import Quadrature, adaptive_breaks, concrete_distribution
from ._errors import Checks, concrete_value
from ._observables import Efficiencies, MuellerMatrix
from ._observables import _cross_sections_call as _cross_sections
from ._observables import _efficiencies_call as _efficiencies
from ._observables import _mueller_call as _mueller
from ._particles import Particle, Sphere, layer_radii
from ._truncation import n_max_for
from ._validation import particle_checks

__all__ = [
    "EnsembleOptics",
    "converged_quadrature",
    "ensemble_n_max",
    "mean_optics",
    "pair_efficiencies",
    "sharded_pair_efficiencies",
]


# ------------------------------------------------------------------------------------------
# Ensemble optics
# ------------------------------------------------------------------------------------------


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class EnsembleOptics:
    """Number-averaged optics of a polydisperse ensemble (per particle).

    Fields of shape (*W) (wavelength shape), angular ones (*W, *T):
        c_ext, c_sca, c_abs, c_back: mean cross sections <C> in nm^2 (c_back: radar
            backscattering, 4 pi-normalised as in jaxmie.efficiencies).
        q_ext, q_sca, q_abs: <C> / <pi r^2> (area-weighted efficiencies).
        albedo: single-scattering albedo c_sca / c_ext.
        g: asymmetry parameter <g C_sca> / c_sca.
        area: <pi r_outer^2> in nm^2. volume: <4/3 pi r_outer^3> in nm^3.
        ext_per_volume: c_ext / volume in 1/nm (volume-specific extinction).
        mueller: mean MuellerMatrix <S11>, <S12>, <S33>, <S34> (B&H units), or None.
        phase: phase function 4 pi <S11> / (k^2 c_sca), normalised to 4 pi over the sphere,
            or None when no angles were given.
    """

    c_ext: jax.Array
    c_sca: jax.Array
    c_abs: jax.Array
    c_back: jax.Array
    q_ext: jax.Array
    q_sca: jax.Array
    q_abs: jax.Array
    albedo: jax.Array
    g: jax.Array
    area: jax.Array
    volume: jax.Array
    ext_per_volume: jax.Array
    mueller: MuellerMatrix | None = None
    phase: jax.Array | None = None
    error: jax.Array | None = None

    def mass_extinction(self, density):
        """Mass extinction coefficient in m^2/g for a particle density in g/cm^3.

        c_ext / (density volume): 1 nm^2 / (1 g/cm^3 x 1 nm^3) = 1000 m^2/g.
        """
        return 1e3 * self.ext_per_volume / density


def ensemble_n_max(dist, wavelength, n_env=1.0, *, particle: Callable | None = None,
                   quadrature: Quadrature = Quadrature()) -> int:
    """Static n_max for `mean_optics` under jit: jaxmie.n_max_for at the largest radius.

    Needs concrete distribution parameters and wavelengths. Under jit, call it outside with
    the largest parameters the optimisation will reach (n_max is rounded up in steps of 8,
    and an over-provisioned n_max is safe).
    """
    r_max = dist.radius_range(quadrature)[1]
    if particle is not None:
        r_max = layer_radii(particle(jnp.reshape(r_max, (1,))))[..., -1]
    r_max, wl = concrete_value(jnp.max(r_max)), concrete_value(jnp.asarray(wavelength))
    if r_max is None or wl is None:
        raise ValueError(
            "n_max=None needs concrete distribution parameters and wavelengths, but they are "
            "traced (inside jit or vmap). Pass a static n_max, e.g. "
            "n_max=jaxmie.ensemble.ensemble_n_max(largest distribution, wavelengths) "
            "computed outside the transformation.")
    return n_max_for(2 * np.pi * float(n_env) * float(r_max) / float(np.min(wl)))


def _average(weights, field):
    """sum_k w_k field[k, ...]: the node axis is the first one."""
    return jnp.tensordot(weights.astype(field.dtype), field, axes=(0, 0))


#: The per-particle quantities behind EnsembleOptics, in the order of their averages.
_SUMS = ("c_ext", "c_sca", "c_abs", "c_back", "g_c_sca", "area", "volume")
_ANGULAR = ("s11", "s12", "s33", "s34")


def mean_optics(dist, n=None, wavelength=550.0, theta=None, n_env=1.0, *,
                particle: Callable[[jax.Array], Particle] | None = None,
                quadrature: Quadrature = Quadrature(), n_max: int | None = None,
                rtol: float = 1e-6) -> EnsembleOptics:
    """Cross sections, efficiencies, albedo, g, Mueller matrix and phase function of an
    ensemble, averaged over a size distribution.

    Args:
        dist: a size distribution (LogNormal, Gamma, ...); its parameters may be traced
            when the quadrature is explicit.
        n: complex index or material of homogeneous spheres (ignored when ``particle`` is
            given).
        wavelength: vacuum wavelengths in nm, shape W.
        theta: scattering angles in radians, shape T, or None for no angular quantities.
        n_env: real host index.
        particle: optional callable mapping the outer radii (nm, shape (K,)) to a particle
            batch, e.g. ``lambda r: jaxmie.CoreShell(0.8 * r, r, n_core, n_shell)``.
        quadrature: the default Quadrature() is adaptive: panels are bisected where the
            integrand needs them until every average is converged to ``rtol``
            (distributions.adaptive_breaks), from concrete parameters and wavelengths;
            under jit pass the rule found outside (`converged_quadrature`) or a fixed
            Quadrature(nodes=...).
        n_max: static number of orders shared by every node. None uses jaxmie.n_max_for on
            the largest radius of the range at the shortest wavelength (concrete
            parameters only; under jit pass `ensemble_n_max`).
        rtol: target relative error of the adaptive rule: of c_ext, c_sca, c_back and
            <S11> (each against itself), c_abs (against c_ext), g (absolute), S12, S33, S34
            (against S11), and the normalisation.

    Returns:
        EnsembleOptics with fields of shape (*W) and, with theta, (*W, *T). With the
        adaptive rule, ``error`` (shape (*W)) is its estimated relative error (the largest
        over the averages at that wavelength, measured as for rtol); None otherwise. dtype
        follows the distribution parameters and wavelengths.

    The wavelengths are processed in blocks with ``lax.map`` (about 4096 particle-wavelength
    pairs per block), so memory grows with the number of nodes, not with nodes x
    wavelengths. The computation is jitted; a new ``particle`` callable (e.g. a new lambda)
    compiles anew, so define it once.
    """
    warn_if_float32_default()
    checks = Checks()
    dist.check(checks)
    wavelength = jnp.asarray(wavelength)
    if not quadrature.adaptive or dist.given_nodes:
        if n_max is None:
            n_max = ensemble_n_max(dist, wavelength, n_env, particle=particle,
                                   quadrature=quadrature)
        radii, _ = dist.nodes(quadrature)
        particle_checks(checks, _make(particle, n, radii), wavelength, n_env)
        return _mean_optics(dist, n, checks.attach(wavelength), theta, n_env, particle,
                            quadrature, int(n_max))
    rule, error = _converge(dist, n, wavelength, theta, n_env, particle, quadrature, n_max,
                            rtol)
    if n_max is None:
        n_max = ensemble_n_max(dist, wavelength, n_env, particle=particle, quadrature=rule)
    out = _mean_optics(dist, n, wavelength, theta, n_env, particle, rule, int(n_max))
    return dataclasses.replace(out, error=jnp.asarray(error, out.c_ext.dtype))


def converged_quadrature(dist, n=None, wavelength=550.0, theta=None, n_env=1.0, *,
                         particle: Callable[[jax.Array], Particle] | None = None,
                         quadrature: Quadrature = Quadrature(), n_max: int | None = None,
                         rtol: float = 1e-6) -> Quadrature:
    """The adaptive rule that `mean_optics` would use for these inputs (concrete), for use
    under jit: ``mean_optics(..., quadrature=converged_quadrature(...))``.

    The rule is converged for these parameters; for an optimisation whose parameters move,
    find it at representative ones (or at a few and pass the finest).
    """
    dist.check()
    return _converge(dist, n, jnp.asarray(wavelength), theta, n_env, particle, quadrature,
                     n_max, rtol)[0]


def _start_panels(x_max: float, width: float) -> int:
    """Panels of equal width to start the adaptive search: about 16 in size parameter per
    panel at the large end of the range (width is the range in the integration variable,
    relative: ln r for the logarithmic distributions); the search refines from there."""
    return int(min(max(8, math.ceil(x_max * width / 16.0)), 1024))


def _converge(dist, n, wavelength, theta, n_env, particle, quadrature, n_max, rtol):
    """(adaptive rule, error estimate per wavelength (*W)) for mean_optics."""
    primal = concrete_distribution(dist, "mean_optics", wavelength, n_env)
    wl = np.asarray(concrete_value(wavelength), float).reshape(-1)
    lo, hi = (float(v) for v in primal.radius_range(quadrature))
    particle_checks(Checks(), _make(particle, n, jnp.asarray([lo, hi])), wavelength, n_env)
    if n_max is None:
        n_max = ensemble_n_max(primal, wl, n_env, particle=particle, quadrature=quadrature)
    x_max = 2 * np.pi * float(n_env) * hi / float(np.min(wl))
    width = math.log(hi / lo) if primal._log_variable else (hi - lo) / hi
    angles = None if theta is None else np.asarray(theta, float).reshape(-1)
    count = wl.size

    def integrand(radii):
        return _per_particle(n, radii, wl, angles, n_env, particle, int(n_max))

    def scale(totals):
        t = totals.reshape(-1, count)  # (components, W)
        c_ext, c_sca = np.abs(t[0]), np.abs(t[1])
        parts = [c_ext, c_sca, c_ext, np.abs(t[3]), c_sca, np.abs(t[5]), np.abs(t[6])]
        if angles is not None:
            s11 = np.abs(t[7:].reshape(4, -1, count)[0])  # (T, W)
            parts += [s11.ravel()] * 4
        return np.concatenate([np.ravel(v) for v in parts])

    rule, estimate = adaptive_breaks(primal, integrand, scale, rtol=rtol, quadrature=quadrature,
                                     start_panels=_start_panels(x_max, width))
    per_wavelength = estimate.reshape(-1, count).max(axis=0)
    return rule, per_wavelength.reshape(np.shape(wavelength))


def _per_particle(n, radii, wavelength, angles, n_env, particle, n_max):
    """The per-particle quantities averaged by mean_optics at radii (K,) (NumPy) and every
    wavelength (W,): (K, 7 W [+ 4 T W]) in the order _SUMS [, S11, S12, S33, S34]."""
    chunk = max(1, _default_chunk() // max(wavelength.size, 1))
    rows = []
    for start in range(0, radii.size, chunk):
        r = radii[start:start + chunk]
        padded = np.concatenate([r, np.full(_bucket(r.size) - r.size, r[-1])])
        rows.append(np.asarray(_pair_quantities(
            n, jnp.asarray(padded), jnp.asarray(wavelength),
            None if angles is None else jnp.asarray(angles), n_env, particle, n_max))[:r.size])
    return np.concatenate(rows)


def _bucket(size: int) -> int:
    """Padded batch size for the adaptive search: the next power of two, at least 256."""
    return max(256, 1 << (size - 1).bit_length())


@functools.partial(jax.jit, static_argnames=("particle", "n_max"))
def _pair_quantities(n, radii, wavelength, theta, n_env, particle, n_max):
    p = _make(particle, n, radii)  # batch (K,)
    r_outer = layer_radii(p)[..., -1][:, None]
    cs = _cross_sections(p, wavelength, n_env, n_max=n_max)  # fields (K, W)
    ones = jnp.ones_like(cs.c_ext)
    fields = [cs.c_ext, cs.c_sca, cs.c_abs, cs.c_back, cs.g * cs.c_sca,
              jnp.pi * r_outer**2 * ones, (4 / 3) * jnp.pi * r_outer**3 * ones]
    if theta is not None:
        mm = _mueller(p, wavelength, theta, n_env, n_max=n_max)  # (K, W, T)
        fields += [jnp.moveaxis(getattr(mm, f), -1, 1) for f in _ANGULAR]  # (K, T, W)
    return jnp.concatenate([f.reshape(radii.shape[0], -1) for f in fields], axis=1)


def _make(particle, n, radii):
    return particle(radii) if particle is not None else Sphere(radius=radii, n=n)


def _particles_per_step(nodes: int) -> int:
    """Wavelengths per lax.map step: about one block of particle-wavelength pairs."""
    return max(1, _default_chunk() // max(nodes, 1))


@functools.partial(jax.jit, static_argnames=("particle", "quadrature", "n_max"))
def _mean_optics(dist, n, wavelength, theta, n_env, particle, quadrature, n_max):
    radii, weights = dist.nodes(quadrature)
    p = _make(particle, n, radii)
    r_outer = layer_radii(p)[..., -1]
    area = jnp.sum(weights * jnp.pi * r_outer**2)
    volume = jnp.sum(weights * (4 / 3) * jnp.pi * r_outer**3)

    def one(wl):
        """Averages at one wavelength: the Mie series of only K particles exist at once."""
        cs = _cross_sections(p, wl, n_env, n_max=n_max)  # fields (K,)
        c_ext, c_sca, c_abs, c_back = (_average(weights, v)
                                       for v in (cs.c_ext, cs.c_sca, cs.c_abs, cs.c_back))
        scatters = c_sca > 0
        g = jnp.where(scatters,
                      _average(weights, cs.g * cs.c_sca) / jnp.where(scatters, c_sca, 1), 0)
        out = dict(c_ext=c_ext, c_sca=c_sca, c_abs=c_abs, c_back=c_back, g=g)
        if theta is not None:
            mm = _mueller(p, wl, theta, n_env, n_max=n_max)  # (K, *T)
            out["mueller"] = jax.tree.map(lambda v: _average(weights, v), mm)
            k = 2 * jnp.pi * n_env / wl.astype(c_sca.dtype)
            out["phase"] = 4 * jnp.pi * out["mueller"].s11 / (k**2 * c_sca)
        return out

    # Wavelengths one block at a time: memory ~ K x block x n_max, not K x W x n_max.
    flat = wavelength.reshape(-1)
    res = lax.map(one, flat, batch_size=min(_particles_per_step(radii.shape[0]), flat.size))
    res = jax.tree.map(lambda v: v.reshape(*wavelength.shape, *v.shape[1:]), res)
    c_ext, c_sca, c_abs = res["c_ext"], res["c_sca"], res["c_abs"]
    return EnsembleOptics(
        c_ext=c_ext, c_sca=c_sca, c_abs=c_abs, c_back=res["c_back"], q_ext=c_ext / area,
        q_sca=c_sca / area, q_abs=c_abs / area, albedo=c_sca / c_ext, g=res["g"], area=area,
        volume=volume, ext_per_volume=c_ext / volume, mueller=res.get("mueller"),
        phase=res.get("phase"))


# ------------------------------------------------------------------------------------------
# Batches at scale
# ------------------------------------------------------------------------------------------

#: Items per lax.map step on GPU/TPU: big enough to fill the device (a CPU-sized block of
#: 4096 costs ~7x there), small enough that one block's Mie series (~1 GB at n_max ~ 30)
#: fits beside 10^7 inputs and outputs.
_ACCELERATOR_CHUNK = 1 << 18


def _default_chunk() -> int:
    """Items per block: cache-sized on CPU (jaxmie._batching), device-sized elsewhere."""
    return BLOCK_SIZE if jax.default_backend() == "cpu" else _ACCELERATOR_CHUNK


@functools.partial(jax.jit, static_argnames=("n_max", "chunk_size"))
def _pairs(radius, n, wavelength, n_env, n_max, chunk_size):
    def one(args):
        r, m, wl = args
        return _efficiencies(Sphere(radius=r, n=m), wl, n_env, n_max=n_max)

    return lax.map(one, (radius, n, wavelength), batch_size=min(chunk_size, radius.shape[0]))


def _pair_arrays(radius, n, wavelength):
    radius, wavelength = jnp.asarray(radius), jnp.asarray(wavelength)
    dtype = jnp.result_type(radius, wavelength, float)
    n = jnp.asarray(n).astype(jnp.result_type(dtype, jnp.complex64))
    shape = jnp.broadcast_shapes(radius.shape, jnp.shape(n), wavelength.shape)
    if len(shape) != 1:
        raise ValueError(f"pair inputs must broadcast to one axis (N,); got shape {shape}")
    return (jnp.broadcast_to(radius.astype(dtype), shape), jnp.broadcast_to(n, shape),
            jnp.broadcast_to(wavelength.astype(dtype), shape))


def pair_efficiencies(radius, n, wavelength, n_env=1.0, *, n_max: int,
                      chunk_size: int | None = None) -> Efficiencies:
    """Efficiencies of N independent sphere-wavelength pairs in bounded memory.

    The pairs are streamed through ``lax.map`` in chunks of ``chunk_size`` (each chunk
    vmapped), so the Mie coefficients of only one chunk exist at a time: memory is the
    inputs and outputs (~90 bytes per pair in float64) plus a fixed working set.

    Args:
        radius: sphere radii in nm, shape (N,) (or broadcastable to it).
        n: complex indices, shape (N,) or scalar.
        wavelength: vacuum wavelengths in nm, shape (N,) or scalar.
        n_env: real host index (scalar).
        n_max: static number of orders for every pair (jaxmie.n_max_for of the largest size
            parameter; over-provisioning is safe).
        chunk_size: pairs per lax.map step (static); None: 4096 on CPU (cache-sized),
            2^18 on GPU/TPU.

    Returns:
        Efficiencies with fields of shape (N,), dtype of the inputs (float32 in, float32 out).
    """
    radius, n, wavelength = _checked_pairs(radius, n, wavelength, n_env)
    return _pairs(radius, n, wavelength, n_env, n_max, chunk_size or _default_chunk())


def _checked_pairs(radius, n, wavelength, n_env):
    """The pair arrays (N,), checked as particles (concrete: ValueError now; traced: with the
    computation, jaxmie._errors)."""
    warn_if_float32_default()
    radius, n, wavelength = _pair_arrays(radius, n, wavelength)
    checks = Checks()
    particle_checks(checks, Sphere(radius=radius, n=n), wavelength, n_env)
    return radius, n, checks.attach(wavelength)


def sharded_pair_efficiencies(radius, n, wavelength, n_env=1.0, *, n_max: int,
                              chunk_size: int | None = None,
                              mesh: jax.sharding.Mesh | None = None) -> Efficiencies:
    """`pair_efficiencies` with the N pairs split across devices.

    A one-axis ``Mesh`` named ``"pairs"`` over ``jax.devices()`` (or the given mesh, whose
    first axis is used) holds the inputs as ``NamedSharding(mesh, P("pairs"))``;
    ``jax.shard_map`` runs the chunked kernel on each device's shard, with no communication.
    N is padded to a multiple of the device count with copies of the first pair and the
    padding is dropped from the result.

    Multi-host: start every process with ``jax.distributed.initialize()`` (coordinator
    address, process count and id, or auto-detected on SLURM / TPU pods); ``jax.devices()``
    then lists the devices of all hosts and the same call shards over them. Each process
    should hold only its own slice of the pairs: build the global input with
    ``jax.make_array_from_process_local_data(NamedSharding(mesh, P("pairs")), local)`` and
    call the shard_map'd kernel as here; each host reads back its own rows from
    ``out.addressable_shards``.

    Args and returns: as `pair_efficiencies`. On CPU, several host devices come from
    ``XLA_FLAGS=--xla_force_host_platform_device_count=D`` set before importing jax.
    """
    if mesh is None:
        mesh = jax.sharding.Mesh(np.array(jax.devices()), ("pairs",))
    axis = mesh.axis_names[0]
    devices = mesh.shape[axis]
    arrays = _checked_pairs(radius, n, wavelength, n_env)
    count = arrays[0].shape[0]
    pad = (-count) % devices
    if pad:
        arrays = tuple(jnp.concatenate([a, jnp.broadcast_to(a[:1], (pad,))]) for a in arrays)
    spec = P(axis)
    sharding = jax.sharding.NamedSharding(mesh, spec)
    arrays = tuple(jax.device_put(a, sharding) for a in arrays)
    out = _sharded_kernel(mesh, spec, n_max, chunk_size or _default_chunk())(*arrays, n_env)
    return jax.tree.map(lambda v: v[:count], out) if pad else out


@functools.lru_cache(maxsize=32)
def _sharded_kernel(mesh, spec, n_max, chunk_size):
    def local(radius, n, wavelength, n_env):
        return _pairs(radius, n, wavelength, n_env, n_max, chunk_size)

    # check_vma=False: the recurrences start their while_loop carries from fresh constants,
    # which the varying-axis type check would reject although every shard is independent.
    mapped = jax.shard_map(local, mesh=mesh, in_specs=(spec, spec, spec, P()), out_specs=spec,
                           check_vma=False)
    return jax.jit(mapped)
