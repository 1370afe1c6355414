"""What a fitted model keeps: no training row by default, and the membership metric."""

import dataclasses
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_curve

from sklearn_diffgen import DiffusionSupervisedGenerator as DSG
from sklearn_diffgen import TabularGenerator
from sklearn_diffgen.metrics import membership_advantage

from conftest import FAST


def _arrays(obj, seen=None):
    """Every ndarray and tensor reachable from obj: containers, dataclasses, estimators' states."""
    seen = set() if seen is None else seen
    if id(obj) in seen or obj is None or isinstance(obj, (str, bytes, int, float, bool, type)):
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        yield obj
        if obj.dtype == object:
            for v in obj.ravel():
                yield from _arrays(v, seen)
    elif torch.is_tensor(obj):
        yield obj
    elif isinstance(obj, (pd.DataFrame, pd.Series, pd.Index)):
        yield obj.to_numpy()
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _arrays(v, seen)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for v in obj:
            yield from _arrays(v, seen)
    elif isinstance(obj, torch.nn.Module):
        yield from obj.state_dict().values()
    elif dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            yield from _arrays(getattr(obj, f.name), seen)
    elif hasattr(obj, "__dict__"):
        state = obj.__getstate__() if hasattr(obj, "__getstate__") else vars(obj)
        yield from _arrays(state if state is not None else vars(obj), seen)


def _fit(X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return DSG(random_state=0, **{**FAST, **kw}).fit(X)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((5000, 3)) * [1, 2, 3] + [10, 20, 30]


def test_pickle_size_does_not_grow_with_the_training_rows(data):
    small, large = (len(pickle.dumps(_fit(data[:n]))) for n in (500, 5000))
    assert abs(large - small) < 0.03 * small, (small, large)
    # the same check fails for a model that keeps its rows: 4,500 more rows of 3 float64
    kept = (len(pickle.dumps(_fit(data[:n], keep_training_data=True))) for n in (500, 5000))
    assert -np.subtract(*kept) > 4500 * 3 * 8


@pytest.mark.parametrize("keep", [False, True])
def test_no_fitted_array_has_a_row_per_training_row(data, keep):
    n = 537  # a count no fitted array has by chance
    est = _fit(data[:n], keep_training_data=keep)
    rows = [a.shape for state in (vars(est), est.__getstate__()) for a in _arrays(state) if a.ndim and a.shape[0] == n]
    assert (rows == []) is (not keep), rows  # keeping the rows is the one way to get them


def test_the_training_rows_cannot_be_reconstructed(data):
    X = data[:500]
    est = _fit(X)
    assert est.teacher_.data is None
    kept = _fit(X, keep_training_data=True)  # the reconstruction, where the rows are kept
    rec = kept.preprocessing_.from_model(kept.teacher_.data.cpu().numpy())
    np.testing.assert_allclose(np.sort(rec, 0), np.sort(X, 0))
    # the rest of the fitted state is the same either way
    assert est.bandwidth_ == kept.bandwidth_ and est.noise_ == kept.noise_
    np.testing.assert_array_equal(est.sample(50, random_state=1), kept.sample(50, random_state=1))
    np.testing.assert_array_equal(est.score_samples(X[:20]), kept.score_samples(X[:20]))


def test_teacher_density_needs_the_kept_rows(data):
    est = _fit(data[:300])
    with pytest.raises(ValueError, match="keep_training_data=True"):
        est.score_samples(data[:5], method="teacher")
    back = pickle.loads(pickle.dumps(_fit(data[:300], keep_training_data=True)))
    assert np.isfinite(back.score_samples(data[:5], method="teacher")).all()


def test_tabular_model_keeps_no_row():
    rng = np.random.default_rng(0)
    n = 431
    df = pd.DataFrame({"x": rng.normal(size=n), "k": rng.integers(0, 5, n),
                       "c": rng.choice(["a", "b", "c"], n)})
    y = rng.choice(["u", "v"], n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = TabularGenerator(DSG(**FAST), random_state=0).fit(df, y)
    blob = pickle.dumps(model)
    back = pickle.loads(blob)
    for state in (vars(model), vars(back)):
        rows = [a.shape for a in _arrays(state) if a.ndim and a.shape[0] in (n, (y == "u").sum(), (y == "v").sum())]
        assert rows == []
    assert all(est.teacher_.data is None for est in back.estimators_.values())


def test_membership_advantage_is_the_best_thresholds_tpr_minus_fpr():
    rng = np.random.default_rng(1)
    members, others = rng.normal(0.3, 1, 400), rng.normal(0, 1, 700)
    fpr, tpr, _ = roc_curve(np.r_[np.ones(400), np.zeros(700)], np.r_[members, others])
    res = membership_advantage(members, others)
    assert res.advantage == pytest.approx(np.max(tpr - fpr), abs=1e-12)
    assert res.pvalue < 1e-3  # a shift of 0.3 sd on 400 rows is no chance
    # members scoring lower give the attacker nothing
    assert membership_advantage(others, members + 5).advantage == 0.0
    with pytest.raises(ValueError):
        membership_advantage([1.0, np.nan], [0.0])
