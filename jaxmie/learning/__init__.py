"""Learning through Mie: datasets of random particles and their spectra, a small pure-JAX
network and an optax minibatch loop (optional dependency: ``pip install 'jaxmie[learning]'``).

- `random_dataset` / `spectra`: random particles within bounds and their spectra, computed in
  chunks (a `Dataset`);
- `mlp_init` / `mlp_apply`: a multilayer perceptron as a plain pytree of arrays;
- `train`: minibatch training with any optax transformation, one jitted `lax.scan` per epoch
  (a `TrainResult`).

These moved here from `jaxmie.design` (``jm.design.mlp_init`` is now
``jm.learning.mlp_init``, and so on); any network library (flax, equinox) composes with
jaxmie just as well.
"""

from ._datasets import Dataset as Dataset
from ._datasets import random_dataset as random_dataset
from ._datasets import spectra as spectra
from ._networks import mlp_apply as mlp_apply
from ._networks import mlp_init as mlp_init
from ._training import TrainResult as TrainResult
from ._training import train as train

__all__ = [
    "Dataset",
    "TrainResult",
    "mlp_apply",
    "mlp_init",
    "random_dataset",
    "spectra",
    "train",
]
