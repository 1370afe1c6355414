"""scikit-learn's estimator checks over every public estimator, on the defaults a user gets."""

import numpy as np
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_diffgen import DiffusionSupervisedGenerator, DiffusionSupervisedSampler, TabularGenerator

from conftest import FAST


def std_normal_log_prob(x):
    return -0.5 * (np.asarray(x) ** 2).sum(axis=1)


# The sampler learns from log_prob alone and its fit ignores X, so the checks that fit on data
# of their own (and expect it validated, or its width learnt) do not apply to it; every other
# check runs. Its fit is that of a small generator: the checks test the interface, and
# tests/test_sampler.py the defaults' results.
IGNORES_X = "fit() ignores X: the sampler learns from log_prob alone (n_features is a parameter)"
SAMPLER_NOT_APPLICABLE = dict.fromkeys([
    "check_fit_score_takes_y", "check_n_features_in_after_fitting", "check_complex_data", "check_dtype_object",
    "check_estimators_empty_data_messages", "check_pipeline_consistency", "check_estimators_nan_inf",
    "check_estimator_sparse_tag", "check_methods_sample_order_invariance", "check_methods_subset_invariance",
    "check_fit1d",
], IGNORES_X)
SAMPLER = DiffusionSupervisedSampler(std_normal_log_prob, 2, n_rounds=1, n_proposals=500,
                                     generator=DiffusionSupervisedGenerator(**{**FAST, "verbose": 0}),
                                     random_state=0)


def expected_failed_checks(estimator):
    return SAMPLER_NOT_APPLICABLE if isinstance(estimator, DiffusionSupervisedSampler) else {}


# the array-API check is skipped by scikit-learn unless SCIPY_ARRAY_API is set; it does not
# apply to TabularGenerator's DataFrames, and every other check runs on both
@parametrize_with_checks([DiffusionSupervisedGenerator(), TabularGenerator(random_state=0), SAMPLER],
                         expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
