"""scikit-learn's estimator checks, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_diffgen import DiffusionSupervisedGenerator

from conftest import FAST


@parametrize_with_checks([DiffusionSupervisedGenerator(**{**FAST, "n_labels": 300, "max_iter": 5})])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
