"""Materials: wavelength (nm) -> complex refractive index n + ik, as JAX pytrees.

A material is a frozen dataclass registered as a pytree and callable on wavelengths in nm of
any shape, returning n + ik (k >= 0 absorbs) of the same shape (complex128 for float64 input,
complex64 for float32). It can be used wherever jaxmie accepts an index
(`jaxmie.CoreShell(n_core=jaxmie.materials.get("Au"), ...)`), and it is jittable, vmappable
and differentiable with respect to the wavelength and to its own parameters.

- Bundled data: `get("Au")`, `get("Au/McPeak")`, `list_materials()`, `list_datasets(name)`,
  `info(name)`, `citation(name)`.
- Files: `load_yaml` (any refractiveindex.info file, formulas 1-9 and tables), `load_csv`.
- Models: `Constant`, `Drude`, `DrudeLorentz`, `Sellmeier`, `Cauchy`; tables: `tabulated`.
- Mixtures: `MaxwellGarnett`, `Bruggeman` (and the functions `maxwell_garnett`,
  `bruggeman` on permittivities); `stack` for several materials on one grid.

Out-of-range wavelengths: concrete values raise ValueError naming the material and its range.
Under `jit`/`vmap` (traced values) the wavelength is clamped to the range and
`material.in_range(wavelength)` flags it; `validate(material, wavelength)` (or
`jaxmie.validate(particle, wavelength)`) runs the check under jit via checkify.
"""

from ._base import Composite as Composite
from ._base import Material as Material
from ._base import validate as validate
from ._database import DATABASE_CITATION as DATABASE_CITATION
from ._database import MaterialInfo as MaterialInfo
from ._database import citation as citation
from ._database import get as get
from ._database import info as info
from ._database import list_datasets as list_datasets
from ._database import list_materials as list_materials
from ._formulas import Formula as Formula
from ._interpolation import pchip as pchip
from ._mixing import Bruggeman as Bruggeman
from ._mixing import MaxwellGarnett as MaxwellGarnett
from ._mixing import StackedTable as StackedTable
from ._mixing import bruggeman as bruggeman
from ._mixing import maxwell_garnett as maxwell_garnett
from ._mixing import stack as stack
from ._models import Cauchy as Cauchy
from ._models import Constant as Constant
from ._models import Drude as Drude
from ._models import DrudeLorentz as DrudeLorentz
from ._models import Sellmeier as Sellmeier
from ._models import drude_lorentz_rakic as drude_lorentz_rakic
from ._refractiveindex import MaterialFileError as MaterialFileError
from ._refractiveindex import load_csv as load_csv
from ._refractiveindex import load_yaml as load_yaml
from ._refractiveindex import parse_csv as parse_csv
from ._refractiveindex import parse_document as parse_document
from ._refractiveindex import parse_yaml as parse_yaml
from ._tabulated import Tabulated as Tabulated
from ._tabulated import tabulated as tabulated

__all__ = [
    "DATABASE_CITATION",
    "Bruggeman",
    "Cauchy",
    "Composite",
    "Constant",
    "Drude",
    "DrudeLorentz",
    "Formula",
    "Material",
    "MaterialFileError",
    "MaterialInfo",
    "MaxwellGarnett",
    "Sellmeier",
    "StackedTable",
    "Tabulated",
    "bruggeman",
    "citation",
    "drude_lorentz_rakic",
    "get",
    "info",
    "list_datasets",
    "list_materials",
    "load_csv",
    "load_yaml",
    "maxwell_garnett",
    "parse_csv",
    "parse_document",
    "parse_yaml",
    "pchip",
    "stack",
    "tabulated",
    "validate",
]
