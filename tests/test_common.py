"""scikit-learn's estimator checks, with no expected failures."""

import pytest
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

from sklearn_diffgen import DiffusionSupervisedGenerator

from conftest import FAST


@parametrize_with_checks([DiffusionSupervisedGenerator(**{**FAST, "n_labels": 300, "max_iter": 5})])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.slow
def test_default_configuration_passes_check_estimator():
    # minutes on 2 cores: run with `pytest -m slow`
    check_estimator(DiffusionSupervisedGenerator())
