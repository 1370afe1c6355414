"""benchmarks/oversampling.py: its shared resampling is the pipeline a user builds, and its headline counts."""

import doctest
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
oversampling = pytest.importorskip("oversampling", reason="benchmarks/oversampling.py needs imbalanced-learn")


def test_doctests():
    assert doctest.testmod(oversampling, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


@pytest.mark.parametrize("method", ["none", "SMOTE", "SMOTENC"])
@pytest.mark.parametrize("classifier", list(oversampling.CLASSIFIERS))
def test_resampled_rows_fit_the_pipeline_a_user_builds(method, classifier):
    from imblearn.over_sampling import SMOTE, SMOTENC
    from imblearn.pipeline import Pipeline

    rng = np.random.RandomState(0)
    n = 240
    y = pd.Series(np.where(rng.rand(n) < 0.1, "rare", "common"))
    X = pd.DataFrame({"a": rng.randn(n) + 2 * (y == "rare"), "b": rng.randn(n),
                      "c": pd.Categorical(rng.choice(["u", "v", "w"], n))})
    X_tr, X_te, y_tr = X[:180], X[180:], y[:180]
    clf = oversampling.CLASSIFIERS[classifier](0)
    steps = {"none": [("encode", oversampling.encoder()), ("classifier", clf)],
             "SMOTE": [("encode", oversampling.encoder()), ("sampler", SMOTE(random_state=0)), ("classifier", clf)],
             "SMOTENC": [("sampler", SMOTENC(categorical_features="auto", random_state=0)),
                         ("encode", oversampling.encoder()), ("classifier", clf)]}[method]
    expected = Pipeline(steps).fit(X_tr, y_tr).predict(X_te)
    encoding, A, b = oversampling.resample(method, 0, X_tr, y_tr)
    assert len(b) == (len(y_tr) if method == "none" else 2 * (y_tr == "common").sum())
    got = oversampling.CLASSIFIERS[classifier](0).fit(A, b).predict(encoding.transform(X_te))
    np.testing.assert_array_equal(got, expected)


def test_unknown_classifier_is_refused(capsys):
    with pytest.raises(SystemExit):
        oversampling.main(["--classifiers", "svm", "--out", "/nonexistent"])
    assert "unknown classifiers ['svm']" in capsys.readouterr().err
