"""sklearn-diffgen: one-step generative models with a log-density, taught by a diffusion model."""

from . import datasets, metrics
from ._estimator import DiffusionSupervisedGenerator
from .density import InversionWarning
from .tabular import TabularGenerator

__version__ = "0.1.0"
__all__ = ["DiffusionSupervisedGenerator", "TabularGenerator", "InversionWarning", "datasets", "metrics",
           "__version__"]
