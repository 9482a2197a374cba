r"""Fitting volume fraction and polydispersity to measured I(q), with Laplace uncertainties.

The residual is the difference of natural logarithms, ln I_model - ln I_measured (scale-free
across the decades of I(q)); the fit is `jaxmie.design.least_squares` (bounded
Levenberg-Marquardt, the parameters mapped through `jaxmie.design.Bounded`), every curve of a
batch in lock step, and the uncertainties come from `jaxmie.design.laplace_covariance` with the
negative log-likelihood of Gaussian noise in ln I whose variance is estimated from the
residual:

.. math::
    \hat s^2 = \frac{\sum_k r_k^2}{M - 2},\qquad
    L(\eta, p) = \frac{1}{2\hat s^2}\sum_k r_k(\eta, p)^2,\qquad
    \Sigma = (\nabla^2 L)^{-1}

(M points per curve; the usual assumptions of `laplace_covariance` apply: a model that fits up
to independent noise, parameters away from their bounds). Model errors that are not noise
(e.g. a closure's systematic error) make the real error larger than this std.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._distributions import Gamma, Quadrature
from ..design import Bounded, laplace_covariance, least_squares, multi_start
from ._decoupling import _decoupling
from ._mixture import _CLOSURES, _mixture

__all__ = ["FIT_COMPONENTS", "SuspensionFit", "fit_suspension"]

_MODELS = ("mixture", "decoupling")


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class SuspensionFit:
    """Result of `fit_suspension`; B is the batch shape of the intensities (() for one curve).

    Attributes:
        eta, polydispersity: fitted values, shape B.
        eta_std, polydispersity_std: Laplace standard deviations, shape B.
        covariance: covariance of (eta, polydispersity), shape (*B, 2, 2).
        loss: mean squared residual of ln I at the fit, shape B.
        losses: the loss at the start and at the end, shape (*B, 2) (with an optax
            `optimizer`, the loss every 10 steps instead, shape (*B, checks)).
        model: the fitted model intensity, shape (*B, Q).
    """

    eta: jax.Array
    polydispersity: jax.Array
    eta_std: jax.Array
    polydispersity_std: jax.Array
    covariance: jax.Array
    loss: jax.Array
    losses: jax.Array
    model: jax.Array


@dataclasses.dataclass(frozen=True)
class _Schulz:
    """The distribution of the original call form: Schulz of a given number-mean radius."""

    mean_radius: float

    def __call__(self, polydispersity):
        return Gamma.schulz(self.mean_radius, polydispersity)


#: The components of the mixture in a fit: coarser than `DEFAULT_COMPONENTS` (the cost grows
#: like K^3), within 1e-4 of it in ln I for distributions up to ~30 % wide (far below the
#: model error a fit is limited by).
FIT_COMPONENTS = Quadrature(nodes=24)


def _model(kind: str, q, dist, eta, quadrature, hard_core, closure):
    if kind == "mixture":
        return _mixture(q, dist, eta, hard_core, quadrature, closure).intensity
    return _decoupling(q, dist, eta, quadrature).intensity


@functools.cache
def _residual(kind: str, distribution: Callable, quadrature: Quadrature, hard_core: float,
              closure: str):
    """One residual function per problem (cached, so least_squares reuses its compilation)."""

    def residual(params, data):
        dist = distribution(params["polydispersity"])
        intensity = _model(kind, data["q"], dist, params["eta"], quadrature, hard_core,
                           closure)
        return jnp.log(intensity) - data["log_target"]

    return residual


@functools.partial(jax.jit, static_argnames=("residual",))
def _uncertainty(params, data, *, residual):
    """Laplace covariance (N, 2, 2) and the final residuals (N, M), vmapped over curves."""

    def one(p, d):
        r = residual(p, d)
        noise = jnp.sum(r**2) / (r.size - 2)
        nll = lambda v: 0.5 * jnp.sum(residual(v, d) ** 2) / noise
        cov = laplace_covariance(nll, p, mode="forward").covariance
        return cov, r

    return jax.vmap(one)(params, data)


def _padded(x: np.ndarray, size: int) -> np.ndarray:
    """x with its leading axis padded to `size` by repeating the last row."""
    extra = size - x.shape[0]
    return x if extra == 0 else np.concatenate([x, np.repeat(x[-1:], extra, axis=0)])


def fit_suspension(q, intensity, mean_radius: float | None = None, *,
                   distribution: Callable[[Any], Any] | None = None, model: str | None = None,
                   eta0=0.2, polydispersity0=0.1,
                   eta_range: tuple[float, float] = (1e-4, 0.6),
                   polydispersity_range: tuple[float, float] = (1e-3, 0.5),
                   quadrature: Quadrature | None = None, hard_core: float = 1.0,
                   closure: str = "percus_yevick",
                   steps: int = 30, batch_size: int = 16, optimizer: Any = None,
                   learning_rate: float | None = None) -> SuspensionFit:
    """Fit volume fraction and polydispersity of hard spheres to measured I(q) curves.

    Args:
        q: scattering vectors (1/nm, or the units of the distribution's radii), shape (Q,).
        intensity: measured I(q) / <V^2> (tending to P(q) at large q: normalise a measured
            curve by its form-factor level), shape (Q,) or (N, Q) for N curves fitted at once.
        mean_radius: the original call form: a Schulz distribution of this number-mean
            radius (nm), polydispersity = std / mean. Equivalent to
            ``distribution=lambda p: Gamma.schulz(mean_radius, p)``.
        distribution: maps the polydispersity parameter (a scalar) to a distribution, e.g.
            ``lambda s: jm.distributions.Normal(mean_radius=0.5, std=0.5 * s)``. Pass the same
            callable object to reuse the compilation (it is part of the cache key).
        model: "mixture" (`mixture`; the default with `distribution`) or "decoupling" (the
            default of the original call form with `mean_radius`, as before).
        eta0, polydispersity0: starting values, scalars or shape (N,).
        eta_range, polydispersity_range: open bounds (`jaxmie.design.Bounded`).
        quadrature: fixed rule of the size average; default `FIT_COMPONENTS` (mixture) or
            Quadrature(nodes=64) (decoupling).
        hard_core: as in `mixture` (a fixed number here).
        closure: of the mixture, "percus_yevick" (default: on the MD data of Ding et al. as
            accurate as "rfa" and ~10x cheaper) or "rfa", as in `mixture`.
        steps: Levenberg-Marquardt iterations (static; the batch runs in lock step).
        batch_size: curves per compiled call (the last batch is padded): memory grows with it.
        optimizer, learning_rate: the former first-order fit: with either given, an optax
            optimizer (default optax.adam(learning_rate)) runs `steps` steps through
            `jaxmie.design.multi_start` instead of Levenberg-Marquardt.

    Returns:
        `SuspensionFit` with the batch shape of `intensity` (less its q axis). One
        compilation per (model, distribution, quadrature, Q, batch_size); a few hundred
        curves of 100 points fit in seconds on a CPU.
    """
    if model is None:
        model = "decoupling" if mean_radius is not None else "mixture"
    if model not in _MODELS:
        raise ValueError(f"fit_suspension: model must be one of {_MODELS}; got {model!r}")
    if (mean_radius is None) == (distribution is None):
        raise ValueError("fit_suspension: give either mean_radius (Schulz) or distribution")
    if distribution is None:
        distribution = _Schulz(float(mean_radius))  # type: ignore[arg-type]
    if quadrature is None:
        quadrature = FIT_COMPONENTS if model == "mixture" else Quadrature(nodes=64)
    q = np.asarray(q, float)
    target = np.asarray(intensity, float)
    if target.shape[-1:] != q.shape or q.ndim != 1:
        raise ValueError(f"fit_suspension: intensity must end with q's axis {q.shape}; got "
                         f"{target.shape}")
    if not np.all(np.isfinite(target) & (target > 0)):
        raise ValueError("fit_suspension: intensity must be finite and > 0")
    batch = target.shape[:-1]
    target = target.reshape(-1, q.size)
    n = target.shape[0]
    bounds = {"eta": Bounded(*eta_range), "polydispersity": Bounded(*polydispersity_range)}
    start = {"eta": np.broadcast_to(np.asarray(eta0, float), batch).reshape(-1),
             "polydispersity": np.broadcast_to(np.asarray(polydispersity0, float),
                                               batch).reshape(-1)}
    if closure not in _CLOSURES:
        raise ValueError(f"fit_suspension: closure must be one of {_CLOSURES}; got {closure!r}")
    residual = _residual(model, distribution, quadrature, float(hard_core), closure)
    size = min(batch_size, n)
    pieces = []
    for lo in range(0, n, size):
        hi = min(lo + size, n)
        data = {"q": jnp.asarray(np.broadcast_to(q, (size, q.size))),
                "log_target": jnp.asarray(_padded(np.log(target[lo:hi]), size))}
        init = {k: jnp.asarray(_padded(v[lo:hi], size)) for k, v in start.items()}
        initial = jax.vmap(lambda p, d: jnp.mean(residual(p, d) ** 2))(init, data)
        if optimizer is None and learning_rate is None:
            params, loss = least_squares(residual, init, data, bounds=bounds, steps=steps)
            history = jnp.stack([initial, loss], axis=-1)
        else:
            params, history = _first_order(residual, init, data, bounds, steps, optimizer,
                                           learning_rate)
        cov, r = _uncertainty(params, data, residual=residual)
        pieces.append(jax.tree.map(lambda x, count=hi - lo: np.asarray(x)[:count],
                                   (params, cov, r, history)))
    params, cov, r, history = jax.tree.map(lambda *xs: np.concatenate(xs), *pieces)
    std = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))

    def shaped(x, tail=()):
        return jnp.asarray(x.reshape(batch + tuple(tail)))

    return SuspensionFit(
        eta=shaped(params["eta"]), polydispersity=shaped(params["polydispersity"]),
        eta_std=shaped(std[:, 0]), polydispersity_std=shaped(std[:, 1]),
        covariance=shaped(cov, (2, 2)), loss=shaped(np.mean(r**2, axis=-1)),
        losses=shaped(history, history.shape[1:]),
        model=shaped(np.exp(r) * target, (q.size,)))


def _first_order(residual, init, data, bounds, steps, optimizer, learning_rate):
    """The optax route: multi_start over the curves (each curve one 'start' with its data)."""
    import optax

    opt = optimizer if optimizer is not None else optax.adam(learning_rate)
    loss = _mean_square(residual)
    result = multi_start(loss, init, opt, steps, bounds=bounds, data=data, check_every=10)
    back = jnp.argsort(result.order)  # multi_start sorts by loss; restore the curve order
    params = jax.tree.map(lambda x: x[back], result.params)
    return params, result.history.T


@functools.cache
def _mean_square(residual):
    return lambda p, d: jnp.mean(residual(p, d) ** 2)
