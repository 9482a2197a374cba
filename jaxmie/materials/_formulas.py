"""The nine dispersion formulas of the refractiveindex.info database, as materials.

Each formula gives a real refractive index n(lambda) from coefficients C1, C2, ... with the
wavelength lambda in micrometres (the database's unit); `Formula` converts from nanometres.
Missing trailing coefficients count as zero, as in the database's own scripts (e.g. formula
7 with five coefficients has C6 = 0; an unpaired last coefficient in formulas 1-6 is paired
with a zero).

1. Sellmeier:      n^2 - 1 = C1 + sum_i C(2i) l^2 / (l^2 - C(2i+1)^2)
2. Sellmeier-2:    n^2 - 1 = C1 + sum_i C(2i) l^2 / (l^2 - C(2i+1))
3. Polynomial:     n^2     = C1 + sum_i C(2i) l^C(2i+1)
4. RefractiveIndex.INFO:
                   n^2 = C1 + C2 l^C3 / (l^2 - C4^C5) + C6 l^C7 / (l^2 - C8^C9)
                            + sum_{i>=5} C(2i) l^C(2i+1)
5. Cauchy:         n = C1 + sum_i C(2i) l^C(2i+1)
6. Gases:          n - 1 = C1 + sum_i C(2i) / (C(2i+1) - l^-2)
7. Herzberger:     n = C1 + C2/(l^2 - 0.028) + C3 (1/(l^2 - 0.028))^2
                         + C4 l^2 + C5 l^4 + C6 l^6
8. Retro:          (n^2 - 1)/(n^2 + 2) = C1 + C2 l^2/(l^2 - C3) + C4 l^2
9. Exotic:         n^2 = C1 + C2/(l^2 - C3) + C4 (l - C5)/((l - C5)^2 + C6)

References:
    M. N. Polyanskiy, "Refractiveindex.info database of optical constants",
    Sci. Data 11, 94 (2024); the database's doc/Dispersion formulas.pdf.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from ._base import Material, static_field

__all__ = ["FORMULA_NAMES", "MAX_COEFFICIENTS", "Formula", "formula_index"]

FORMULA_NAMES = {
    1: "Sellmeier",
    2: "Sellmeier-2",
    3: "Polynomial",
    4: "RefractiveIndex.INFO",
    5: "Cauchy",
    6: "Gases",
    7: "Herzberger",
    8: "Retro",
    9: "Exotic",
}

# Formulas with a fixed number of terms; the others take any number of pairs.
MAX_COEFFICIENTS = {7: 6, 8: 4, 9: 6}


def _pad(c: jax.Array, length: int) -> jax.Array:
    """Append zeros up to `length` (static)."""
    missing = length - c.shape[0]
    return jnp.concatenate([c, jnp.zeros((missing,), c.dtype)]) if missing > 0 else c


def _pairs(c: jax.Array, start: int) -> tuple[jax.Array, jax.Array]:
    """(C(2i), C(2i+1)) pairs from 0-based position `start`, zero-padded to whole pairs."""
    tail = c[start:]
    tail = _pad(tail, tail.shape[0] + tail.shape[0] % 2)
    return tail[0::2], tail[1::2]


def _power(base: jax.Array, exponent: jax.Array) -> jax.Array:
    """base**exponent with 0**e = 0 for e != 0 and 0**0 = 1, NaN-free gradients at base 0."""
    zero = base == 0
    safe = jnp.where(zero, jnp.ones_like(base), base)
    value = jnp.power(safe, exponent)
    return jnp.where(zero, jnp.where(exponent == 0, jnp.ones_like(value), jnp.zeros_like(value)),
                     value)


def _sum_terms(lam: jax.Array, a: jax.Array, b: jax.Array,
               term: Callable[[jax.Array, jax.Array, jax.Array], jax.Array]) -> jax.Array:
    """sum_i term(lam, a_i, b_i) over coefficient pairs; lam any shape, a, b (P,)."""
    if a.shape[0] == 0:
        return jnp.zeros_like(lam)
    shape = (1,) * lam.ndim + a.shape
    return jnp.sum(term(lam[..., None], a.reshape(shape), b.reshape(shape)), axis=-1)


def _n_sellmeier(lam, c):
    a, b = _pairs(c, 1)
    l2 = lam * lam
    return jnp.sqrt(1.0 + c[0] + _sum_terms(l2, a, b, lambda x, p, q: p * x / (x - q * q)))


def _n_sellmeier2(lam, c):
    a, b = _pairs(c, 1)
    l2 = lam * lam
    return jnp.sqrt(1.0 + c[0] + _sum_terms(l2, a, b, lambda x, p, q: p * x / (x - q)))


def _n_polynomial(lam, c):
    a, b = _pairs(c, 1)
    return jnp.sqrt(c[0] + _sum_terms(lam, a, b, lambda x, p, q: p * jnp.power(x, q)))


def _n_rii(lam, c):
    c = _pad(c, 9)
    l2 = lam * lam
    n2 = (c[0]
          + c[1] * jnp.power(lam, c[2]) / (l2 - _power(c[3], c[4]))
          + c[5] * jnp.power(lam, c[6]) / (l2 - _power(c[7], c[8])))
    a, b = _pairs(c, 9)
    return jnp.sqrt(n2 + _sum_terms(lam, a, b, lambda x, p, q: p * jnp.power(x, q)))


def _n_cauchy(lam, c):
    a, b = _pairs(c, 1)
    return c[0] + _sum_terms(lam, a, b, lambda x, p, q: p * jnp.power(x, q))


def _n_gases(lam, c):
    a, b = _pairs(c, 1)
    inv2 = 1.0 / (lam * lam)
    return 1.0 + c[0] + _sum_terms(inv2, a, b, lambda x, p, q: p / (q - x))


def _n_herzberger(lam, c):
    c = _pad(c, 6)
    l2 = lam * lam
    g = 1.0 / (l2 - 0.028)
    return c[0] + c[1] * g + c[2] * g * g + c[3] * l2 + c[4] * l2 * l2 + c[5] * l2 * l2 * l2


def _n_retro(lam, c):
    c = _pad(c, 4)
    l2 = lam * lam
    r = c[0] + c[1] * l2 / (l2 - c[2]) + c[3] * l2
    return jnp.sqrt((1.0 + 2.0 * r) / (1.0 - r))


def _n_exotic(lam, c):
    c = _pad(c, 6)
    l2 = lam * lam
    s = lam - c[4]
    return jnp.sqrt(c[0] + c[1] / (l2 - c[2]) + c[3] * s / (s * s + c[5]))


_FORMULAS = {
    1: _n_sellmeier,
    2: _n_sellmeier2,
    3: _n_polynomial,
    4: _n_rii,
    5: _n_cauchy,
    6: _n_gases,
    7: _n_herzberger,
    8: _n_retro,
    9: _n_exotic,
}


def formula_index(formula: int, wavelength_um: jax.Array, coefficients: jax.Array) -> jax.Array:
    """Real index n of a refractiveindex.info formula.

    Args:
        formula: formula number 1-9 (static).
        wavelength_um: wavelength in micrometres, any shape.
        coefficients: C1, C2, ... shape (C,), C >= 1, same dtype as the wavelength.

    Returns:
        n, shape wavelength_um.shape (NaN where the formula gives n^2 < 0, which does not
        happen inside a dataset's valid range).
    """
    try:
        fn = _FORMULAS[formula]
    except KeyError:
        raise ValueError(
            f"unknown refractiveindex.info formula {formula!r}; expected 1-9") from None
    if coefficients.shape[0] < 1:
        raise ValueError(f"formula {formula} needs at least one coefficient")
    return fn(wavelength_um, coefficients)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, eq=False)
class Formula(Material):
    """A refractiveindex.info dispersion formula (k = 0), evaluated in nanometres.

    Attributes:
        coefficients: C1, C2, ... shape (C,) (a differentiable leaf); lambda in um, as in the
            database.
        formula: formula number 1-9 (static).
        wavelength_range: valid range (lo, hi) in nm (static).
        name: label used in messages.
        reference: citation text.
    """

    coefficients: Any
    formula: int = static_field()
    wavelength_range: tuple[float, float] = static_field()
    name: str = static_field("formula")
    reference: str = static_field("")

    def _evaluate(self, wavelength: jax.Array) -> jax.Array:
        c = jnp.asarray(self.coefficients).astype(wavelength.dtype)
        n = formula_index(self.formula, wavelength / 1000.0, c)
        return jax.lax.complex(n, jnp.zeros_like(n))
