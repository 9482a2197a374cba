"""Multiple scattering by clusters of spheres: coupled dipoles (lmax = 1) and multipoles.

See jaxmie.cluster._dipoles (the dipole model), _multipoles (the multipole equations and
solvers), _translation (translation coefficients), _tmatrix (per-sphere T-matrices),
_truncation (the converged lmax) and _outputs (cross sections, far and near fields).
"""

from ._average import averaged_cross_sections as averaged_cross_sections
from ._dipoles import ClusterCrossSections as ClusterCrossSections
from ._dipoles import ClusterSolution as ClusterSolution
from ._dipoles import Polarizabilities as Polarizabilities
from ._dipoles import green_tensors as green_tensors
from ._dipoles import interaction_matrix as interaction_matrix
from ._dipoles import polarizabilities as polarizabilities
from ._multipoles import MultipoleSolution as MultipoleSolution
from ._outputs import cross_sections as cross_sections
from ._outputs import far_field as far_field
from ._outputs import near_field as near_field
from ._solve import solve as solve
from ._truncation import lmax_for as lmax_for
