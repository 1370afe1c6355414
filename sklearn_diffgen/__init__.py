"""sklearn-diffgen: one-step generative models with a log-density, taught by a diffusion model."""

from . import datasets, metrics
from ._estimator import DiffusionSupervisedGenerator

__version__ = "0.1.0"
__all__ = ["DiffusionSupervisedGenerator", "datasets", "metrics", "__version__"]
