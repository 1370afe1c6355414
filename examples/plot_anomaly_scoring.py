"""
=====================================
Anomaly scoring with score_samples
=====================================

A density model flags as anomalous the rows where its log-density is low.
:meth:`~sklearn_diffgen.DiffusionSupervisedGenerator.score_samples` gives a finite
log-density everywhere, also far from the data, where it falls off as a Gaussian in the
distance to the range of the generator; so it ranks outliers instead of returning
``-inf``. We fit it on clean rows of the ``8gaussians`` toy, score a test set with uniform
outliers mixed in, and compare the ranking with a cross-validated
:class:`~sklearn.neighbors.KernelDensity` and with
:class:`~sklearn.ensemble.IsolationForest`.

**What this example trades for speed.** A default fit on 1,000 training rows; the
threshold comes from 300 of them, and the picture from a 40 x 40 grid. ``score_samples`` inverts the network row by row, so scoring costs more than
sampling: the rows scored here take about as long as the fit.
"""

# %%
# Fit on clean data, score a contaminated test set
# ------------------------------------------------

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity

from sklearn_diffgen import DiffusionSupervisedGenerator, InversionWarning
from sklearn_diffgen.datasets import make_toy

rng = np.random.RandomState(0)
X_train = make_toy("8gaussians", 1000, random_state=0)
inliers = make_toy("8gaussians", 200, random_state=1)
outliers = rng.uniform(-4.5, 4.5, size=(40, 2))
X_test = np.vstack([inliers, outliers])
is_outlier = np.r_[np.zeros(len(inliers)), np.ones(len(outliers))]

gen = DiffusionSupervisedGenerator(random_state=0).fit(X_train)
kde = GridSearchCV(KernelDensity(), {"bandwidth": np.logspace(-1.5, 0, 15)}).fit(X_train)
iso = IsolationForest(random_state=0).fit(X_train)

# higher anomaly score = more anomalous. score_samples warns (InversionWarning) when the
# inversion of a few rows did not converge; their values stay finite. We print its message
# once, without the warning's file and line.
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", InversionWarning)
    ours = -gen.score_samples(X_test)
for w in caught:
    print(f"note: {w.message}")
scores = {
    "DiffusionSupervisedGenerator": ours,
    "KernelDensity": -kde.best_estimator_.score_samples(X_test),
    "IsolationForest": -iso.score_samples(X_test),
}
for name, s in scores.items():
    print(f"{name:>30}: ROC AUC {roc_auc_score(is_outlier, s):.3f}")

# %%
# Some uniform "outliers" fall inside the clusters and cannot be told apart from inliers
# by any density, so no method reaches an AUC of 1.
#
# A threshold
# -----------
# To flag rows, set the threshold from the scores of training rows, for example at their
# 1 % quantile: about 1 % of new inliers are then flagged (more when the model overfits
# its training rows; a held-out set of clean rows gives a fairer quantile).
with warnings.catch_warnings():
    warnings.simplefilter("ignore", InversionWarning)  # a quantile does not mind a few rows
    threshold = np.quantile(gen.score_samples(X_train[:300]), 0.01)
flagged = -scores["DiffusionSupervisedGenerator"] < threshold
print(f"flagged {flagged[is_outlier == 1].mean():.0%} of the outliers and "
      f"{flagged[is_outlier == 0].mean():.1%} of the inliers")

# %%
# The picture
# -----------
# Filled contours of the log-density, the threshold as a red line, and the test rows
# (crosses: outliers).
gx, gy = np.meshgrid(np.linspace(-4.5, 4.5, 40), np.linspace(-4.5, 4.5, 40))
grid = np.column_stack([gx.ravel(), gy.ravel()])
with warnings.catch_warnings():
    warnings.simplefilter("ignore", InversionWarning)  # a picture does not mind a few pixels
    logp = gen.score_samples(grid).reshape(gx.shape)

fig, ax = plt.subplots(figsize=(6, 5.5))
cs = ax.contourf(gx, gy, np.maximum(logp, -15), levels=15, cmap="Blues")
ax.contour(gx, gy, logp, levels=[threshold], colors="red", linewidths=1.5)
fig.colorbar(cs, ax=ax, label="score_samples (clipped at -15)")
ax.scatter(*inliers.T, s=5, color="k", label="test inliers")
ax.scatter(*outliers.T, s=25, marker="x", color="C3", label="test outliers")
ax.set(aspect="equal", title="log-density and the 1 % training-quantile threshold")
ax.legend(loc="lower right")
fig.tight_layout()
