"""
======================================
Tuning the bandwidth with GridSearchCV
======================================

``bandwidth`` is the width of the Gaussian smoothing that the training-free teacher applies
to the standardised data; it plays the part of a :class:`~sklearn.neighbors.KernelDensity`
bandwidth. :meth:`~sklearn_diffgen.DiffusionSupervisedGenerator.score` returns the mean
held-out log-likelihood, as :meth:`sklearn.mixture.GaussianMixture.score` does, so
:class:`~sklearn.model_selection.GridSearchCV` tunes the estimator like any scikit-learn
density model.

We compare the cross-validated curve of the estimator with that of its teacher. With
``whiten=False`` and ``variance_correction=False``, as here, the teacher is a
:class:`~sklearn.neighbors.KernelDensity` of the standardised data with the same bandwidth,
whose maximum is the value that ``bandwidth="auto"`` picks. (By default both are
``"auto"``: cross-validation also decides whether to whiten the data and scale the
teacher back to the data's variance; on two moons it makes little difference.)

**What this example trades for speed.** 600 rows of two moons, a grid of three
bandwidths, 3 folds (9 fits), and small models: ``n_labels=1500``, ``max_iter=30``, two
hidden layers of 64 (defaults: ``n_labels="auto"``, 1,000 to 30,000 labels; 150 epochs;
three layers of 128). Small models score lower than default ones; the comparison between
bandwidths is what this example shows.
"""

# %%
# The search
# ----------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KernelDensity
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_diffgen import DiffusionSupervisedGenerator, InversionWarning
from sklearn_diffgen.datasets import make_toy

X = make_toy("moons", 600, random_state=0)
bandwidths = [0.05, 0.12, 0.3]
cv = KFold(3, shuffle=True, random_state=0)

small = DiffusionSupervisedGenerator(
    n_labels=1500, max_iter=30, hidden_layer_sizes=(64, 64), whiten=False,
    variance_correction=False, random_state=0,
)
# refit=False: we only want the curve, not a final model
search = GridSearchCV(small, {"bandwidth": bandwidths}, cv=cv, refit=False)
# The small fits stop at max_iter (a ConvergenceWarning each), and score_samples warns when
# a few of a fold's rows do not converge in the inversion (their values stay finite). We
# record the warnings and count them instead of printing each one.
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    search.fit(X)
n_stopped = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
n_inversion = sum(issubclass(w.category, InversionWarning) for w in caught)
print(f"{n_stopped} of the 9 fits stopped at max_iter=30, as intended; {n_inversion} of the 9 "
      "scorings had rows whose inversion did not converge (InversionWarning)")
print("best bandwidth:", search.best_params_["bandwidth"])
print("mean held-out log-likelihood per bandwidth:",
      np.round(search.cv_results_["mean_test_score"], 3))

# %%
# The teacher's curve and ``bandwidth="auto"``
# --------------------------------------------
# The teacher is a KDE of the *standardised* data. ``KernelDensity.score`` is a sum, so we
# divide by the fold size, and the standardisation changes the log-density by the constant
# :math:`-\sum_j \log \sigma_j`, which we add so that both curves are in the units of X.
# The teacher needs no network, so its curve is cheap to draw on a fine grid.
# ``bandwidth="auto"`` maximises the same 3-fold cross-validated likelihood (on its own
# grid and folds).
log_scale = np.log(X.std(axis=0)).sum()
fine = np.logspace(np.log10(0.03), np.log10(0.6), 25)
kde_scores = []
for h in fine:
    fold_scores = []
    for train, test in cv.split(X):
        kde = make_pipeline(StandardScaler(), KernelDensity(bandwidth=h)).fit(X[train])
        fold_scores.append(kde.score(X[test]) / len(test) - log_scale)
    kde_scores.append(np.mean(fold_scores))
best_teacher = fine[int(np.argmax(kde_scores))]
print(f"teacher's cross-validated optimum: {best_teacher:.3f}")

fig, ax = plt.subplots(figsize=(6, 4))
res = search.cv_results_
ax.errorbar(bandwidths, res["mean_test_score"], yerr=res["std_test_score"], marker="o",
            capsize=3, label="DiffusionSupervisedGenerator (small)")
ax.plot(fine, kde_scores, label="teacher: KDE of standardised data")
ax.axvline(best_teacher, color="k", ls="--", lw=1, label="teacher's optimum (~ auto)")
ax.set_xscale("log")
ax.set_xticks([0.03, 0.05, 0.1, 0.2, 0.3, 0.6], labels=["0.03", "0.05", "0.1", "0.2", "0.3", "0.6"])
ax.minorticks_off()
ax.set(xlabel="bandwidth (standardised units)",
       ylabel="mean held-out log-likelihood", title="3-fold cross-validation, two moons")
ax.legend()
fig.tight_layout()

# %%
# The estimator's curve lies below the teacher's: the gap is what one network, trained
# briefly on few labels, loses against the kernel density estimate it imitates, and it
# need not peak at the same bandwidth. Search over the estimator itself when it is the
# density you will use, as above; ``"auto"`` costs one kernel density search instead of a
# network per grid point and fold, and is the default.
