"""
==========================================================
Over-sampling a rare class in an imbalanced-learn pipeline
==========================================================

:class:`~sklearn_diffgen.DiffusionOverSampler` has the interface of imbalanced-learn's
:class:`~imblearn.over_sampling.SMOTE`: ``fit_resample(X, y)`` returns the rows with new
rows of the rare classes appended, and it works as a step of an
:class:`imblearn.pipeline.Pipeline`, where cross-validation resamples the training folds
only. SMOTE puts each new row on the segment between a rare row and one of its neighbours;
ours fits a generative model to the rare class (a :class:`~sklearn_diffgen.TabularGenerator`
of :class:`~sklearn_diffgen.DiffusionSupervisedGenerator`, the defaults) and samples it.

The data: two features, 500 rows, 28 of them in the rare class. :doc:`/benchmarks/oversampling`
compares both on real mixed tables; ours costs seconds where SMOTE costs milliseconds, and
on these data it does not beat SMOTE (see the end).
"""

# %%
# Before and after
# ----------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import make_pipeline
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate

from sklearn_diffgen import DiffusionOverSampler

X, y = make_classification(500, n_features=2, n_informative=2, n_redundant=0, n_clusters_per_class=1,
                           weights=[0.95], class_sep=1.0, random_state=4)
print("class counts before:", np.bincount(y))

# a model of 28 rows is a sharp map: its training may stop at max_iter (a ConvergenceWarning,
# counted here rather than printed)
ours = DiffusionOverSampler(random_state=0)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", ConvergenceWarning)
    X_ours, y_ours = ours.fit_resample(X, y)
print(f"ConvergenceWarnings: {len(caught)}")
X_smote, y_smote = SMOTE(random_state=0).fit_resample(X, y)
print("class counts after: ", np.bincount(y_ours))

fig, axes = plt.subplots(1, 3, figsize=(12, 4), sharex=True, sharey=True)
panels = [("the data", X, y), ("SMOTE", X_smote, y_smote), ("DiffusionOverSampler", X_ours, y_ours)]
for ax, (title, Xp, yp) in zip(axes, panels):
    new = np.arange(len(Xp)) >= len(X)
    ax.scatter(*Xp[yp == 0].T, s=4, color="0.75", label="common class")
    ax.scatter(*Xp[(yp == 1) & ~new].T, s=14, color="C3", label="rare class, real rows")
    if new.any():
        ax.scatter(*Xp[new].T, s=4, color="C0", alpha=0.6, label="rare class, new rows")
    ax.set(title=title, xlabel="feature 1")
axes[0].set_ylabel("feature 2")
axes[2].legend(loc="lower right", fontsize=8, markerscale=2)
fig.tight_layout()

# %%
# SMOTE's new rows lie on segments between rare rows, so they fill the rare class's convex
# shapes and stop at its outermost rows; ours are drawn from a smooth density of the rare
# class, so they also reach a little beyond them.
#
# In a pipeline
# -------------
# The sampler resamples only the training folds; the classifier is scored on untouched rows.
# The minority F1 is the score that the rare class's new rows should lift.
cv = StratifiedKFold(5, shuffle=True, random_state=0)
for name, sampler in [("none", None), ("SMOTE", SMOTE(random_state=0)), ("ours", DiffusionOverSampler(random_state=0))]:
    steps = [LogisticRegression()] if sampler is None else [sampler, LogisticRegression()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # see above
        res = cross_validate(make_pipeline(*steps), X, y, cv=cv, scoring=["balanced_accuracy", "f1"])
    print(f"{name:>6}: balanced accuracy {res['test_balanced_accuracy'].mean():.3f}, "
          f"rare-class F1 {res['test_f1'].mean():.3f}, fit {res['fit_time'].mean():.2f} s per fold")
