"""Type aliases of the public API (jaxtyping shape annotations; documentation for readers
and type checkers, not checked at run time).

Shape names: P the particle batch, W the wavelengths, T the angles, N the points. Lengths are
in nm, angles in radians.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeAlias

from jaxtyping import Array, ArrayLike, Complex, Float

#: Vacuum wavelengths in nm, any shape W.
Wavelength: TypeAlias = Float[ArrayLike, "*W"]
#: Scattering angles in radians, any shape T.
Angles: TypeAlias = Float[ArrayLike, "*T"]
#: Cartesian points in nm, (*N, 3).
Positions: TypeAlias = Float[ArrayLike, "*N 3"]
#: The real index of the host medium.
HostIndex: TypeAlias = Float[ArrayLike, ""]
#: Radii in nm, the particle batch shape P.
Radius: TypeAlias = Float[ArrayLike, "*P"]
#: A complex index n + ik per particle (shape P), or a material: a callable of the
#: wavelength in nm (see jaxmie.materials).
Index: TypeAlias = (Complex[ArrayLike, "*P"] | Float[ArrayLike, "*P"]
                    | Callable[[Array], Array])
#: Real results, batch shape (*P, *W) (and angles or points after them).
RealResult: TypeAlias = Float[Array, "..."]
#: Complex results (coefficients, amplitudes, fields).
ComplexResult: TypeAlias = Complex[Array, "..."]

FieldKind: TypeAlias = Literal["total", "scattered", "incident"]
Polarization: TypeAlias = Literal["x", "y"]
Plane: TypeAlias = Literal["xy", "xz", "yz"]
NegativeK: TypeAlias = Literal["error", "clip"]
