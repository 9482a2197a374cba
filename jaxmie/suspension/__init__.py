r"""Dense suspensions of polydisperse hard spheres: form factor, structure factors
(monodisperse Percus-Yevick, the polydisperse mixture), the decoupling approximation, and
fitting (volume fraction, polydispersity) with uncertainties.

Private modules, one concept each: `_form` (scattering vector, RGD sphere amplitude),
`_percus_yevick` (monodisperse S(q)), `_mixture` (the Ornstein-Zernike equation of the
K-component mixture of a size distribution, Percus-Yevick closure, Baxter's factorisation;
RGD and Mie amplitudes), `_rational` (the BMCSL-consistent rational-function approximation,
the default closure), `_effective` (the Barker-Henderson diameter of soft spheres, a
`hard_core`), `_decoupling` (Kotlarchyk & Chen), `_fit` (Levenberg-Marquardt and
Laplace uncertainties through jaxmie.design).
"""

from ._decoupling import Decoupling as Decoupling
from ._decoupling import decoupling as decoupling
from ._decoupling import mie_decoupling as mie_decoupling
from ._effective import barker_henderson_diameter as barker_henderson_diameter
from ._fit import FIT_COMPONENTS as FIT_COMPONENTS
from ._fit import SuspensionFit as SuspensionFit
from ._fit import fit_suspension as fit_suspension
from ._form import scattering_vector as scattering_vector
from ._form import sphere_form_amplitude as sphere_form_amplitude
from ._form import sphere_form_factor as sphere_form_factor
from ._mixture import DEFAULT_COMPONENTS as DEFAULT_COMPONENTS
from ._mixture import Mixture as Mixture
from ._mixture import baxter_matrix as baxter_matrix
from ._mixture import mie_mixture as mie_mixture
from ._mixture import mixture as mixture
from ._percus_yevick import percus_yevick as percus_yevick

__all__ = [
    "DEFAULT_COMPONENTS",
    "FIT_COMPONENTS",
    "Decoupling",
    "Mixture",
    "SuspensionFit",
    "barker_henderson_diameter",
    "baxter_matrix",
    "decoupling",
    "fit_suspension",
    "mie_decoupling",
    "mie_mixture",
    "mixture",
    "percus_yevick",
    "scattering_vector",
    "sphere_form_amplitude",
    "sphere_form_factor",
]
