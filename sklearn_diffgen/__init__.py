"""sklearn-diffgen: one-step generative models with a log-density, taught by a diffusion model."""

from . import datasets, metrics
from ._estimator import DiffusionSupervisedGenerator
from .density import InversionWarning
from .sampler import DiffusionSupervisedSampler
from .tabular import TabularGenerator

__version__ = "0.1.0"
__all__ = ["DiffusionSupervisedGenerator", "DiffusionSupervisedSampler", "TabularGenerator",
           "DiffusionOverSampler", "InversionWarning", "datasets", "metrics", "__version__"]


def __getattr__(name):
    # DiffusionOverSampler needs imbalanced-learn, an optional dependency: imported on first use
    if name == "DiffusionOverSampler":
        try:
            from .oversampling import DiffusionOverSampler
        except ImportError as exc:
            raise ImportError("DiffusionOverSampler needs imbalanced-learn: pip install "
                              "'sklearn-diffgen[imbalanced]'") from exc
        return DiffusionOverSampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
