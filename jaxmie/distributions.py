"""Size distributions of particle radii (nm) and the quadrature of their averages."""

from ._distributions import DEFAULT_NODES as DEFAULT_NODES
from ._distributions import Distribution as Distribution
from ._distributions import Gamma as Gamma
from ._distributions import LogNormal as LogNormal
from ._distributions import ModifiedGamma as ModifiedGamma
from ._distributions import Normal as Normal
from ._distributions import Quadrature as Quadrature
from ._distributions import Uniform as Uniform
from ._distributions import Weighted as Weighted
from ._distributions import adaptive_breaks as adaptive_breaks
