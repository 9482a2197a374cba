"""jaxmie: exact, differentiable Mie scattering by layered spheres in JAX.

Importing jaxmie enables float64 in JAX (`jax_enable_x64`): Mie series need it. Inputs in
float32 still give float32 results.
"""

import jax as _jax

_jax.config.update("jax_enable_x64", True)

from . import cluster as cluster  # noqa: E402
from . import design as design  # noqa: E402
from . import distributions as distributions  # noqa: E402
from . import ensemble as ensemble  # noqa: E402
from . import materials as materials  # noqa: E402
from . import suspension as suspension  # noqa: E402
from .coefficients import MieSeries as MieSeries  # noqa: E402
from .coefficients import coefficients as coefficients  # noqa: E402
from .coefficients import layered_series as layered_series  # noqa: E402
from .coefficients import series as series  # noqa: E402
from .coefficients import size_parameters as size_parameters  # noqa: E402
from .distributions import Gamma as Gamma  # noqa: E402
from .distributions import LogNormal as LogNormal  # noqa: E402
from .ensemble import EnsembleOptics as EnsembleOptics  # noqa: E402
from .ensemble import mean_optics as mean_optics  # noqa: E402
from .fields import FieldMap as FieldMap  # noqa: E402
from .fields import LayerCoefficients as LayerCoefficients  # noqa: E402
from .fields import field_map as field_map  # noqa: E402
from .fields import fields as fields  # noqa: E402
from .fields import internal_coefficients as internal_coefficients  # noqa: E402
from .fields import plane_positions as plane_positions  # noqa: E402
from .fields import plot_field_map as plot_field_map  # noqa: E402
from .observables import CrossSections as CrossSections  # noqa: E402
from .observables import Efficiencies as Efficiencies  # noqa: E402
from .observables import Intensities as Intensities  # noqa: E402
from .observables import MuellerMatrix as MuellerMatrix  # noqa: E402
from .observables import Multipoles as Multipoles  # noqa: E402
from .observables import amplitudes as amplitudes  # noqa: E402
from .observables import cross_sections as cross_sections  # noqa: E402
from .observables import efficiencies as efficiencies  # noqa: E402
from .observables import intensities as intensities  # noqa: E402
from .observables import mueller_matrix as mueller_matrix  # noqa: E402
from .observables import multipoles as multipoles  # noqa: E402
from .particles import CoreShell as CoreShell  # noqa: E402
from .particles import Multilayer as Multilayer  # noqa: E402
from .particles import Sphere as Sphere  # noqa: E402
from .truncation import n_max_for as n_max_for  # noqa: E402
from .truncation import n_max_near_field as n_max_near_field  # noqa: E402
from .truncation import n_max_wiscombe as n_max_wiscombe  # noqa: E402
from .validation import validate as validate  # noqa: E402
from .vsh import VectorHarmonics as VectorHarmonics  # noqa: E402
from .vsh import vector_spherical_harmonics as vector_spherical_harmonics  # noqa: E402

__version__ = "0.1.0"
