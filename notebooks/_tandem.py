"""The tandem network's particle model, shared by tandem_network.ipynb and its fast test.

As in PyMieDiff's tandem example: a core-shell particle with core radius and shell thickness
in 40-100 nm and n in 1.5-4, k in 0-0.1 for core and shell; a network's six linear outputs
are mapped into those boxes by `jm.design.Bounded` (a sigmoid scaled to each box), so every
proposed particle is valid.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

import jaxmie as jm

jax.config.update("jax_enable_x64", True)  # float64: the accuracy jaxmie is built for

D = jm.design

BOUNDS = {"r_core": D.Bounded(40.0, 100.0), "t": D.Bounded(40.0, 100.0),
          "n": D.Bounded(jnp.full(2, 1.5), 4.0), "k": D.Bounded(jnp.zeros(2), 0.1)}


def core_shell(p) -> jm.CoreShell:
    """The particle of one parameter set {r_core, t (nm), n, k (core, shell)}."""
    m = p["n"] + 1j * p["k"]
    return jm.CoreShell(r_core=p["r_core"], r_shell=p["r_core"] + p["t"], n_core=m[0],
                        n_shell=m[1])


def to_params(raw: jax.Array):
    """Network outputs (..., 6) -> parameters inside BOUNDS, leaves with shape (...)."""
    raw = raw.astype(jnp.float64)
    u = {"r_core": raw[..., 0], "t": raw[..., 1], "n": raw[..., 2:4], "k": raw[..., 4:6]}
    return D.from_unconstrained(u, BOUNDS)
