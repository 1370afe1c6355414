"""Quickstart demo: fit on two moons, compare held-out log-likelihood with KDE and GMM, plot samples.

Run ``python examples/quickstart.py``; it writes ``quickstart.png`` in the working directory.
"""

import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import make_moons  # noqa: E402
from sklearn.mixture import GaussianMixture  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.neighbors import KernelDensity  # noqa: E402

from sklearn_diffgen import DiffusionSupervisedGenerator  # noqa: E402

X, _ = make_moons(4000, noise=0.1, random_state=0)
X_train, X_test = X[:2000], X[2000:]

start = time.perf_counter()
gen = DiffusionSupervisedGenerator(random_state=0).fit(X_train)
fit_time = time.perf_counter() - start

kde = GridSearchCV(KernelDensity(), {"bandwidth": np.logspace(-2, 0, 20)}).fit(X_train)
gmm = GridSearchCV(GaussianMixture(random_state=0), {"n_components": [1, 2, 4, 8, 16, 32]}).fit(X_train)

print("held-out mean log-likelihood on two moons (2,000 train / 2,000 test rows)")
print(f"  DiffusionSupervisedGenerator  {gen.score(X_test):8.3f}   (fit {fit_time:.1f} s)")
print(f"  KernelDensity (CV bandwidth)  {kde.best_estimator_.score(X_test) / len(X_test):8.3f}"
      f"   (bandwidth {kde.best_params_['bandwidth']:.3f})")
print(f"  GaussianMixture (CV size)     {gmm.best_estimator_.score(X_test):8.3f}"
      f"   ({gmm.best_params_['n_components']} components)")

samples = gen.sample(2000, random_state=1)
fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharex=True, sharey=True)
axes[0].scatter(*X_train.T, s=2)
axes[0].set_title("training data")
axes[1].scatter(*samples.T, s=2, color="C1")
axes[1].set_title("DiffusionSupervisedGenerator.sample")
fig.tight_layout()
fig.savefig("quickstart.png", dpi=100)
print("wrote quickstart.png")
