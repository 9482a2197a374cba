"""Losses of one particle: spectrum matching, efficiencies, forward scattering (Kerker)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from .. import _observables as observables

__all__ = ["efficiency_objective", "kerker_objective", "mean_relative_error",
           "spectrum_mse", "spectrum_objective"]


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
