r"""Size distributions as pytrees, and the quadrature that averages over them.

A size distribution is a frozen dataclass pytree whose parameters are leaves, so
``jax.grad`` of an ensemble average with respect to a median radius or a width is an
ordinary derivative. Averages are quadratures, not Monte Carlo: the distribution is truncated
where its tails hold less than ``Quadrature.tail`` of the particles, the remaining range is
covered by composite Gauss-Legendre rules (in ln r for distributions of positive radii, in r
for the normal and uniform ones), and the weights are the density at the nodes, normalised
to sum to one. The nodes move smoothly with the parameters; derivatives go through the
weights (see `Quadrature`).

Number distribution n(r) (particles per unit radius, normalised), with
:math:`\langle f \rangle = \int f(r) n(r) dr`:

.. math::
    r_{eff} = \frac{\langle r^3 \rangle}{\langle r^2 \rangle},\qquad
    v_{eff} = \frac{\langle (r - r_{eff})^2 r^2 \rangle}{r_{eff}^2 \langle r^2 \rangle}
            = \frac{\langle r^4 \rangle \langle r^2 \rangle}{\langle r^3 \rangle^2} - 1

(Hansen & Travis 1974, eqs. 2.53-2.54). Use them through jaxmie.ensemble, which re-exports
every name here.

References:
    J. E. Hansen and L. D. Travis, Space Sci. Rev. 16, 527 (1974), section 2.
    D. Deirmendjian, Electromagnetic Scattering on Spherical Polydispersions (Elsevier, 1969).
    E. B. Wilson and M. M. Hilferty, Proc. Natl. Acad. Sci. 17, 684 (1931).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.special import gammaln

from ._errors import Checks, concrete_value

__all__ = [
    "Distribution",
    "Gamma",
    "LogNormal",
    "ModifiedGamma",
    "Normal",
    "Quadrature",
    "Uniform",
    "Weighted",
]


def _positive(v, xp):
    return xp.isfinite(v) & (v > 0)


# ------------------------------------------------------------------------------------------
# Quadrature
# ------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Quadrature:
    """Accuracy control of distribution averages (static: it fixes shapes).

    Attributes:
        nodes: None (the default) for the adaptive rule: the averaging function finds
            panels that converge its own integrand to its ``rtol`` (see `adaptive_breaks`).
            An integer gives that many radii in panels of equal width (rounded up to a
            multiple of ``order``), with no error control.
        order: Gauss-Legendre points per panel.
        tail: fraction of the particles left out beyond the truncated range (bound, split
            between the two tails). The upper end is set by the volume-weighted (r^3)
            distribution, so that cross sections (~ r^2) and volumes converge as well as
            number averages. The result is the average over the truncated, renormalised
            distribution.
        fixed_nodes: see Gradients below.
        breaks: panel edges as fractions of the truncated range, increasing from 0 to 1
            (what the adaptive rule returns; give it to reuse a rule under jit).

    Why adaptive: the integrands of Mie averages carry resonances (ripple structure) whose
    width shrinks with the absorption. With panels of equal width, <C_ext> of a lossless
    sphere (m = 1.5, x ~ 36, sigma = 0.05) converges only like 1/nodes (5e-5 with 4,096
    nodes, 3e-6 with 65,536), because each resonance narrower than the node spacing is
    sampled at random. The adaptive rule bisects the panels where a 16-point Gauss rule and
    the two 16-point rules of its halves disagree, until the sum of those disagreements is
    below rtol of every average, so the nodes gather at the resonances.

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

    nodes: int | None = None
    order: int = 16
    tail: float = 1e-12
    fixed_nodes: bool = True
    breaks: tuple[float, ...] | None = None

    def __post_init__(self):
        if self.nodes is not None and (isinstance(self.nodes, bool) or
                                       not isinstance(self.nodes, int) or self.nodes < 1):
            raise ValueError(f"Quadrature.nodes must be None or an integer >= 1; got "
                             f"{self.nodes!r}")
        if not (isinstance(self.order, int) and self.order >= 1):
            raise ValueError(f"Quadrature.order must be an integer >= 1; got {self.order!r}")
        if not 0 < self.tail < 1:
            raise ValueError(f"Quadrature.tail must be in (0, 1); got {self.tail!r}")
        if self.breaks is not None:
            edges = np.asarray(self.breaks, float)
            if (edges.ndim != 1 or edges.size < 2 or edges[0] != 0 or edges[-1] != 1
                    or np.any(np.diff(edges) <= 0)):
                raise ValueError("Quadrature.breaks must increase from 0 to 1; got "
                                 f"{tuple(edges[:5])}...")

    @property
    def adaptive(self) -> bool:
        """Whether the rule is still to be found (nodes and breaks both None)."""
        return self.nodes is None and self.breaks is None

    @property
    def panels(self) -> int:
        """Number of panels of the rule."""
        if self.breaks is not None:
            return len(self.breaks) - 1
        if self.nodes is None:
            raise ValueError("an adaptive Quadrature has no panels until its rule is found")
        return -(-self.nodes // self.order)

    def edges(self) -> np.ndarray:
        """Panel edges in [0, 1], shape (panels + 1,)."""
        if self.breaks is not None:
            return np.asarray(self.breaks, float)
        return np.linspace(0.0, 1.0, self.panels + 1)

    def rule(self) -> tuple[np.ndarray, np.ndarray]:
        """Nodes and weights of the composite rule on [0, 1], each shape (panels * order,)."""
        if self.adaptive:
            raise ValueError(
                "Quadrature() is adaptive: its nodes are found by the averaging function "
                "(mean_optics, decoupling, mie_decoupling) from concrete inputs. Under jit, "
                "or to get nodes directly, give Quadrature(nodes=...) or the rule found "
                "outside (e.g. jaxmie.ensemble.converged_quadrature)")
        return _composite(self.edges(), self.order)


def _composite(edges: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre with `order` points on every panel [edges[i], edges[i+1]]."""
    u, w = np.polynomial.legendre.leggauss(order)
    width = np.diff(edges)[:, None]
    nodes = edges[:-1, None] + width * (u[None, :] + 1) / 2
    return nodes.ravel(), (width * w[None, :] / 2).ravel()


def _on_range(lo, hi, quadrature: Quadrature):
    """The quadrature's composite rule mapped onto [lo, hi] (traced ends), shape (K,)."""
    offset, weight = quadrature.rule()
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


#: The rule that `nodes` uses when none is given: 256 radii in equal panels (for moments and
#: other smooth integrands; the averaging functions choose their own, see Quadrature).
DEFAULT_NODES = Quadrature(nodes=256)


class _Distribution:
    """Shared methods; subclasses define moment(p), and _support and _log_density on the
    integration variable t (ln r where _log_variable, else r)."""

    _log_variable = True
    #: Whether derivatives follow the nodes whatever Quadrature.fixed_nodes says.
    _moving_nodes = False
    #: Whether the distribution brings its own nodes (no quadrature to choose).
    given_nodes = False

    def moment(self, p: float) -> jax.Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def _support(self, tail: float) -> tuple[jax.Array, jax.Array]:  # pragma: no cover
        """(lo, hi) in t: the range holding all but `tail` of the relevant mass."""
        raise NotImplementedError

    def _log_density(self, t: jax.Array) -> jax.Array:  # pragma: no cover
        """log of the density in t, up to a constant."""
        raise NotImplementedError

    def radius(self, t: jax.Array) -> jax.Array:
        """The radius (nm) at integration variable t."""
        return jnp.exp(t) if self._log_variable else t

    def nodes(self, quadrature: Quadrature = DEFAULT_NODES) -> tuple[jax.Array, jax.Array]:
        """Quadrature radii (nm) and weights summing to 1, each of shape (K,).

        An adaptive Quadrature() has no nodes of its own (ValueError): pass its rule
        (nodes or breaks), as the averaging functions do once they have found it.
        """
        t, w = _on_range(*self._support(quadrature.tail), quadrature)
        if not self._moving_nodes:
            t, w = _held(t, w, quadrature)
        return self.radius(t), _normalised(self._log_density(t), w)

    def radius_range(self, quadrature: Quadrature = DEFAULT_NODES) -> tuple[jax.Array,
                                                                             jax.Array]:
        """The smallest and largest radius (nm) that any rule with this tail evaluates."""
        lo, hi = self._support(quadrature.tail)
        return self.radius(lo), self.radius(hi)

    #: (field, predicate ok(value, xp), rule) of the parameter checks (jaxmie._errors)
    _rules: tuple = ()

    def check(self, checks: Checks | None = None) -> None:
        """Check the parameters: ValueError naming the field for a concrete one out of range.

        Args:
            checks: where traced parameters' checks go, to run with the computation
                (jaxmie._errors); without it, only concrete parameters are checked.
        """
        checks = Checks() if checks is None else checks
        for field, ok, rule in self._rules:
            checks.require(f"{type(self).__name__}.{field}", getattr(self, field), ok, rule)
        self._check_more(checks)

    def _check_more(self, checks: Checks) -> None:
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

    _rules = (("median", _positive, "finite and > 0 nm"),
              ("sigma", _positive, "finite and > 0"))

    median: Any
    sigma: Any

    @classmethod
    def from_effective(cls, r_eff, v_eff) -> LogNormal:
        """The log-normal with effective radius r_eff (nm) and effective variance v_eff."""
        log_var = jnp.log1p(v_eff)
        return cls(median=r_eff * jnp.exp(-2.5 * log_var), sigma=jnp.sqrt(log_var))

    def moment(self, p):
        return self.median**p * jnp.exp(0.5 * (p * self.sigma) ** 2)

    def _support(self, tail):
        c = _normal_quantile(tail)
        centre = jnp.log(self.median)
        # upper end: the r^3-weighted distribution, a log-normal centred 3 sigma^2 higher
        return centre - c * self.sigma, centre + (3 * self.sigma + c) * self.sigma

    def _log_density(self, t):
        z = (t - jnp.log(self.median)) / self.sigma
        return -0.5 * z * z


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Normal(_Distribution):
    """Normal number distribution of radii, truncated to r > 0 by the quadrature.

    Attributes:
        mean_radius: mean radius in nm (scalar). std: standard deviation in nm (scalar, > 0).
    Moments are those of the untruncated normal: meant for std well below mean.
    """

    _rules = (("mean_radius", _positive, "finite and > 0 nm"),
              ("std", _positive, "finite and > 0 nm"))

    mean_radius: Any
    std: Any

    def moment(self, p):
        mu, s2 = self.mean_radius, self.std**2
        return {1: mu, 2: mu**2 + s2, 3: mu**3 + 3 * mu * s2,
                4: mu**4 + 6 * mu**2 * s2 + 3 * s2**2}[p]

    _log_variable = False

    def _support(self, tail):
        c = _normal_quantile(tail)
        lo = jnp.maximum(self.mean_radius - c * self.std, 1e-6 * self.mean_radius)
        # upper end: the r^3-weighted density peaks ~3 std^2/mean higher
        return lo, self.mean_radius + c * self.std + 3 * self.std**2 / self.mean_radius

    def _log_density(self, r):
        z = (r - self.mean_radius) / self.std
        return -0.5 * z * z


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Uniform(_Distribution):
    """Uniform number distribution of radii on [low, high] nm (scalars, 0 < low < high)."""

    _rules = (("low", _positive, "finite and > 0 nm"),
              ("high", _positive, "finite and > 0 nm"))

    def _check_more(self, checks):
        checks.require("Uniform.high - low", self.high - self.low, lambda d, xp: d > 0,
                       "> 0 (high must exceed low)")

    low: Any
    high: Any

    def moment(self, p):
        return (self.high ** (p + 1) - self.low ** (p + 1)) / ((p + 1) * (self.high - self.low))

    _log_variable = False
    _moving_nodes = True

    def _support(self, tail):
        return jnp.asarray(self.low), jnp.asarray(self.high)

    def _log_density(self, r):
        return jnp.zeros_like(r)


def _wilson_hilferty(k, z):
    """Approximate quantile of Gamma(k, 1) at normal deviate z: k (1 - 1/(9k) + z/(3 sqrt k))^3."""
    base = 1 - 1 / (9 * k) + z / (3 * jnp.sqrt(k))
    return k * jnp.maximum(base, 0.0) ** 3


def _generalised_gamma_support(k, scale, power, tail):
    """(lo, hi) in ln r for n(r) ~ r^(k power - 1) exp(-(r/scale)^power).

    u = (r/scale)^power is Gamma(k, 1). The lower end is the larger of the rigorous bound
    P(u < u_lo) <= u_lo^k / Gamma(k + 1) and the Wilson-Hilferty quantile; the upper end,
    for the r^3-weighted Gamma(k + 3/power), the smaller of the sub-gamma bound
    P(u > k + sqrt(2 k t) + t) <= exp(-t) and the Wilson-Hilferty quantile. Each tail holds
    at most tail / 2 (Wilson-Hilferty errs on the wide side at these deep tails: checked
    against scipy's gamma quantiles for 0.3 <= k <= 1000).
    """
    half = tail / 2
    t = math.log(1 / half)
    z = _normal_quantile(tail)
    log_u_lo = jnp.maximum((math.log(half) + gammaln(k + 1)) / k,
                           jnp.log(jnp.maximum(_wilson_hilferty(k, -z), 1e-300)))
    k3 = k + 3 / power
    log_u_hi = jnp.log(jnp.minimum(k3 + jnp.sqrt(2 * k3 * t) + t, _wilson_hilferty(k3, z)))
    log_scale = jnp.log(scale)
    return log_u_lo / power + log_scale, log_u_hi / power + log_scale


def _generalised_gamma_log_density(k, scale, power, s):
    """log n in ln r, up to a constant: k u - e^u with u = power (ln r - ln scale)."""
    log_u = power * (s - jnp.log(scale))
    return k * log_u - jnp.exp(log_u)


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

    _rules = (("r_eff", _positive, "finite and > 0 nm"),
              ("v_eff", lambda v, xp: (v > 0) & (v < 0.5), "in (0, 1/2) (shape (1 - 2b)/b > 0)"))

    r_eff: Any
    v_eff: Any

    @classmethod
    def schulz(cls, mean, polydispersity) -> Gamma:
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

    def _support(self, tail):
        return _generalised_gamma_support(self.shape, self.scale, 1.0, tail)

    def _log_density(self, t):
        return _generalised_gamma_log_density(self.shape, self.scale, 1.0, t)


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

    _rules = tuple((name, _positive, "finite and > 0")
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

    def _support(self, tail):
        return _generalised_gamma_support(self._k, self._scale, self.gamma, tail)

    def _log_density(self, t):
        return _generalised_gamma_log_density(self._k, self._scale, self.gamma, t)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Weighted(_Distribution):
    """User-given radii and weights (a histogram, a measured size spectrum, samples).

    Attributes:
        radii: radii in nm, shape (K,). weights: non-negative, shape (K,); normalised here.
    The quadrature settings are ignored: the given radii are the nodes.
    """

    _rules = (("radii", _positive, "finite and > 0 nm"),
              ("weights", lambda v, xp: xp.isfinite(v) & (v >= 0) & (xp.sum(v) > 0),
               "finite, >= 0 and not all zero"))

    radii: Any
    weights: Any

    def _w(self):
        w = jnp.asarray(self.weights)
        return w / jnp.sum(w)

    def moment(self, p):
        return jnp.sum(self._w() * jnp.asarray(self.radii) ** p)

    given_nodes = True

    def nodes(self, quadrature=DEFAULT_NODES):
        return jnp.asarray(self.radii), self._w()

    def radius_range(self, quadrature=DEFAULT_NODES):
        radii = jnp.asarray(self.radii)
        return jnp.min(radii), jnp.max(radii)


Distribution = LogNormal | Normal | Uniform | Gamma | ModifiedGamma | Weighted


# ------------------------------------------------------------------------------------------
# Adaptive rule
# ------------------------------------------------------------------------------------------

#: Radii evaluated at most while searching for an adaptive rule (the search warns and
#: returns its best rule beyond this).
MAX_ADAPTIVE_NODES = 1 << 19


def concrete_distribution(dist: Any, what: str, *others: Any) -> Any:
    """The distribution with its parameters as concrete arrays (primal values under eager
    jax.grad); ValueError naming `what` when they, or any of `others` (wavelengths, host
    index), are traced."""
    leaves, treedef = jax.tree_util.tree_flatten(dist)
    values = [concrete_value(leaf) for leaf in leaves]
    if any(v is None for v in values + [concrete_value(o) for o in others]):
        raise ValueError(
            f"{what} with the default adaptive Quadrature() needs concrete distribution "
            "parameters and wavelengths, but they are traced (inside jit or vmap). Find the "
            "rule outside the transformation and pass it: quadrature="
            "jaxmie.ensemble.converged_quadrature(...) (or Quadrature(nodes=...) for a "
            "fixed rule without error control)")
    return jax.tree_util.tree_unflatten(treedef, [jnp.asarray(v) for v in values])


def adaptive_breaks(dist: Any, integrand, scale, *, rtol: float, quadrature: Quadrature,
                    start_panels: int, max_nodes: int = MAX_ADAPTIVE_NODES
                    ) -> tuple[Quadrature, np.ndarray]:
    """Panels that converge the averages of `integrand` over `dist` to rtol.

    Each panel of the range (in the distribution's variable, ln r or r) is integrated with
    an `order`-point Gauss-Legendre rule and with the same rule on each of its halves; the
    difference estimates the coarse rule's error there. While the estimates summed over
    the panels exceed rtol of any average, the panels with the largest estimates are
    bisected (their halves are already evaluated). The rule returned is the fine one (every
    final panel split in two), so the error estimate is that of the coarser rule: an upper
    bound in practice (the fine rule converges far faster than the coarse).

    Args:
        dist: a distribution with concrete parameters (see concrete_distribution).
        integrand: maps radii (K,) in nm (NumPy) to the per-particle values (K, C).
        scale: maps the C averages to C positive scales: the error of average c is
            measured against scale[c] (e.g. |<C_ext>| for <C_ext> and <C_abs>).
        rtol: target relative error.
        quadrature: order and tail of the rule (its nodes and breaks are ignored).
        start_panels: panels of equal width to start from.
        max_nodes: a budget on the radii evaluated.

    Returns:
        (Quadrature with the fine rule's breaks, error estimate per average (C,)).
    """
    order = quadrature.order
    lo, hi = (float(v) for v in dist._support(quadrature.tail))
    u, w = np.polynomial.legendre.leggauss(order)
    u, w = (u + 1) / 2, w / 2

    def integrate(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Integrals over the panels [a_i, b_i] of [0, 1] (unnormalised), shape (P, C + 1):
        the density itself last, so that the normalisation converges too."""
        offsets = a[:, None] + (b - a)[:, None] * u[None, :]
        t = lo + (hi - lo) * offsets.ravel()
        log_density = np.asarray(dist._log_density(jnp.asarray(t)))
        density = np.exp(log_density - shift)
        values = np.asarray(integrand(np.asarray(dist.radius(jnp.asarray(t)))))
        values = np.concatenate([values.reshape(t.size, -1), np.ones((t.size, 1))], axis=1)
        weights = ((b - a)[:, None] * w[None, :]).ravel() * (hi - lo) * density
        return (weights[:, None] * values).reshape(a.size, order, -1).sum(axis=1)

    t_probe = lo + (hi - lo) * np.linspace(0, 1, 257)
    shift = float(np.max(np.asarray(dist._log_density(jnp.asarray(t_probe)))))
    left = np.linspace(0.0, 1.0, start_panels + 1)
    a, b = left[:-1], left[1:]
    mid = (a + b) / 2
    evaluated = 3 * a.size * order
    whole = integrate(a, b)
    halves = integrate(np.concatenate([a, mid]), np.concatenate([mid, b]))
    low_half, high_half = halves[:a.size], halves[a.size:]
    while True:
        fine = low_half + high_half
        totals = fine.sum(axis=0)
        scales = np.maximum(np.concatenate([np.asarray(scale(totals[:-1]), float),
                                            [abs(totals[-1])]]), np.finfo(float).tiny)
        panel_error = np.abs(whole - fine) / scales  # (P, C + 1)
        estimate = panel_error.sum(axis=0)
        if np.max(estimate) <= rtol:
            break
        # Bisect the worst panels until the others' errors fit in a quarter of rtol.
        badness = panel_error.max(axis=1)
        order_by = np.argsort(badness)[::-1]
        rest = np.cumsum(badness[order_by][::-1])[::-1]  # sum from position i on
        count = int(np.argmax(np.append(rest, 0.0) <= rtol / 4))
        split = np.zeros(a.size, bool)
        split[order_by[:max(count, 1)]] = True
        new = 4 * int(split.sum()) * order
        if evaluated + new > max_nodes:
            import warnings

            warnings.warn(
                f"adaptive quadrature stopped at its budget of {max_nodes} radii with an "
                f"estimated relative error {np.max(estimate):.2g} > rtol = {rtol:g}; the "
                "result carries that estimate", RuntimeWarning, stacklevel=3)
            break
        evaluated += new
        sa, sb, sm = a[split], b[split], mid[split]
        quarter_lo, quarter_hi = (sa + sm) / 2, (sm + sb) / 2
        q = integrate(np.concatenate([sa, quarter_lo, sm, quarter_hi]),
                      np.concatenate([quarter_lo, sm, quarter_hi, sb]))
        n = sa.size
        keep = ~split
        a = np.concatenate([a[keep], sa, sm])
        b = np.concatenate([b[keep], sm, sb])
        whole = np.concatenate([whole[keep], low_half[split], high_half[split]])
        low_half = np.concatenate([low_half[keep], q[:n], q[2 * n:3 * n]])
        high_half = np.concatenate([high_half[keep], q[n:2 * n], q[3 * n:]])
        mid = (a + b) / 2
    edges = np.unique(np.concatenate([a, b, mid]))
    edges[0], edges[-1] = 0.0, 1.0
    rule = dataclasses.replace(quadrature, nodes=None, breaks=tuple(float(e) for e in edges))
    return rule, estimate[:-1]
