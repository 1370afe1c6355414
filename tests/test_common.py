"""scikit-learn's estimator checks over every public estimator, on the defaults a user gets."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_diffgen import DiffusionSupervisedGenerator, TabularGenerator


# the array-API check is skipped by scikit-learn unless SCIPY_ARRAY_API is set; it does not
# apply to TabularGenerator's DataFrames, and every other check runs on both
@parametrize_with_checks([DiffusionSupervisedGenerator(), TabularGenerator(random_state=0)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
