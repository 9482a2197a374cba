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
- `laplace_covariance`: parameter covariance from `jax.hessian` of the loss at the optimum;
- learning through Mie: `random_dataset` / `spectra` (random particles and their spectra, in
  chunks), `mlp_init` / `mlp_apply` (a pure-JAX network), `train` (optax minibatches).

Optimise real leaves (radii, n, k separately), not complex ones: optax's complex support is
partial. Lengths are in nm throughout. One concept per module: `bijections`, `multistart`,
`levenberg_marquardt`, `objectives`, `discrete`, `uncertainty`, `datasets`, `networks`,
`training`.
"""

from .bijections import Bounded as Bounded
from .bijections import Positive as Positive
from .bijections import Unbounded as Unbounded
from .bijections import from_unconstrained as from_unconstrained
from .bijections import to_unconstrained as to_unconstrained
from .bijections import uniform_starts as uniform_starts
from .datasets import Dataset as Dataset
from .datasets import random_dataset as random_dataset
from .datasets import spectra as spectra
from .discrete import EnumerationResult as EnumerationResult
from .discrete import enumerate_materials as enumerate_materials
from .discrete import relaxed_materials as relaxed_materials
from .discrete import softmax_mixture as softmax_mixture
from .levenberg_marquardt import least_squares as least_squares
from .multistart import MultiStartResult as MultiStartResult
from .multistart import multi_start as multi_start
from .networks import mlp_apply as mlp_apply
from .networks import mlp_init as mlp_init
from .objectives import efficiency_objective as efficiency_objective
from .objectives import kerker_objective as kerker_objective
from .objectives import mean_relative_error as mean_relative_error
from .objectives import spectrum_mse as spectrum_mse
from .objectives import spectrum_objective as spectrum_objective
from .training import TrainResult as TrainResult
from .training import train as train
from .uncertainty import Laplace as Laplace
from .uncertainty import laplace_covariance as laplace_covariance

__all__ = [
    "Bounded",
    "Dataset",
    "EnumerationResult",
    "Laplace",
    "MultiStartResult",
    "Positive",
    "TrainResult",
    "Unbounded",
    "efficiency_objective",
    "enumerate_materials",
    "from_unconstrained",
    "kerker_objective",
    "laplace_covariance",
    "least_squares",
    "mean_relative_error",
    "mlp_apply",
    "mlp_init",
    "multi_start",
    "random_dataset",
    "relaxed_materials",
    "softmax_mixture",
    "spectra",
    "spectrum_mse",
    "spectrum_objective",
    "to_unconstrained",
    "train",
    "uniform_starts",
]
