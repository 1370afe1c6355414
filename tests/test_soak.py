"""Soak test (slow): random valid fits and random bad inputs in a bounded loop.

Each iteration fits ``DiffusionSupervisedGenerator`` with random valid parameters on random
data (every tenth a ``TabularGenerator`` on a random mixed frame, every twentieth a small
grid search), then samples, scores, pickles and reloads it, and feeds it one random bad input.
It asserts that no NaN or infinity leaves the package, that every error is a ValueError,
TypeError or NotFittedError with a message, and that the resident memory stays flat. Run with
``python -m pytest -m slow tests/test_soak.py -s`` (``SOAK_ITERATIONS``, default 200); it
prints its figures.
"""

import gc
import os
import pickle
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV

from sklearn_diffgen import DiffusionSupervisedGenerator as DSG
from sklearn_diffgen import TabularGenerator

ITERATIONS = int(os.environ.get("SOAK_ITERATIONS", 200))
#: Growth of the resident set allowed between the end of the warm-up and the last iteration.
MAX_GROWTH_MIB = 64


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def pick(rng, options):
    return options[int(rng.integers(len(options)))]


def random_params(rng):
    return dict(
        bandwidth=pick(rng, ["auto", "scott", "silverman", float(rng.uniform(0.05, 2))]),
        whiten=pick(rng, ["auto", True, False]),
        variance_correction=pick(rng, ["auto", True, False]),
        n_labels=int(rng.integers(20, 400)),
        solver=pick(rng, ["euler", "ddim", "dpmpp_2m", "dpmpp_3m", "heun"]),
        n_steps=int(rng.integers(2, 12)),
        schedule=pick(rng, ["paper", "authors"]),
        score_batch_size=pick(rng, [None, int(rng.integers(5, 50))]),
        hidden_layer_sizes=tuple(int(h) for h in rng.integers(2, 24, size=rng.integers(0, 3))),
        activation=pick(rng, ["relu", "tanh", "logistic", "identity", "silu", "gelu"]),
        batch_size=pick(rng, ["auto", int(rng.integers(1, 64))]),
        max_iter=int(rng.integers(1, 6)),
        early_stopping=bool(rng.integers(2)),
        logdet_weight=pick(rng, [0.0, 0.1]),
        random_state=int(rng.integers(1000)),
    )


def random_data(rng):
    n, d = int(rng.integers(5, 150)), int(rng.integers(1, 5))
    X = rng.standard_normal((n, d)) * 10.0 ** rng.uniform(-6, 6, d) + rng.uniform(-1e3, 1e3, d)
    if d > 1 and rng.random() < 0.2:
        X[:, rng.integers(d)] = rng.uniform(-5, 5)  # a constant column
    return X


def random_frame(rng):
    n = int(rng.integers(20, 120))
    df = pd.DataFrame({"f": rng.standard_normal(n), "k": rng.integers(0, 4, n),
                       "c": pd.Categorical(rng.choice(["a", "b", "c"], n))})
    if rng.random() < 0.5:
        df.loc[rng.random(n) < 0.1, "f"] = np.nan
    return df, rng.choice(["u", "v"], n)


def bad_inputs(est, X):
    d = X.shape[1]
    return [
        lambda: est.fit(np.full((5, d), np.nan)),
        lambda: est.fit(np.full((5, d), np.inf)),
        lambda: est.fit(X[:1]),
        lambda: est.fit(np.empty((0, d))),
        lambda: est.fit(np.array([["a"] * d] * 4, dtype=object)),
        lambda: est.fit(np.ones((6, d))),
        lambda: DSG(n_labels=1).fit(X),
        lambda: DSG(bandwidth=-1.0).fit(X),
        lambda: DSG(solver="rk45").fit(X),
        lambda: DSG(hidden_layer_sizes=[[3, 3]]).fit(X),
        lambda: est.sample(-3),
        lambda: est.sample(2.5),
        lambda: est.score_samples(np.ones((3, d + 1))),
        lambda: est.score_samples(np.array([[np.nan] * d])),
        lambda: est.score_samples(X, method="exact"),
        lambda: est.score_samples(X, method="teacher"),  # the default keeps no training row
        lambda: DSG().sample(2),
        lambda: DSG().score_samples(X),
    ]


def check_finite(*arrays):
    for a in arrays:
        a = np.asarray(a.select_dtypes("number") if isinstance(a, pd.DataFrame) else a, dtype=np.float64)
        assert np.isfinite(a[~np.isnan(a)] if a.ndim > 1 else a).all()


@pytest.mark.slow
def test_soak():
    rng = np.random.default_rng(0)
    cases, errors, diverged, start = 0, 0, 0, time.perf_counter()
    warm, trace = None, []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning, InversionWarning: the point is elsewhere
        for it in range(ITERATIONS):
            X = random_data(rng)
            if it % 10 == 9:
                df, y = random_frame(rng)
                gen = TabularGenerator(DSG(**random_params(rng)), random_state=it)
                gen.fit(df, y if rng.random() < 0.5 else None)
                out = gen.sample(int(rng.integers(1, 50)), random_state=it)
                check_finite(out, gen.score_samples(df.dropna()) if len(df.dropna()) else np.zeros(1))
                back = pickle.loads(pickle.dumps(gen))
                check_finite(back.sample(3, random_state=0))
                cases += 1
            try:
                est = DSG(**random_params(rng)).fit(X)
            except ValueError as err:  # tiny random networks with a log-det loss can diverge: said so
                assert "diverged" in str(err)
                diverged += 1
                continue
            S = est.sample(int(rng.integers(1, 300)), random_state=it)
            check_finite(S, est.score_samples(X), est.score_samples(S))
            back = pickle.loads(pickle.dumps(est))
            np.testing.assert_array_equal(back.sample(5, random_state=1), est.sample(5, random_state=1))
            cases += 1
            if it % 20 == 19 and X.shape[0] >= 20:
                params = {k: v for k, v in random_params(rng).items() if k not in ("bandwidth", "n_steps")}
                search = GridSearchCV(DSG(**params), {"bandwidth": [0.3, 1.0], "n_steps": [3, 6]}, cv=2).fit(X)
                assert np.isfinite(search.cv_results_["mean_test_score"]).all()
                cases += 1
            bad = bad_inputs(est, X)
            try:
                bad[int(rng.integers(len(bad)))]()
            except (ValueError, TypeError, NotFittedError) as err:
                assert str(err)
                errors += 1
            else:
                raise AssertionError("a bad input was accepted")
            gc.collect()
            if warm is None and it >= min(20, ITERATIONS - 1):
                warm = rss_mib()
            if it % 50 == 49:
                trace.append(round(rss_mib()))
    end = rss_mib()
    print(f"\nsoak: {ITERATIONS} iterations, {cases} fits ({diverged} diverged, refused), {errors} bad inputs refused, "
          f"RSS {warm:.0f} MiB after warm-up, {end:.0f} MiB at the end (every 50 iterations: {trace}), "
          f"{time.perf_counter() - start:.0f} s")
    assert end - warm < MAX_GROWTH_MIB
