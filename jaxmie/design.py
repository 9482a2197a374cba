"""Inverse design with optax: bounded parameters, multi-start, objectives, discrete materials.

Everything here composes with optax rather than wrapping it: you bring any
`optax.GradientTransformation` (Adam, schedules, `optax.chain`, `optax.lbfgs`, ...) and a loss
that is a pure function of a pytree of real parameters; jaxmie supplies

- bijections between a box and unconstrained space (`Bounded`, `Positive`, `Unbounded`),
  applied leaf-wise to pytrees (`to_unconstrained`, `from_unconstrained`, `uniform_starts`);
- `multi_start`: N starts (leading axis of every leaf) optimised in one jitted, vmapped step,
  with early stopping and silenceable progress, results sorted by loss;
- objectives: `spectrum_mse`, `mean_relative_error`, `spectrum_objective`,
  `efficiency_objective`, `kerker_objective`;
- discrete materials: `enumerate_materials` (exact, every combination of a `StackedTable`'s
  rows, geometry optimised for each) and `softmax_mixture` (continuous relaxation, optional
  Gumbel noise);
- `laplace_covariance`: parameter covariance from `jax.hessian` of the loss at the optimum.

Optimise real leaves (radii, n, k separately), not complex ones: optax's complex support is
partial. Lengths are in nm throughout.

References:
    J. Soun et al., Opt. Express 33, 25945 (2025) (discrete material choice).
    E. Jang, S. Gu and B. Poole, ICLR (2017) (Gumbel-softmax).
    D. J. C. MacKay, Information Theory, Inference, and Learning Algorithms (CUP, 2003),
    ch. 27 (Laplace's method).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from . import observables
from .materials.mixing import StackedTable

__all__ = [
    "Bounded",
    "EnumerationResult",
    "Laplace",
    "MultiStartResult",
    "Positive",
    "Unbounded",
    "efficiency_objective",
    "enumerate_materials",
    "from_unconstrained",
    "kerker_objective",
    "laplace_covariance",
    "mean_relative_error",
    "multi_start",
    "softmax_mixture",
    "spectrum_mse",
    "spectrum_objective",
    "to_unconstrained",
    "uniform_starts",
]


# --------------------------------------------------------------------------------------------
# Bounded parameters
# --------------------------------------------------------------------------------------------

class _Bijection:
    """Base class: `forward` maps unconstrained u to the constrained x, `inverse` back."""

    def forward(self, u: jax.Array) -> jax.Array:  # pragma: no cover - interface
        raise NotImplementedError

    def inverse(self, x: jax.Array) -> jax.Array:  # pragma: no cover - interface
        raise NotImplementedError


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Unbounded(_Bijection):
    """The identity: a parameter left unconstrained."""

    def forward(self, u):
        return jnp.asarray(u)

    def inverse(self, x):
        return jnp.asarray(x)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Bounded(_Bijection):
    """A real parameter in the open box (lo, hi), through a sigmoid.

    .. math::
        x = lo + (hi - lo)\\,\\sigma(u), \\qquad u = \\log t - \\log(1 - t),\\;
        t = (x - lo) / (hi - lo)

    Attributes:
        lo, hi: bounds (same units as the parameter, e.g. nm), scalars or arrays that
            broadcast against the parameter leaf; lo < hi (checked when concrete).

    The map is smooth with nonzero derivative everywhere inside the box; the bounds
    themselves are reached only as u -> +-inf.
    """

    lo: Any
    hi: Any

    def __post_init__(self):
        try:
            lo, hi = np.asarray(self.lo), np.asarray(self.hi)
        except (TypeError, jax.errors.TracerArrayConversionError):
            return
        if lo.dtype != object and hi.dtype != object and not np.all(lo < hi):
            raise ValueError(f"Bounded: need lo < hi; got lo={self.lo!r}, hi={self.hi!r}")

    def forward(self, u):
        u = jnp.asarray(u)
        return self.lo + (self.hi - self.lo) * jax.nn.sigmoid(u)

    def inverse(self, x):
        t = (jnp.asarray(x) - self.lo) / (self.hi - self.lo)
        return jnp.log(t) - jnp.log1p(-t)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Positive(_Bijection):
    """A real parameter above lo (default 0), through a softplus.

    .. math::
        x = lo + \\log(1 + e^u), \\qquad u = y + \\log(1 - e^{-y}),\\; y = x - lo

    Attributes:
        lo: lower bound (e.g. a thickness > 0 nm), scalar or array broadcasting against the
            leaf.
    """

    lo: Any = 0.0

    def forward(self, u):
        return self.lo + jax.nn.softplus(jnp.asarray(u))

    def inverse(self, x):
        y = jnp.asarray(x) - self.lo
        return y + jnp.log(-jnp.expm1(-y))


def _is_bound(x) -> bool:
    return x is None or isinstance(x, _Bijection)


def _map_bounds(method: str, tree, bounds):
    if bounds is None:
        return jax.tree.map(jnp.asarray, tree)

    def apply(b, sub):
        if b is None:
            return jax.tree.map(jnp.asarray, sub)
        return jax.tree.map(getattr(b, method), sub)

    return jax.tree.map(apply, bounds, tree, is_leaf=_is_bound)


def to_unconstrained(params, bounds):
    """Map constrained parameters to unconstrained space, leaf by leaf.

    Args:
        params: pytree of real arrays (any shapes, e.g. a leading axis of starts).
        bounds: a pytree prefix of `params` whose leaves are `Bounded`, `Positive`,
            `Unbounded` or None (left unconstrained); a single bijection applies to every
            leaf. None for no bounds at all.

    Returns:
        pytree like `params`, same shapes.
    """
    return _map_bounds("inverse", params, bounds)


def from_unconstrained(u, bounds):
    """Inverse of `to_unconstrained`: unconstrained pytree -> parameters inside the bounds."""
    return _map_bounds("forward", u, bounds)


def uniform_starts(key: jax.Array, bounds, n: int):
    """n starts drawn uniformly inside a pytree of `Bounded` boxes.

    Args:
        key: a `jax.random` key.
        bounds: pytree whose leaves are `Bounded` (lo, hi set the leaf's shape by
            broadcasting).
        n: number of starts (static).

    Returns:
        pytree like `bounds` with `Bounded` leaves replaced by arrays of shape
        (n, *broadcast(lo, hi).shape).
    """
    leaves, treedef = jax.tree.flatten(bounds, is_leaf=_is_bound)
    if not all(isinstance(b, Bounded) for b in leaves):
        raise ValueError("uniform_starts: every leaf of bounds must be Bounded(lo, hi)")
    keys = jax.random.split(key, len(leaves))
    out = []
    for k, b in zip(keys, leaves, strict=True):
        lo, hi = jnp.asarray(b.lo, float), jnp.asarray(b.hi, float)
        shape = (n, *jnp.broadcast_shapes(lo.shape, hi.shape))
        out.append(lo + (hi - lo) * jax.random.uniform(k, shape, dtype=lo.dtype))
    return jax.tree.unflatten(treedef, out)


# --------------------------------------------------------------------------------------------
# Multi-start optimisation
# --------------------------------------------------------------------------------------------

@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class MultiStartResult:
    """Every start's outcome, sorted by final loss (best first; NaN last).

    Attributes:
        params: pytree like the initial parameters, every leaf with leading axis N
            (constrained values, inside the bounds).
        loss: final losses, shape (N,).
        order: the starts' original positions, shape (N,) int: params[i] came from start
            order[i].
        history: loss of every start at each check, shape (n_checks, N), in the original
            start order.
        steps: number of optimisation steps run (early stopping may end before `steps`).
    """

    params: Any
    loss: jax.Array
    order: jax.Array
    history: jax.Array
    steps: int = dataclasses.field(metadata={"static": True}, default=0)

    @property
    def best(self):
        """The best start's parameters (pytree without the leading axis)."""
        return jax.tree.map(lambda x: x[0], self.params)


def _has_linesearch(state) -> bool:
    try:
        return (optax.tree_utils.tree_get(state, "value") is not None
                and optax.tree_utils.tree_get(state, "grad") is not None)
    except (KeyError, ValueError):
        return False


def _n_starts(tree) -> int:
    sizes = {np.shape(x)[0] if np.ndim(x) else None for x in jax.tree.leaves(tree)}
    if len(sizes) != 1 or None in sizes:
        raise ValueError("multi_start: every leaf of init_params must have the same leading "
                         f"axis (the starts); got leading sizes {sorted(map(str, sizes))}")
    return sizes.pop()


@functools.cache
def _default_optimizer():
    return optax.adam(0.05)  # one object, so its compiled steps are reused


def _loss_of_u(loss, u, d, bounds):
    p = from_unconstrained(u, bounds)
    return loss(p) if d is None else loss(p, d)


@functools.partial(jax.jit, static_argnames=("loss", "opt", "linesearch"))
def _chunk(u, state, d, count, bounds, *, loss, opt, linesearch):
    """`count` vmapped optimiser steps (traced count: one compilation), then every loss."""
    opt = optax.with_extra_args_support(opt)

    def one(u, state, d):
        fd = functools.partial(_loss_of_u, loss, d=d, bounds=bounds)
        if linesearch:
            value, grad = optax.value_and_grad_from_state(fd)(u, state=state)
        else:
            value, grad = jax.value_and_grad(fd)(u)
        updates, state = opt.update(grad, state, u, value=value, grad=grad, value_fn=fd)
        return optax.apply_updates(u, updates), state

    batched = jax.vmap(one)
    u, state = jax.lax.fori_loop(0, count, lambda _, c: batched(*c, d), (u, state))
    losses = jax.vmap(lambda v, dd: _loss_of_u(loss, v, dd, bounds))(u, d)
    return u, state, losses


def _optimize(loss, init_params, optimizer, steps, bounds, tol, check_every, verbose, data):
    """Unsorted multi-start run: (params, loss, history, steps run, n)."""
    n = _n_starts(init_params)
    u = to_unconstrained(init_params, bounds)
    state = jax.vmap(optimizer.init)(u)
    chunk = functools.partial(_chunk, loss=loss, opt=optimizer,
                              linesearch=_has_linesearch(state))
    # same loss and optimizer objects -> the compiled step is reused across calls
    u, state, previous = chunk(u, state, data, 0, bounds)
    history = [previous]
    done = 0
    while done < steps:
        count = min(check_every, steps - done)
        u, state, current = chunk(u, state, data, count, bounds)
        done += count
        history.append(current)
        change = np.abs(np.asarray(current) - np.asarray(previous))
        finite = np.isfinite(change)
        converged = tol is not None and bool(np.all(change[finite] < tol))
        if verbose:
            c = np.asarray(current)
            best = np.nanmin(c) if np.any(np.isfinite(c)) else np.nan
            print(f"multi_start: step {done}/{steps}  best loss {best:.6g}  "
                  f"median {np.nanmedian(c):.6g}  max change {np.nanmax(change, initial=0):.3g}"
                  + ("  (converged)" if converged else ""), flush=True)
        previous = current
        if converged:
            break
    return from_unconstrained(u, bounds), previous, jnp.stack(history), done, n


def multi_start(loss: Callable[..., jax.Array], init_params, optimizer=None,
                steps: int = 200, *, bounds=None, tol: float | None = None,
                check_every: int = 10, verbose: bool = False, data=None
                ) -> MultiStartResult:
    """Optimise N starts at once: one jitted, vmapped optax step for all of them.

    The loss is written for one start; the optimiser runs in unconstrained space,
    u = to_unconstrained(params, bounds), so every iterate stays inside the bounds. Steps run
    on the device in chunks of `check_every`; between chunks the host checks for early
    stopping and prints progress.

    Args:
        loss: `loss(params) -> scalar` (or `loss(params, data)` when `data` is given), for one
            start's parameters (a pytree of real arrays, constrained values).
        init_params: pytree of real arrays, every leaf with leading axis N (the starts), e.g.
            from `uniform_starts`.
        optimizer: any `optax.GradientTransformation`; default `optax.adam(0.05)` (a step of
            about 1 % of a `Bounded` range at its centre). Line-search methods
            (`optax.lbfgs`, or chains with `optax.scale_by_zoom_linesearch`) are detected from
            their state and driven with `optax.value_and_grad_from_state` and
            `update(..., value=, grad=, value_fn=)`.
        steps: maximum number of optimisation steps (each start takes the same number).
        bounds: pytree prefix of the parameters with `Bounded` / `Positive` / `Unbounded` /
            None leaves (see `to_unconstrained`); None: unconstrained.
        tol: stop early when, at a check, every start's loss changed by less than `tol`
            (absolute, in the loss's units) since the previous check; starts with non-finite
            loss are ignored. None: run all steps.
        check_every: steps between host checks (early stopping, progress).
        verbose: print one progress line per check.
        data: optional pytree with leading axis N passed to the loss start by start (e.g. a
            material choice or a target spectrum per start).

    Returns:
        `MultiStartResult`: params (leaves with leading axis N) and loss (N,) sorted by loss,
        the original order, the loss history at each check (n_checks, N), the steps run.
    """
    optimizer = _default_optimizer() if optimizer is None else optimizer
    if steps < 0 or check_every < 1:
        raise ValueError(f"multi_start: need steps >= 0 and check_every >= 1; got steps={steps}"
                         f", check_every={check_every}")
    params, final, history, done, _ = _optimize(loss, init_params, optimizer, steps, bounds,
                                                tol, check_every, verbose, data)
    order = jnp.argsort(final)
    return MultiStartResult(params=jax.tree.map(lambda x: x[order], params), loss=final[order],
                            order=order, history=history, steps=done)


# --------------------------------------------------------------------------------------------
# Objectives
# --------------------------------------------------------------------------------------------

def spectrum_mse(predicted: jax.Array, target: jax.Array, weights: jax.Array | None = None
                 ) -> jax.Array:
    """Mean squared error between spectra: mean(w (predicted - target)^2).

    Args:
        predicted, target: real arrays of the same shape (e.g. (n_wavelengths,)).
        weights: optional, broadcastable (e.g. 1/sigma^2 per wavelength).

    Returns:
        scalar.
    """
    r2 = (predicted - target) ** 2
    return jnp.mean(r2 if weights is None else weights * r2)


def mean_relative_error(predicted: jax.Array, target: jax.Array) -> jax.Array:
    """mean(|predicted - target| / |target|) (Soun et al.'s figure of merit), scalar."""
    return jnp.mean(jnp.abs(predicted - target) / jnp.abs(target))


def _observable(field: str, particle, wavelength, n_env, n_max, theta):
    if field == "s11":
        if theta is None:
            raise ValueError("field 's11' needs theta (radians)")
        return observables.mueller_matrix(particle, wavelength, theta, n_env, n_max).s11
    names = [f.name for f in dataclasses.fields(observables.Efficiencies)]
    if field not in names:
        raise ValueError(f"field must be one of {names + ['s11']}; got {field!r}")
    return getattr(observables.efficiencies(particle, wavelength, n_env, n_max), field)


def spectrum_objective(field: str, wavelength, target, *, n_env=1.0, n_max: int | None = None,
                       theta=None, weights=None) -> Callable[[Any], jax.Array]:
    """Build `particle -> spectrum_mse(observable(particle), target)`.

    Args:
        field: an `Efficiencies` field ('q_ext', 'q_sca', 'q_abs', 'q_back', 'q_fwd', 'g',
            'q_pr') or 's11' (Mueller S11 at angles `theta`, radians).
        wavelength: nm, shape W. target: shape W (or (*W, *T) for 's11').
        n_env, n_max: as in `jaxmie.efficiencies` (pass n_max to use it under jit).
        weights: optional weights for `spectrum_mse`.

    Returns:
        a function of one particle (no batch shape) returning a scalar.
    """
    def objective(particle):
        return spectrum_mse(_observable(field, particle, wavelength, n_env, n_max, theta),
                            target, weights)
    return objective


def efficiency_objective(field: str, wavelength, *, maximize: bool = True, n_env=1.0,
                         n_max: int | None = None) -> Callable[[Any], jax.Array]:
    """Build `particle -> -+mean(Q_field(wavelength))`, a loss to minimise.

    Args:
        field: an `Efficiencies` field, e.g. 'q_sca'.
        wavelength: nm, scalar or shape W (the mean is over W).
        maximize: True returns -mean(Q) (minimising it maximises Q); False returns +mean(Q).
        n_env, n_max: as in `jaxmie.efficiencies`.
    """
    sign = -1.0 if maximize else 1.0

    def objective(particle):
        return sign * jnp.mean(_observable(field, particle, wavelength, n_env, n_max, None))
    return objective


def kerker_objective(wavelength, *, mode: str = "difference", n_env=1.0,
                     n_max: int | None = None) -> Callable[[Any], jax.Array]:
    """Build a forward-scattering (Kerker) loss of one particle, mean over wavelengths.

    Args:
        wavelength: nm, scalar or shape W.
        mode: 'difference': -Q_fwd + Q_back (Soun et al.'s directional design);
            'log_ratio': -log(Q_fwd / Q_back), scale-free (Q_back may get tiny).
        n_env, n_max: as in `jaxmie.efficiencies`.
    """
    if mode not in ("difference", "log_ratio"):
        raise ValueError(f"kerker_objective: mode must be 'difference' or 'log_ratio'; "
                         f"got {mode!r}")

    def objective(particle):
        q = observables.efficiencies(particle, wavelength, n_env, n_max)
        if mode == "difference":
            return jnp.mean(q.q_back - q.q_fwd)
        return jnp.mean(jnp.log(q.q_back) - jnp.log(q.q_fwd))
    return objective


# --------------------------------------------------------------------------------------------
# Discrete materials
# --------------------------------------------------------------------------------------------

def softmax_mixture(logits: jax.Array, table: StackedTable, temperature=1.0, *,
                    key: jax.Array | None = None):
    """Continuous relaxation of a discrete material choice over a `StackedTable`.

    weights = softmax((logits + g) / temperature), with g = 0, or Gumbel noise when `key` is
    given (Gumbel-softmax); the material is `table.mix(weights)` (linear in permittivity).
    As temperature -> 0 the weights approach one-hot and the material a table row; anneal it
    with an optax schedule evaluated at your step.

    Args:
        logits: shape (n_materials,), real.
        table: from `jaxmie.materials.stack`.
        temperature: positive scalar.
        key: optional `jax.random` key for Gumbel noise.

    Returns:
        a `Tabulated` material on the table's grid.
    """
    logits = jnp.asarray(logits)
    if key is not None:
        logits = logits + jax.random.gumbel(key, logits.shape, logits.dtype)
    return table.mix(jax.nn.softmax(logits / temperature))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class EnumerationResult:
    """Best design per material combination, sorted by loss (best first).

    Attributes:
        choices: table row of each layer, shape (K, n_layers) int (inner -> outer).
        params: best geometry of each combination, leaves with leading axis K.
        loss: best loss of each combination, shape (K,).
        start_loss: every start's final loss, shape (K, N).
        names: material names per combination, K tuples (static).
    """

    choices: jax.Array
    params: Any
    loss: jax.Array
    start_loss: jax.Array
    names: tuple[tuple[str, ...], ...] = dataclasses.field(metadata={"static": True},
                                                           default=())


def enumerate_materials(loss: Callable[[Any, tuple], jax.Array], table: StackedTable,
                        init_params, optimizer=None, steps: int = 200, *, n_layers: int = 2,
                        choices: Sequence[Sequence[int]] | None = None, bounds=None,
                        tol: float | None = None, check_every: int = 10,
                        verbose: bool = False) -> EnumerationResult:
    """Exact discrete material choice: optimise the geometry for every combination.

    All K combinations x N starts run as one `multi_start` batch (K * N vmapped starts).

    Args:
        loss: `loss(params, materials) -> scalar`, where materials is a tuple of n_layers
            `Tabulated` materials (inner -> outer; table rows, exact on the table's grid).
        table: `jaxmie.materials.stack(...)`, n_materials rows.
        init_params: geometry starts, leaves with leading axis N (shared by every
            combination).
        optimizer, steps, bounds, tol, check_every, verbose: as in `multi_start` (tol applies
            to all K * N starts together).
        n_layers: layers to choose (2: core and shell); every layer ranges over all rows.
        choices: optional allowed rows per layer (length n_layers), e.g. [[si], range(M)] to
            fix the core; overrides n_layers.

    Returns:
        `EnumerationResult`, K = prod(len(choices[l])) combinations sorted by best loss.
    """
    n_materials = int(np.shape(table.index)[0])
    if choices is None:
        choices = [range(n_materials)] * n_layers
    combos = np.array(list(itertools.product(*[list(c) for c in choices])), dtype=np.int32)
    if combos.size and (combos.min() < 0 or combos.max() >= n_materials):
        raise ValueError(f"enumerate_materials: choices must be rows 0..{n_materials - 1}")
    k = combos.shape[0]
    n = _n_starts(init_params)
    tiled = jax.tree.map(lambda x: jnp.tile(jnp.asarray(x), (k,) + (1,) * (np.ndim(x) - 1)),
                         init_params)
    rows = jnp.asarray(np.repeat(combos, n, axis=0))  # (K * N, n_layers), combo-major

    def per_start(params, row):
        return loss(params, tuple(table.material(row[i]) for i in range(row.shape[0])))

    params, final, _, _, _ = _optimize(per_start, tiled, optimizer or _default_optimizer(), steps,
                                       bounds, tol, check_every, verbose, rows)
    final = final.reshape(k, n)
    best = jnp.argmin(jnp.where(jnp.isnan(final), jnp.inf, final), axis=1)
    flat_best = jnp.arange(k) * n + best
    best_loss = final[jnp.arange(k), best]
    order = np.asarray(jnp.argsort(best_loss))
    names = tuple(tuple(table.names[i] for i in combos[c]) for c in order)
    return EnumerationResult(
        choices=jnp.asarray(combos[order]),
        params=jax.tree.map(lambda x: x[flat_best[order]], params),
        loss=best_loss[order], start_loss=final[order], names=names)


# --------------------------------------------------------------------------------------------
# Uncertainty
# --------------------------------------------------------------------------------------------

@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Laplace:
    """Gaussian (Laplace) approximation of the posterior around an optimum.

    Attributes:
        covariance: shape (P, P), P = number of scalars in the parameter pytree, in the
            order of `jax.flatten_util.ravel_pytree(params)`.
        hessian: the loss's Hessian there, shape (P, P).
        std: standard deviations sqrt(diag(covariance)) as a pytree like the parameters
            (same units, e.g. nm).
    """

    covariance: jax.Array
    hessian: jax.Array
    std: Any


def laplace_covariance(loss: Callable[[Any], jax.Array], params, *,
                       mode: str = "hessian") -> Laplace:
    """Parameter covariance from the Hessian of the loss at its minimum.

    Assumptions (document them with your result): the loss is the negative log-likelihood
    up to a constant, i.e. for independent Gaussian noise of standard deviation sigma_i

    .. math::
        L(p) = \\tfrac12 \\chi^2(p) = \\tfrac12 \\sum_i \\frac{(y_i - f_i(p))^2}{\\sigma_i^2},
        \\qquad \\Sigma = \\left(\\nabla^2 L(\\hat p)\\right)^{-1}

    (a flat prior; `params` at the minimum, where the Hessian is positive definite; the
    posterior locally Gaussian). A mean-squared loss must be rescaled first: with
    L = mean(r^2) over M points and noise sigma, use 0.5 * M * L / sigma^2. Parameters are
    the constrained values (nm, not the unconstrained ones); a parameter pinned at a bound
    breaks the assumptions. For a linear model f = J p this is exactly (J^T J)^{-1} in
    units of sigma^2. A Hessian that is not positive definite gives a meaningless (possibly
    negative-diagonal, NaN std) result: check `hessian`'s eigenvalues.

    Args:
        loss: `loss(params) -> scalar`, as above.
        params: the optimum, pytree of real arrays (no starts axis).
        mode: 'hessian': `jax.hessian` (forward over reverse, best for many parameters);
            'forward': `jax.jacfwd(jax.jacfwd(.))`, the same matrix, often much faster to
            compile through the Mie recurrences when there are only a few parameters.

    Returns:
        `Laplace` with covariance and hessian of shape (P, P) and std like `params`.
    """
    if mode not in ("hessian", "forward"):
        raise ValueError(f"laplace_covariance: mode must be 'hessian' or 'forward'; got {mode!r}")
    flat, unravel = ravel_pytree(params)
    flat_loss = lambda v: loss(unravel(v))
    second = jax.hessian(flat_loss) if mode == "hessian" else jax.jacfwd(jax.jacfwd(flat_loss))
    hessian = jax.jit(second)(flat)
    hessian = 0.5 * (hessian + hessian.T)
    covariance = jnp.linalg.inv(hessian)
    covariance = 0.5 * (covariance + covariance.T)
    return Laplace(covariance=covariance, hessian=hessian,
                   std=unravel(jnp.sqrt(jnp.diag(covariance))))
