"""Polydisperse ensembles: optics averaged over size distributions, and large batches of
particle-wavelength pairs streamed in bounded memory or sharded over devices.

The distributions are re-exported from `jaxmie.distributions`.
"""

from ._distributions import Distribution as Distribution
from ._distributions import Gamma as Gamma
from ._distributions import LogNormal as LogNormal
from ._distributions import ModifiedGamma as ModifiedGamma
from ._distributions import Normal as Normal
from ._distributions import Quadrature as Quadrature
from ._distributions import Uniform as Uniform
from ._distributions import Weighted as Weighted
from ._ensemble import EnsembleOptics as EnsembleOptics
from ._ensemble import converged_quadrature as converged_quadrature
from ._ensemble import ensemble_n_max as ensemble_n_max
from ._ensemble import mean_optics as mean_optics
from ._ensemble import pair_efficiencies as pair_efficiencies
from ._ensemble import sharded_pair_efficiencies as sharded_pair_efficiencies
