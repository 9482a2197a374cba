r"""Polydisperse ensembles: size distributions, quadrature averages, batches at scale.

A size distribution is a frozen dataclass pytree whose parameters are leaves, so
``jax.grad`` of an ensemble average with respect to a median radius or a width is an
ordinary derivative. Averages are quadratures, not Monte Carlo: the distribution is truncated
where its tails hold less than ``Quadrature.tail`` of the particles, the remaining range is
covered by composite Gauss-Legendre rules (in ln r for distributions of positive radii, in r
for the normal and uniform ones), and the weights are the density at the nodes, normalised
to sum to one. The nodes move smoothly with the parameters, so averages and their gradients
are smooth functions of them.

Number distribution n(r) (particles per unit radius, normalised), with
:math:`\langle f \rangle = \int f(r) n(r) dr`:

.. math::
    r_{eff} = \frac{\langle r^3 \rangle}{\langle r^2 \rangle},\qquad
    v_{eff} = \frac{\langle (r - r_{eff})^2 r^2 \rangle}{r_{eff}^2 \langle r^2 \rangle}
            = \frac{\langle r^4 \rangle \langle r^2 \rangle}{\langle r^3 \rangle^2} - 1

(Hansen & Travis 1974, eqs. 2.53-2.54). Ensemble optics (per particle, B&H units):

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
import statistics
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import PartitionSpec as P
from jax.scipy.special import gammaln

from ._batching import BLOCK_SIZE
from .coefficients import n_max_for
from .observables import Efficiencies, MuellerMatrix, cross_sections, efficiencies, mueller_matrix
from .particles import Particle, Sphere, layer_radii
from .validation import check_particle, concrete_value

__all__ = [
    "EnsembleOptics",
    "Gamma",
    "LogNormal",
    "ModifiedGamma",
    "Normal",
    "Quadrature",
    "Uniform",
    "Weighted",
    "ensemble_n_max",
    "mean_optics",
    "pair_efficiencies",
    "sharded_pair_efficiencies",
]


# ------------------------------------------------------------------------------------------
# Quadrature
# ------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Quadrature:
    """Accuracy control of distribution averages (static: it fixes shapes).

    Attributes:
        nodes: number of radii evaluated; rounded up to a multiple of ``order``.
        order: Gauss-Legendre points per panel. Panels of equal width cover the range, so
            the Mie ripple structure is resolved evenly across it.
        tail: fraction of the particles left out beyond the truncated range (bound, split
            between the two tails). The upper end is set by the volume-weighted (r^3)
            distribution, so that cross sections (~ r^2) and volumes converge as well as
            number averages. The result is the average over the truncated, renormalised
            distribution.

    The nodes must resolve the Mie ripple and interference structure of the integrand at
    the largest size parameter x_max in the range. Measured for m = 1.5 + 0.01i over
    2-3 decades of radius with x_max ~ 20 (tests/test_ensemble.py): 128 nodes give ~1e-5,
    256 ~1e-7, 512 ~1e-9 relative error in <C_ext>; roughly, keep the spacing in size
    parameter at the large end, x_max * (range of ln r) / nodes, below ~0.1 for 1e-7.
    Weakly absorbing particles have sharper ripples and need more. Double ``nodes`` and
    compare to check a result.

    Gradients (``fixed_nodes``): the nodes follow the distribution's parameters, but by
    default derivatives see them as fixed and differentiate the weights only, i.e. they
    compute the quadrature of d/dtheta of the density,

    .. math:: \\frac{\\partial}{\\partial\\theta}\\int f(r)\\,n(r;\\theta)\\,dr
        \\approx \\sum_i f(r_i)\\,\\frac{\\partial w_i}{\\partial\\theta},

    which converges like the value itself. Differentiating through moving nodes as well
    (``fixed_nodes=False``, the exact derivative of the discrete rule) brings in f'(r),
    which oscillates with the ripple structure and needs far more nodes: for a water cloud
    at x ~ 200 it was 12 times off with 2048 nodes. The uniform distribution always uses
    moving nodes (its derivative lives at the ends of the range), and user weights are
    differentiated as given.
    """

    nodes: int = 256
    order: int = 16
    tail: float = 1e-12
    fixed_nodes: bool = True

    @property
    def panels(self) -> int:
        return -(-self.nodes // self.order)


def _gauss_legendre(lo, hi, quad: Quadrature):
    """Composite Gauss-Legendre nodes and weights on [lo, hi] (traced ends), shape (K,)."""
    u, w = np.polynomial.legendre.leggauss(quad.order)
    panels = quad.panels
    offset = (np.arange(panels)[:, None] + (u[None, :] + 1) / 2).ravel() / panels  # in [0, 1]
    weight = np.tile(w, panels) / (2 * panels)
    dtype = jnp.result_type(lo, hi, float)
    width = hi - lo
    return lo + width * jnp.asarray(offset, dtype), width * jnp.asarray(weight, dtype)


def _held(t, w, quadrature: Quadrature):
    """Nodes and rule weights as constants for differentiation (see Quadrature)."""
    if quadrature.fixed_nodes:
        return lax.stop_gradient(t), lax.stop_gradient(w)
    return t, w


def _normalised(log_density, rule_weights):
    """Weights proportional to rule weight x density, summing to 1 (no overflow)."""
    shift = lax.stop_gradient(jnp.max(log_density))  # cancels exactly in the ratio
    w = rule_weights * jnp.exp(log_density - shift)
    return w / jnp.sum(w)


def _normal_quantile(tail: float) -> float:
    """c with P(|Z| > c) = tail for a standard normal Z (static Python float)."""
    return -statistics.NormalDist().inv_cdf(tail / 2)


# ------------------------------------------------------------------------------------------
# Distributions
# ------------------------------------------------------------------------------------------


class _Distribution:
    """Shared methods; subclasses define moment(p) and nodes(quadrature)."""

    def moment(self, p: float) -> jax.Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def nodes(self, quadrature: Quadrature = Quadrature()) -> tuple[jax.Array, jax.Array]:
        """Quadrature radii (nm) and weights summing to 1, each of shape (K,)."""
        raise NotImplementedError  # pragma: no cover

    #: (field, predicate on a NumPy value, rule) for the concrete-input checks
    _rules: tuple = ()

    def check(self) -> None:
        """Raise ValueError naming the field if a concrete parameter is out of range.

        Traced parameters (inside jit / vmap) are not checked. mean_optics, decoupling
        and mie_decoupling call this on eager input.
        """
        for field, ok, rule in self._rules:
            value = concrete_value(getattr(self, field))
            if value is not None and not np.all(ok(np.asarray(value))):
                raise ValueError(f"{type(self).__name__}.{field} must be {rule}; got "
                                 f"{np.asarray(value).ravel()[:5].tolist()}")
        self._check_more()

    def _check_more(self) -> None:
        """Checks involving several fields (subclasses)."""

    def mean(self) -> jax.Array:
        """Number-mean radius <r> in nm."""
        return self.moment(1)

    def effective_radius(self) -> jax.Array:
        """Hansen & Travis effective radius <r^3>/<r^2> in nm (untruncated distribution)."""
        return self.moment(3) / self.moment(2)

    def effective_variance(self) -> jax.Array:
        """Hansen & Travis effective variance <r^4><r^2>/<r^3>^2 - 1 (dimensionless)."""
        m3 = self.moment(3)
        return self.moment(4) * self.moment(2) / (m3 * m3) - 1


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class LogNormal(_Distribution):
    r"""Log-normal number distribution.

    .. math:: n(r) = \frac{1}{\sqrt{2\pi}\,\sigma r}
        \exp\Big[-\frac{(\ln r - \ln r_g)^2}{2\sigma^2}\Big]

    Attributes:
        median: number median radius r_g in nm (scalar, > 0).
        sigma: standard deviation of ln r (scalar, > 0); the geometric standard deviation
            is exp(sigma). r_eff = r_g exp(5 sigma^2 / 2), v_eff = exp(sigma^2) - 1.
    """

    _rules = (("median", lambda v: np.isfinite(v) & (v > 0), "finite and > 0 nm"),
              ("sigma", lambda v: np.isfinite(v) & (v > 0), "finite and > 0"))

    median: Any
    sigma: Any

    @classmethod
    def from_effective(cls, r_eff, v_eff) -> "LogNormal":
        """The log-normal with effective radius r_eff (nm) and effective variance v_eff."""
        log_var = jnp.log1p(v_eff)
        return cls(median=r_eff * jnp.exp(-2.5 * log_var), sigma=jnp.sqrt(log_var))

    def moment(self, p):
        return self.median**p * jnp.exp(0.5 * (p * self.sigma) ** 2)

    def nodes(self, quadrature=Quadrature()):
        c = _normal_quantile(quadrature.tail)
        centre = jnp.log(self.median)
        # upper end: the r^3-weighted distribution, a log-normal centred 3 sigma^2 higher
        upper = centre + (3 * self.sigma + c) * self.sigma
        t, w = _held(*_gauss_legendre(centre - c * self.sigma, upper, quadrature), quadrature)
        z = (t - centre) / self.sigma
        return jnp.exp(t), _normalised(-0.5 * z * z, w)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Normal(_Distribution):
    """Normal number distribution of radii, truncated to r > 0 by the quadrature.

    Attributes:
        mean_radius: mean radius in nm (scalar). std: standard deviation in nm (scalar, > 0).
    Moments are those of the untruncated normal: meant for std well below mean.
    """

    _rules = (("mean_radius", lambda v: np.isfinite(v) & (v > 0), "finite and > 0 nm"),
              ("std", lambda v: np.isfinite(v) & (v > 0), "finite and > 0 nm"))

    mean_radius: Any
    std: Any

    def moment(self, p):
        mu, s2 = self.mean_radius, self.std**2
        return {1: mu, 2: mu**2 + s2, 3: mu**3 + 3 * mu * s2,
                4: mu**4 + 6 * mu**2 * s2 + 3 * s2**2}[p]

    def nodes(self, quadrature=Quadrature()):
        c = _normal_quantile(quadrature.tail)
        lo = jnp.maximum(self.mean_radius - c * self.std, 1e-6 * self.mean_radius)
        # upper end: the r^3-weighted density peaks ~3 std^2/mean higher
        upper = self.mean_radius + c * self.std + 3 * self.std**2 / self.mean_radius
        r, w = _held(*_gauss_legendre(lo, upper, quadrature), quadrature)
        z = (r - self.mean_radius) / self.std
        return r, _normalised(-0.5 * z * z, w)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Uniform(_Distribution):
    """Uniform number distribution of radii on [low, high] nm (scalars, 0 < low < high)."""

    _rules = (("low", lambda v: np.isfinite(v) & (v > 0), "finite and > 0 nm"),
              ("high", lambda v: np.isfinite(v) & (v > 0), "finite and > 0 nm"))

    def _check_more(self):
        low, high = concrete_value(self.low), concrete_value(self.high)
        if low is not None and high is not None and not np.all(high > low):
            raise ValueError(f"Uniform: high must exceed low; got low={low}, high={high}")

    low: Any
    high: Any

    def moment(self, p):
        return (self.high ** (p + 1) - self.low ** (p + 1)) / ((p + 1) * (self.high - self.low))

    def nodes(self, quadrature=Quadrature()):
        r, w = _gauss_legendre(self.low, self.high, quadrature)
        return r, w / jnp.sum(w)


def _wilson_hilferty(k, z):
    """Approximate quantile of Gamma(k, 1) at normal deviate z: k (1 - 1/(9k) + z/(3 sqrt k))^3."""
    base = 1 - 1 / (9 * k) + z / (3 * jnp.sqrt(k))
    return k * jnp.maximum(base, 0.0) ** 3


def _generalised_gamma_nodes(k, scale, power, quadrature):
    """Nodes of n(r) ~ r^(k power - 1) exp(-(r/scale)^power), in ln r.

    u = (r/scale)^power is Gamma(k, 1). The lower end is the larger of the rigorous bound
    P(u < u_lo) <= u_lo^k / Gamma(k + 1) and the Wilson-Hilferty quantile; the upper end,
    for the r^3-weighted Gamma(k + 3/power), the smaller of the sub-gamma bound
    P(u > k + sqrt(2 k t) + t) <= exp(-t) and the Wilson-Hilferty quantile. Each tail holds
    at most tail / 2 (Wilson-Hilferty errs on the wide side at these deep tails: checked
    against scipy's gamma quantiles for 0.3 <= k <= 1000).
    """
    half = quadrature.tail / 2
    t = math.log(1 / half)
    z = _normal_quantile(quadrature.tail)
    log_u_lo = jnp.maximum((math.log(half) + gammaln(k + 1)) / k,
                           jnp.log(jnp.maximum(_wilson_hilferty(k, -z), 1e-300)))
    k3 = k + 3 / power
    log_u_hi = jnp.log(jnp.minimum(k3 + jnp.sqrt(2 * k3 * t) + t, _wilson_hilferty(k3, z)))
    log_scale = jnp.log(scale)
    s, w = _held(*_gauss_legendre(log_u_lo / power + log_scale, log_u_hi / power + log_scale,
                                  quadrature), quadrature)
    log_u = power * (s - log_scale)
    return jnp.exp(s), _normalised(k * log_u - jnp.exp(log_u), w)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Gamma(_Distribution):
    r"""Gamma distribution in Hansen & Travis' form (the Schulz distribution of colloids).

    .. math:: n(r) \propto r^{(1 - 3b)/b} e^{-r/(ab)},\qquad r_{eff} = a,\ v_{eff} = b

    Attributes:
        r_eff: effective radius a in nm (scalar, > 0).
        v_eff: effective variance b (scalar, 0 < b < 1/2).

    Shape k = (1 - 2b)/b and scale a b (nm) in the usual parameterisation. `schulz` builds
    one from the number-mean radius and the polydispersity std/mean.
    """

    _rules = (("r_eff", lambda v: np.isfinite(v) & (v > 0), "finite and > 0 nm"),
              ("v_eff", lambda v: (v > 0) & (v < 0.5), "in (0, 1/2) (shape (1 - 2b)/b > 0)"))

    r_eff: Any
    v_eff: Any

    @classmethod
    def schulz(cls, mean, polydispersity) -> "Gamma":
        """Schulz (gamma) distribution with number mean (nm) and polydispersity p = std/mean."""
        p2 = polydispersity**2
        return cls(r_eff=mean * (1 + 2 * p2), v_eff=p2 / (1 + 2 * p2))

    @property
    def shape(self):
        return (1 - 2 * self.v_eff) / self.v_eff

    @property
    def scale(self):
        return self.r_eff * self.v_eff

    @property
    def polydispersity(self):
        """std / mean = 1 / sqrt(k)."""
        return 1 / jnp.sqrt(self.shape)

    def moment(self, p):
        k = self.shape
        return self.scale**p * jnp.exp(gammaln(k + p) - gammaln(k))

    def nodes(self, quadrature=Quadrature()):
        return _generalised_gamma_nodes(self.shape, self.scale, 1.0, quadrature)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class ModifiedGamma(_Distribution):
    r"""Deirmendjian's modified gamma distribution.

    .. math:: n(r) \propto r^{\alpha} \exp\Big[-\frac{\alpha}{\gamma}
        \Big(\frac{r}{r_c}\Big)^{\gamma}\Big]

    Attributes:
        alpha: power of the small-radius side (scalar, > 0).
        r_c: mode radius in nm (scalar, > 0).
        gamma: steepness of the large-radius cutoff (scalar, > 0).
    Deirmendjian's cloud C.1 is alpha = 6, r_c = 4000 nm, gamma = 1.
    """

    _rules = tuple((name, lambda v: np.isfinite(v) & (v > 0), "finite and > 0")
                   for name in ("alpha", "r_c", "gamma"))

    alpha: Any
    r_c: Any
    gamma: Any

    @property
    def _k(self):
        return (self.alpha + 1) / self.gamma

    @property
    def _scale(self):
        return self.r_c * (self.gamma / self.alpha) ** (1 / self.gamma)

    def moment(self, p):
        k = self._k
        return self._scale**p * jnp.exp(gammaln(k + p / self.gamma) - gammaln(k))

    def nodes(self, quadrature=Quadrature()):
        return _generalised_gamma_nodes(self._k, self._scale, self.gamma, quadrature)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Weighted(_Distribution):
    """User-given radii and weights (a histogram, a measured size spectrum, samples).

    Attributes:
        radii: radii in nm, shape (K,). weights: non-negative, shape (K,); normalised here.
    The quadrature settings are ignored: the given radii are the nodes.
    """

    _rules = (("radii", lambda v: np.isfinite(v) & (v > 0), "finite and > 0 nm"),
              ("weights", lambda v: np.isfinite(v) & (v >= 0) & (np.sum(v) > 0),
               "finite, >= 0 and not all zero"))

    radii: Any
    weights: Any

    def _w(self):
        w = jnp.asarray(self.weights)
        return w / jnp.sum(w)

    def moment(self, p):
        return jnp.sum(self._w() * jnp.asarray(self.radii) ** p)

    def nodes(self, quadrature=Quadrature()):
        return jnp.asarray(self.radii), self._w()


Distribution = LogNormal | Normal | Uniform | Gamma | ModifiedGamma | Weighted


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

    def mass_extinction(self, density):
        """Mass extinction coefficient in m^2/g for a particle density in g/cm^3.

        c_ext / (density volume): 1 nm^2 / (1 g/cm^3 x 1 nm^3) = 1000 m^2/g.
        """
        return 1e3 * self.ext_per_volume / density


def ensemble_n_max(dist, wavelength, n_env=1.0, *, particle: Callable | None = None,
                   quadrature: Quadrature = Quadrature()) -> int:
    """Static n_max for `mean_optics` under jit: Wiscombe's rule at the largest node.

    Needs concrete distribution parameters and wavelengths. Under jit, call it outside with
    the largest parameters the optimisation will reach (n_max is rounded up in steps of 8,
    and an over-provisioned n_max is safe).
    """
    radii, _ = dist.nodes(quadrature)
    if particle is not None:
        radii = layer_radii(particle(radii))[..., -1]
    r_max, wl = concrete_value(jnp.max(radii)), concrete_value(jnp.asarray(wavelength))
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


def mean_optics(dist, n=None, wavelength=550.0, theta=None, n_env=1.0, *,
                particle: Callable[[jax.Array], Particle] | None = None,
                quadrature: Quadrature = Quadrature(), n_max: int | None = None
                ) -> EnsembleOptics:
    """Cross sections, efficiencies, albedo, g, Mueller matrix and phase function of an
    ensemble, averaged over a size distribution by quadrature.

    Args:
        dist: a size distribution (LogNormal, Gamma, ...); its parameters may be traced.
        n: complex index or material of homogeneous spheres (ignored when ``particle`` is
            given).
        wavelength: vacuum wavelengths in nm, shape W.
        theta: scattering angles in radians, shape T, or None for no angular quantities.
        n_env: real host index.
        particle: optional callable mapping the outer radii (nm, shape (K,)) to a particle
            batch, e.g. ``lambda r: jaxmie.CoreShell(0.8 * r, r, n_core, n_shell)``.
        quadrature: accuracy control (nodes, tail).
        n_max: static number of orders shared by every node. None uses Wiscombe's rule on
            the largest radius in the quadrature at the shortest wavelength (concrete
            parameters only; under jit pass `ensemble_n_max`).

    Returns:
        EnsembleOptics with fields of shape (*W) and, with theta, (*W, *T). dtype follows
        the distribution parameters and wavelengths.

    The wavelengths are processed in blocks with ``lax.map`` (about 4096 particle-wavelength
    pairs per block), so memory grows with the number of nodes, not with nodes x
    wavelengths. The computation is jitted; a new ``particle`` callable (e.g. a new lambda)
    compiles anew, so define it once.
    """
    wavelength = jnp.asarray(wavelength)
    if n_max is None:
        n_max = ensemble_n_max(dist, wavelength, n_env, particle=particle,
                               quadrature=quadrature)
    dist.check()
    radii, _ = dist.nodes(quadrature)
    if concrete_value(radii) is not None:  # eager call: check the inputs like jaxmie does
        check_particle(_make(particle, n, radii), wavelength, n_env)
    return _mean_optics(dist, n, wavelength, theta, n_env, particle, quadrature, int(n_max))


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
        cs = cross_sections(p, wl, n_env, n_max)  # fields (K,)
        c_ext, c_sca, c_abs, c_back = (_average(weights, v)
                                       for v in (cs.c_ext, cs.c_sca, cs.c_abs, cs.c_back))
        scatters = c_sca > 0
        g = jnp.where(scatters,
                      _average(weights, cs.g * cs.c_sca) / jnp.where(scatters, c_sca, 1), 0)
        out = dict(c_ext=c_ext, c_sca=c_sca, c_abs=c_abs, c_back=c_back, g=g)
        if theta is not None:
            mm = mueller_matrix(p, wl, theta, n_env, n_max)  # (K, *T)
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
        return efficiencies(Sphere(radius=r, n=m), wl, n_env, n_max)

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
    return _pairs(*_pair_arrays(radius, n, wavelength), n_env, n_max,
                  chunk_size or _default_chunk())


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
    arrays = _pair_arrays(radius, n, wavelength)
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
