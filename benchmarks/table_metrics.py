"""Metrics of synthetic table rows against real ones, shared by the tabular benchmarks.

ForestDiffusion's benchmark (Jolicoeur-Martineau, Fatras & Kachman, AISTATS 2024) measures a
synthetic table in one encoding: numeric columns min-max scaled by the training rows, categories
one-hot times 1/2 (a changed category costs 1 in L1, as a full-range numeric change does).
:class:`Scaler` is that encoding; a numeric column with missing training values gets the
training median and a 0/0.5 missingness indicator, so that a model that drops or misplaces its
missing values pays for it (in a column without missing training values a missing value is
only filled with the median). On it:

* the Wasserstein-1 distance with an L1 cost by exact optimal transport
  (:func:`sklearn_diffgen.metrics.wasserstein_l1`);
* coverage (:func:`sklearn_diffgen.metrics.coverage`, Naeem et al. 2020) with the k at which the
  real training rows cover the real test rows to 0.95, as ForestDiffusion chooses it
  (:func:`coverage_k`);
* :func:`tstr_scores` -- train on synthetic, test on real: macro F1 and balanced accuracy of a
  logistic regression, AdaBoost, a random forest and XGBoost, averaged over the four (what
  ForestDiffusion averages; over the first three where XGBoost does not import), on the same
  encoding.

The older measures of the tabular page stay: :func:`hgb_balanced_accuracy` (a
``HistGradientBoostingClassifier`` on the raw DataFrame) and :func:`fidelity` (per-column KS,
category TV, correlation gap, class-by-category TV).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import AdaBoostClassifier, HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_diffgen import metrics

#: The k tried for coverage's calibration, smallest first.
COVERAGE_KS = tuple(range(1, 51))
COVERAGE_TARGET = 0.95


def categorical_columns(X: pd.DataFrame) -> list:
    return [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]


class Scaler:
    """ForestDiffusion's encoding: min-max scaled numerics, one-hot categories / 2, missingness / 2.

    Fitted on the training rows; missing categories are one more category, a numeric column
    with missing training values is filled with its training median and gets an indicator.
    """

    def __init__(self, train: pd.DataFrame):
        self.cat = {c: np.unique(train[c].astype(object).fillna("<NA>").astype(str))
                    for c in categorical_columns(train)}
        self.num = [c for c in train.columns if c not in self.cat]
        values = train[self.num].astype(float)
        self.lo, self.span = values.min(), (values.max() - values.min()).replace(0, 1)
        self.median = values.median()
        self.flagged = [c for c in self.num if values[c].isna().any()]

    def __call__(self, X: pd.DataFrame) -> np.ndarray:
        values = X[self.num].astype(float)
        parts = [((values.fillna(self.median) - self.lo) / self.span).to_numpy(float)]
        parts += [0.5 * values[self.flagged].isna().to_numpy(float)]
        for c, cats in self.cat.items():
            v = X[c].astype(object).fillna("<NA>").astype(str).to_numpy()
            parts.append(0.5 * (v[:, None] == cats[None]).astype(float))
        return np.hstack(parts)


def coverage_k(real_ref: np.ndarray, real_other: np.ndarray) -> int:
    """The smallest k at which ``real_other`` covers ``real_ref`` to :data:`COVERAGE_TARGET`."""
    for k in COVERAGE_KS:
        if k >= len(real_ref):
            break
        if metrics.coverage(real_ref, real_other, n_neighbors=k) >= COVERAGE_TARGET:
            return k
    return min(COVERAGE_KS[-1], len(real_ref) - 1)


def classifiers(seed: int) -> dict:
    """ForestDiffusion's four classifiers; XGBoost only where it imports (extra ``bench-sdv``)."""
    out = {
        "linear": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        "AdaBoost": AdaBoostClassifier(random_state=seed),
        "random forest": RandomForestClassifier(random_state=seed, n_jobs=1),
    }
    try:
        from xgboost import XGBClassifier
    except ImportError:
        return out
    out["XGBoost"] = XGBClassifier(random_state=seed, n_jobs=1, verbosity=0)
    return out


def tstr_scores(Xs: np.ndarray, ys, Xt: np.ndarray, yt, classes, seed: int = 0) -> dict:
    """Macro F1 and balanced accuracy on the real test rows, averaged over the four classifiers.

    ``classes`` fixes the label codes (XGBoost wants 0..K-1), so that a synthetic sample that
    lacks a class is still scored against every class of the test rows.
    """
    code = {c: i for i, c in enumerate(classes)}
    ys_c, yt_c = np.array([code[c] for c in ys]), np.array([code[c] for c in yt])
    present, ys_fit = np.unique(ys_c, return_inverse=True)  # XGBoost needs consecutive codes: the present ones
    if len(present) < 2:
        return {"TSTR_F1": 0.0, "TSTR_bal_acc4": float(1 / len(classes))}
    f1, bal = [], []
    for clf in classifiers(seed).values():
        clf.fit(Xs, ys_fit)
        pred = present[clf.predict(Xt).astype(int)]
        f1.append(f1_score(yt_c, pred, average="macro", labels=np.arange(len(classes)), zero_division=0))
        bal.append(balanced_accuracy_score(yt_c, pred))
    return {"TSTR_F1": float(np.mean(f1)), "TSTR_bal_acc4": float(np.mean(bal))}


def hgb_balanced_accuracy(X_train, y_train, X_test, y_test, seed=0) -> float:
    """Balanced accuracy of a HistGradientBoostingClassifier on the raw DataFrames."""
    if len(np.unique(y_train)) < 2:
        return float("nan")
    # min_samples_leaf=5 instead of 20, so that the small subsets (a few dozen rows) can split too
    clf = HistGradientBoostingClassifier(categorical_features="from_dtype", min_samples_leaf=5, random_state=seed)
    clf.fit(X_train, y_train)
    return float(balanced_accuracy_score(y_test, clf.predict(X_test)))


def tv_distance(a: pd.Series, b: pd.Series) -> float:
    p = a.astype(object).fillna("<NA>").value_counts(normalize=True)
    q = b.astype(object).fillna("<NA>").value_counts(normalize=True)
    return 0.5 * float(p.subtract(q, fill_value=0).abs().sum())


def fidelity(Xs, ys, Xt, yt) -> dict:
    """Per-column KS, category TV, correlation gap and class-by-category TV against ``Xt``."""
    cats = categorical_columns(Xt)
    num = [c for c in Xt.columns if c not in cats]
    a, b = Xs[num].dropna().to_numpy(float), Xt[num].dropna().to_numpy(float)
    joint = [tv_distance(pd.Series(list(zip(ys, Xs[c].astype(object)))),
                         pd.Series(list(zip(np.asarray(yt), Xt[c].astype(object))))) for c in cats]
    return {
        "col_KS": float(np.mean(metrics.column_ks(a, b))),
        "cat_TV": float(np.mean([tv_distance(Xs[c], Xt[c]) for c in cats])) if cats else float("nan"),
        "corr_gap": float(metrics.correlation_gap(a, b)) if len(num) > 1 else float("nan"),
        "class_cat_TV": float(np.mean(joint)) if joint else float("nan"),
    }
