"""scikit-learn's estimator checks over every public estimator, with no expected failures."""

import pytest
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

from sklearn_diffgen import DiffusionSupervisedGenerator, TabularGenerator

from conftest import FAST

SMALL = {**FAST, "n_labels": 300, "max_iter": 5}


# the array-API check is skipped by scikit-learn unless SCIPY_ARRAY_API is set; it does not
# apply to TabularGenerator's DataFrames, and every other check runs on both
@parametrize_with_checks([DiffusionSupervisedGenerator(**SMALL),
                          TabularGenerator(DiffusionSupervisedGenerator(**SMALL), random_state=0)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.slow
def test_default_configuration_passes_check_estimator():
    # minutes on 2 cores: run with `pytest -m slow`
    check_estimator(DiffusionSupervisedGenerator())
