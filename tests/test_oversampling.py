"""DiffusionOverSampler: imbalanced-learn's sampler checks, pipelines, DataFrames, and the defaults."""

import numpy as np
import pandas as pd
import pytest

imblearn = pytest.importorskip("imblearn")

from imblearn.over_sampling import SMOTE  # noqa: E402
from imblearn.pipeline import make_pipeline  # noqa: E402
from imblearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402

import sklearn_diffgen  # noqa: E402
from sklearn_diffgen import DiffusionSupervisedGenerator, TabularGenerator  # noqa: E402
from sklearn_diffgen.oversampling import DiffusionOverSampler  # noqa: E402

from conftest import FAST  # noqa: E402

#: A small row model, so that the many fits of the checks take seconds; the defaults are
#: tested on their own below.
SMALL = TabularGenerator(DiffusionSupervisedGenerator(**{**FAST, "verbose": 0}))


@parametrize_with_checks([DiffusionOverSampler(generator=SMALL, random_state=0)])
def test_imblearn_checks(estimator, check):
    check(estimator)


def test_top_level_name():
    assert sklearn_diffgen.DiffusionOverSampler is DiffusionOverSampler


@pytest.fixture
def imbalanced():
    X, y = make_classification(400, n_features=4, n_informative=3, n_redundant=0, weights=[0.9],
                               class_sep=1.5, random_state=0)
    return X, y


def test_defaults_grow_the_minority_with_rows_like_it(imbalanced):
    """The defaults a user gets: the new rows balance the classes and sit with the minority,
    as close to its mean as SMOTE's rows are."""
    X, y = imbalanced
    X_res, y_res = DiffusionOverSampler(random_state=0).fit_resample(X, y)
    counts = np.bincount(y_res)
    assert counts[0] == counts[1] == (y == 0).sum()
    np.testing.assert_array_equal(X_res[: len(X)], X)  # the real rows first, unchanged
    new = X_res[len(X):]
    minority, majority = X[y == 1].mean(axis=0), X[y == 0].mean(axis=0)
    smote = SMOTE(random_state=0).fit_resample(X, y)[0][len(X):]
    ours_gap = np.linalg.norm(new.mean(axis=0) - minority)
    assert ours_gap < 0.25 * np.linalg.norm(majority - minority)
    assert ours_gap < 2 * np.linalg.norm(smote.mean(axis=0) - minority) + 0.1
    assert np.allclose(new.std(axis=0), X[y == 1].std(axis=0), rtol=0.3)


def test_reproducible_and_in_a_pipeline(imbalanced):
    X, y = imbalanced
    a = DiffusionOverSampler(generator=SMALL, random_state=3).fit_resample(X, y)[0]
    b = DiffusionOverSampler(generator=SMALL, random_state=3).fit_resample(X, y)[0]
    np.testing.assert_array_equal(a, b)
    pipe = make_pipeline(DiffusionOverSampler(generator=SMALL, random_state=0), LogisticRegression())
    scores = cross_val_score(pipe, X, y, cv=3, scoring="balanced_accuracy")
    assert scores.shape == (3,) and np.all(scores > 0.6)


def test_dataframes_in_dataframes_out():
    rng = np.random.RandomState(0)
    n = 200
    df = pd.DataFrame({"size": rng.normal(10, 2, n), "rooms": rng.randint(1, 6, n),
                       "kind": pd.Categorical(rng.choice(["flat", "house"], n))})
    y = pd.Series(np.r_[np.zeros(180, int), np.ones(20, int)], name="label")
    X_res, y_res = DiffusionOverSampler(generator=SMALL, sampling_strategy={1: 60},
                                        random_state=0).fit_resample(df, y)
    assert isinstance(X_res, pd.DataFrame) and list(X_res.columns) == list(df.columns)
    assert X_res.dtypes.astype(str).tolist() == ["float64", "int64", "category"]
    assert isinstance(y_res, pd.Series) and y_res.name == "label"
    assert (y_res == 1).sum() == 60 and len(X_res) == 240
    assert set(X_res["kind"].cat.categories) == {"flat", "house"}


def test_too_small_a_class_is_refused(imbalanced):
    X, y = imbalanced
    y = y.copy()
    y[np.flatnonzero(y == 1)[4:]] = 0  # four minority rows left
    with pytest.raises(ValueError, match="at least 5"):
        DiffusionOverSampler(generator=SMALL).fit_resample(X, y)
