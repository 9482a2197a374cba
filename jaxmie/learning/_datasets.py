"""Datasets of random particles and their spectra, for training networks through Mie.

`random_dataset` draws parameters uniformly inside `Bounded` boxes (one key: reproducible)
and evaluates their spectra with `spectra`, which streams the batch through one compiled,
vmapped function in fixed-size chunks (bounded memory, silenceable progress). Chunking
changes neither the parameters nor the spectra.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from .. import _observables as observables
from .._coefficients import size_parameters, static_n_max
from ..design._bijections import uniform_starts
from ..design._multistart import _n_starts

__all__ = ["Dataset", "random_dataset", "spectra"]

_FIELDS = tuple(f.name for f in dataclasses.fields(observables.Efficiencies))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Dataset:
    """Random particles and their spectra.

    Attributes:
        params: pytree like `bounds`, every leaf with leading axis n (constrained values).
        spectra: dict field -> real array of shape (n, *W), e.g. {'q_sca': (n, W)}.
    """

    params: Any
    spectra: dict


@functools.partial(jax.jit, static_argnames=("particle", "fields", "n_max"))
def _evaluate(params, wavelength, n_env, *, particle, fields, n_max):
    """Spectra of one chunk (leaves with leading axis chunk): dict field -> (chunk, *W).
    At module level so that repeated calls with the same particle function reuse it."""

    def one(p):
        q = observables.efficiencies(particle(p), wavelength, n_env, n_max)
        return {f: getattr(q, f) for f in fields}

    return jax.vmap(one)(params)


def spectra(particle: Callable[[Any], Any], params, wavelength, fields: Sequence[str] = (
        "q_sca",), *, n_env=1.0, n_max: int | None = None, chunk: int = 4096,
        verbose: bool = False) -> dict:
    """Efficiency spectra of a batch of parameter sets, computed in chunks.

    Args:
        particle: `particle(p) -> Sphere | CoreShell | Multilayer` for one parameter set.
        params: pytree of real arrays, every leaf with leading axis n.
        wavelength: nm, shape W.
        fields: `Efficiencies` fields ('q_ext', 'q_sca', 'q_abs', 'q_back', 'q_fwd', 'g',
            'q_pr'); the coefficients are computed once for all of them.
        n_env: real host index.
        n_max: static number of orders; None: jaxmie.n_max_for on the largest outer size
            parameter of the whole batch (one n_max for every chunk).
        chunk: particles per compiled call; the last chunk is padded (one compilation,
            reused by later calls with the same particle function, fields and shapes).
        verbose: print one progress line per chunk.

    Returns:
        dict field -> array of shape (n, *W), dtype of the computation (float64 by default).
    """
    bad = [f for f in fields if f not in _FIELDS]
    if bad or not fields:
        raise ValueError(f"spectra: fields must be among {list(_FIELDS)}; got {list(fields)}")
    if chunk < 1:
        raise ValueError(f"spectra: chunk must be >= 1; got {chunk}")
    n = _n_starts(params, "spectra: every leaf of params")
    wavelength = jnp.asarray(wavelength)
    if n_max is None:
        x, _ = size_parameters(jax.vmap(particle)(params), wavelength, n_env)
        n_max = static_n_max(x, None)

    pad = -n % chunk  # repeat the last row so that every call has the same shape
    padded = jax.tree.map(lambda v: jnp.concatenate([v, jnp.repeat(v[-1:], pad, 0)]), params)
    out, start = [], time.perf_counter()
    for lo in range(0, n, chunk):
        out.append(_evaluate(jax.tree.map(lambda v, lo=lo: v[lo:lo + chunk], padded),
                             wavelength, n_env, particle=particle, fields=tuple(fields),
                             n_max=n_max))
        if verbose:
            jax.block_until_ready(out[-1])
            print(f"spectra: {min(lo + chunk, n)}/{n} particles  "
                  f"({time.perf_counter() - start:.1f} s)", flush=True)
    return {f: jnp.concatenate([o[f] for o in out])[:n] for f in fields}


def random_dataset(key: jax.Array, n: int, bounds, particle: Callable[[Any], Any], wavelength,
                   fields: Sequence[str] = ("q_sca",), *, n_env=1.0, n_max: int | None = None,
                   chunk: int = 4096, verbose: bool = False) -> Dataset:
    """n random particles, uniform inside `bounds`, with their spectra.

    Args:
        key: `jax.random` key; the same key gives the same dataset (whatever `chunk`).
        n: number of particles.
        bounds: pytree of `Bounded` boxes (see `uniform_starts`).
        particle: `particle(p) -> Sphere | CoreShell | Multilayer` for one parameter set.
        wavelength, fields, n_env, n_max, chunk, verbose: as in `spectra`.

    Returns:
        `Dataset` with params (leaves (n, ...)) and spectra (field -> (n, *W)).
    """
    params = uniform_starts(key, bounds, n)
    return Dataset(params=params, spectra=spectra(particle, params, wavelength, fields,
                                                  n_env=n_env, n_max=n_max, chunk=chunk,
                                                  verbose=verbose))
