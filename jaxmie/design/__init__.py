"""Inverse design with optax: bounded parameters, multi-start, objectives, discrete materials.

Everything here composes with optax rather than wrapping it: you bring any
`optax.GradientTransformation` (Adam, schedules, `optax.chain`, `optax.lbfgs`, ...) and a loss
that is a pure function of a pytree of real parameters; jaxmie supplies

- bijections between a box and unconstrained space (`Bounded`, `Positive`, `Unbounded`),
  applied leaf-wise to pytrees (`to_unconstrained`, `from_unconstrained`, `uniform_starts`);
- `multi_start`: N starts (leading axis of every leaf) optimised in one jitted, vmapped step,
  with early stopping and silenceable progress, results sorted by loss; with `key=` the loss
  also receives the step and a fresh key (annealing, Gumbel noise);
- `least_squares`: bounded Levenberg-Marquardt from N starts in lock step, for fits whose
  loss is a sum of squares (spectra), where it converges far faster than first-order steps;
- objectives: `spectrum_mse`, `mean_relative_error`, `spectrum_objective`,
  `efficiency_objective`, `kerker_objective`;
- discrete materials: `enumerate_materials` (exact, every combination of a `StackedTable`'s
  rows, geometry optimised for each), `softmax_mixture` and `relaxed_materials` (continuous
  relaxation, optional Gumbel noise, for tables too long to enumerate);
- `laplace_covariance`: parameter covariance from `jax.hessian` of the loss at the optimum.

Learning through Mie (datasets of spectra, a small MLP, a minibatch loop) lives in
`jaxmie.learning`.

Optimise real leaves (radii, n, k separately), not complex ones: optax's complex support is
partial. Lengths are in nm throughout. One concept per module: `bijections`, `multistart`,
`levenberg_marquardt`, `objectives`, `discrete`, `uncertainty`. optax is an optional
dependency (``pip install 'jaxmie[design]'``), imported when `multi_start` runs.
"""

from ._bijections import Bounded as Bounded
from ._bijections import Positive as Positive
from ._bijections import Unbounded as Unbounded
from ._bijections import from_unconstrained as from_unconstrained
from ._bijections import to_unconstrained as to_unconstrained
from ._bijections import uniform_starts as uniform_starts
from ._discrete import EnumerationResult as EnumerationResult
from ._discrete import enumerate_materials as enumerate_materials
from ._discrete import relaxed_materials as relaxed_materials
from ._discrete import softmax_mixture as softmax_mixture
from ._levenberg_marquardt import least_squares as least_squares
from ._multistart import MultiStartResult as MultiStartResult
from ._multistart import multi_start as multi_start
from ._objectives import efficiency_objective as efficiency_objective
from ._objectives import kerker_objective as kerker_objective
from ._objectives import mean_relative_error as mean_relative_error
from ._objectives import spectrum_mse as spectrum_mse
from ._objectives import spectrum_objective as spectrum_objective
from ._uncertainty import Laplace as Laplace
from ._uncertainty import laplace_covariance as laplace_covariance

__all__ = [
    "Bounded",
    "EnumerationResult",
    "Laplace",
    "MultiStartResult",
    "Positive",
    "Unbounded",
    "efficiency_objective",
    "enumerate_materials",
    "from_unconstrained",
    "kerker_objective",
    "laplace_covariance",
    "least_squares",
    "mean_relative_error",
    "multi_start",
    "relaxed_materials",
    "softmax_mixture",
    "spectrum_mse",
    "spectrum_objective",
    "to_unconstrained",
    "uniform_starts",
]
