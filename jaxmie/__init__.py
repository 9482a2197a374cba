"""jaxmie: exact, differentiable Mie scattering by layered spheres in JAX.

The public API is what this file re-exports, and the namespaces `jaxmie.materials`,
`jaxmie.distributions`, `jaxmie.ensemble`, `jaxmie.suspension`, `jaxmie.cluster`,
`jaxmie.design` and `jaxmie.learning`. Mie series need float64: enable it before computing
(``jax.config.update("jax_enable_x64", True)``); jaxmie warns once if it is off.
"""

import importlib.metadata

from . import cluster as cluster
from . import design as design
from . import distributions as distributions
from . import ensemble as ensemble
from . import learning as learning
from . import materials as materials
from . import suspension as suspension
from ._coefficients import MieSeries as MieSeries
from ._coefficients import coefficients as coefficients
from ._coefficients import series as series
from ._coefficients import size_parameters as size_parameters
from ._distributions import Gamma as Gamma
from ._distributions import LogNormal as LogNormal
from ._ensemble import EnsembleOptics as EnsembleOptics
from ._ensemble import mean_optics as mean_optics
from ._fields import FieldMap as FieldMap
from ._fields import LayerCoefficients as LayerCoefficients
from ._fields import field_map as field_map
from ._fields import fields as fields
from ._fields import internal_coefficients as internal_coefficients
from ._fields import plane_positions as plane_positions
from ._fields import plot_field_map as plot_field_map
from ._layered import layered_series as layered_series
from ._observables import CrossSections as CrossSections
from ._observables import Efficiencies as Efficiencies
from ._observables import Intensities as Intensities
from ._observables import MuellerMatrix as MuellerMatrix
from ._observables import Multipoles as Multipoles
from ._observables import amplitudes as amplitudes
from ._observables import cross_sections as cross_sections
from ._observables import efficiencies as efficiencies
from ._observables import intensities as intensities
from ._observables import mueller_matrix as mueller_matrix
from ._observables import multipoles as multipoles
from ._particles import CoreShell as CoreShell
from ._particles import Multilayer as Multilayer
from ._particles import Sphere as Sphere
from ._truncation import n_max_for as n_max_for
from ._truncation import n_max_near_field as n_max_near_field
from ._truncation import n_max_wiscombe as n_max_wiscombe
from ._validation import validate as validate
from ._vsh import VectorHarmonics as VectorHarmonics
from ._vsh import vector_spherical_harmonics as vector_spherical_harmonics

__version__ = importlib.metadata.version("jaxmie")
