r"""How many orders the Mie series needs: converged rules for the far and near field.

Beyond n ~ x (x the outer size parameter) the scattering coefficients fall off like
psi_n(x) / chi_n(x). In the transition region, n + 1/2 = x + t (x/2)^(1/3), Debye's uniform
expansion (DLMF 10.19.8, 10.20) gives psi_n ~ Ai(t) and chi_n ~ Bi(t), so for t >~ 2

.. math::
    |a_n|, |b_n| \approx \frac{\mathrm{Ai}(t)}{\mathrm{Bi}(t)}
    \approx \tfrac12 \exp\big(-\tfrac43 t^{3/2}\big).

- Far field (`n_max_for`): S1, S2 (hence q_back, q_fwd, the Mueller matrix, and g) have terms
  ~ (2n+1)|a_n| of a sum of magnitude ~x; the first omitted term is below 1e-16 of the sum at
  t ~ 9.0, i.e. n ~ x + 7.2 x^(1/3). Measured on 300 random particles (x = 0.1..2e4;
  dielectric, weakly absorbing, metallic, core-shell), S1 and S2 at ten angles from 0 to 180
  degrees were converged to 1e-16 relative by x + 7.55 x^(1/3) + 3 orders at most; the rule
  is x + 8 x^(1/3) + 3 (a margin of 1-2 decades at large x).
  Wiscombe's rule x + 4.05 x^(1/3) + 2 (`n_max_wiscombe`) stops at t ~ 5.1, where
  |a_n| ~ 1e-7: enough for Q_ext and Q_sca, whose terms go with |a_n|^2, but it leaves
  q_back and S1/S2 near 180 degrees with 1e-9..1e-7 relative error at large x. The extra
  orders cost ~3.9 x^(1/3) + 1 (under 1 % of the work for x > 2000, ~30 % at x ~ 10; see
  bench/bench_truncation.py).
- Near field (`n_max_near_field`): at the outer surface the scattered field's terms are
  a_n xi_n(x) ~ psi_n(x) ~ Ai(t) ~ exp(-(2/3) t^(3/2)), half the exponent, so 1e-16 takes
  t ~ 14.5, n ~ x + 11.5 x^(1/3). Measured (x = 0.3..500, 40 spheres, 48 points on the
  surface): E and H converged to 1e-15 of max(1, |E_sca|) by x + 11.1 x^(1/3) + 2.4; the
  rule is x + 12 x^(1/3) + 3 (Allardice & Le Ru's x + 11 x^(1/3) + 1 is the same idea with
  a looser target). Inside the particle and farther out the series converges faster.

Both rules are rounded up to a multiple of 8 so that nearby sizes share one compilation, and
both are safe to over-provision: orders beyond a particle's own need are tiny and finite.
What no rule in x can see are resonances of higher orders (whispering-gallery modes with
x < n < Re(m) x): their width in x is of the order of |a_n| off resonance, below 1e-16 x past
these rules, so a float64 size parameter cannot land on one except by coincidence.

References:
    W. J. Wiscombe, Appl. Opt. 19, 1505 (1980).
    J. R. Allardice and E. C. Le Ru, Appl. Opt. 53, 7224 (2014).
    NIST DLMF, sections 10.19(ii) and 10.20 (https://dlmf.nist.gov/10.19).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

__all__ = ["n_max_for", "n_max_near_field", "n_max_wiscombe", "rounded", "static_n_max"]

#: n_max is rounded up to a multiple of this, so nearby sizes share one compilation.
BUCKET = 8


def rounded(orders: float) -> int:
    """ceil(orders) rounded up to a multiple of BUCKET, at least BUCKET."""
    n = math.ceil(orders)
    return max(BUCKET, -(-n // BUCKET) * BUCKET)


def _size(x_outer: float) -> float:
    x = float(x_outer)
    if not math.isfinite(x):
        raise ValueError(f"size parameter must be finite; got {x_outer!r}")
    return max(x, 0.0)


def n_max_for(x_outer: float) -> int:
    """Orders that converge every far-field observable: x + 8 x^(1/3) + 3, multiple of 8.

    Args:
        x_outer: outer size parameter 2 pi n_env r_outer / wavelength (a Python float).

    Returns:
        int >= 8. Q_ext, Q_sca, Q_abs, g, q_back, q_fwd, S1/S2 and the Mueller matrix at every
        angle are converged to float64 rounding (see the module docstring).
    """
    x = _size(x_outer)
    return rounded(x + 8.0 * x ** (1 / 3) + 3.0)


def n_max_wiscombe(x_outer: float) -> int:
    """Wiscombe's orders x + 4.05 x^(1/3) + 2, multiple of 8.

    Converges Q_ext and Q_sca to float64 rounding, not q_back or S1/S2 near 180 degrees
    (1e-9..1e-7 relative at large x): offered for comparison and for users who need only
    efficiencies and want the fewest orders.
    """
    x = _size(x_outer)
    return rounded(x + 4.05 * x ** (1 / 3) + 2.0)


def n_max_near_field(x_outer: float) -> int:
    """Orders that converge the near field outside the particle: x + 12 x^(1/3) + 3.

    Args:
        x_outer: outer size parameter (a Python float).

    Returns:
        int >= 8; E and H at the outer surface (where convergence is slowest) to ~1e-15
        relative to max(1, |E|).
    """
    x = _size(x_outer)
    return rounded(x + 12.0 * x ** (1 / 3) + 3.0)


def static_n_max(n_max: Any, x_outer: Callable[[], float | None],
                 rule: Callable[[float], int] = n_max_for, minimum: int = 1) -> int:
    """The static number of orders: n_max itself (checked), or rule(largest outer x).

    Args:
        n_max: the caller's choice: an integer >= minimum, or None for the rule.
        x_outer: returns the largest outer size parameter, or None when the sizes are
            traced (inside jit / vmap / grad) and no rule can be applied.
        rule: n_max_for (far field) or n_max_near_field.
        minimum: the smallest n_max the caller's formulas accept.
    """
    if n_max is not None:
        try:
            orders = operator.index(n_max)  # int, numpy integers; not 2.7, not True
        except TypeError:
            orders = None
        if orders is None or isinstance(n_max, bool) or orders < minimum:
            raise ValueError(f"n_max must be an integer >= {minimum} (static); got {n_max!r}")
        return orders
    x = x_outer()
    if x is None:
        raise ValueError(
            "n_max=None needs concrete sizes, but the radii or wavelengths are traced (inside "
            f"jit, vmap or grad). Pass a static n_max, e.g. n_max=jaxmie.{rule.__name__}"
            "(largest outer size parameter) computed outside the transformation.")
    return rule(x)
