"""Parameter uncertainty: the Laplace approximation around an optimum.

References:
    D. J. C. MacKay, Information Theory, Inference, and Learning Algorithms (CUP, 2003),
    ch. 27 (Laplace's method).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

__all__ = ["Laplace", "laplace_covariance"]


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
