"""
===================================================
New digits: PCA, then the generator, next to a KDE
===================================================

The workflow of scikit-learn's example *Kernel Density Estimation* on the digits: project
the 8 x 8 images onto 15 principal components, fit a density model there, draw new points
and map them back to images. We fit :class:`~sklearn_diffgen.DiffusionSupervisedGenerator`
next to a cross-validated :class:`~sklearn.neighbors.KernelDensity`, compare their
held-out log-likelihoods, and look at the digits each draws.

A KDE samples by picking a training image and adding Gaussian noise, so its "new" digits
are blurred copies of training digits. The generator draws from a smooth map of Gaussian
noise, learned from the KDE-like teacher; sampling is one forward pass.

**What this example trades for speed.** Nothing in the model: a default fit, on the
1,437 training images of an 80/20 split.
"""

# %%
# Project, fit, score
# -------------------

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KernelDensity

from sklearn_diffgen import DiffusionSupervisedGenerator
from sklearn_diffgen.metrics import distance_to_closest_record

digits = load_digits()
X_train, X_test = train_test_split(digits.data, test_size=0.2, random_state=0)
pca = PCA(n_components=15, whiten=False, random_state=0).fit(X_train)
Z_train, Z_test = pca.transform(X_train), pca.transform(X_test)

kde = GridSearchCV(KernelDensity(), {"bandwidth": np.logspace(-1, 1, 20)}).fit(Z_train)
kde = kde.best_estimator_

gen = DiffusionSupervisedGenerator(random_state=0).fit(Z_train)

# KernelDensity.score is a sum over rows; ours is a mean, as GaussianMixture's. Both are
# densities of the 15 PCA coordinates. PCA and the generator also fit as one Pipeline,
# whose ``score`` cross-validates them together; ``sample`` is not a pipeline method, so
# here we keep the steps apart to draw from the generator and map back.
print(f"KernelDensity (bandwidth {kde.bandwidth:.2f}): "
      f"{kde.score(Z_test) / len(Z_test):.2f} mean held-out log-likelihood")
print(f"DiffusionSupervisedGenerator (bandwidth_ {gen.bandwidth_:.3f}, model units): "
      f"{gen.score(Z_test):.2f}")

# %%
# Draw new digits
# ---------------
n = 44
real = X_test[:n]
kde_digits = pca.inverse_transform(kde.sample(n, random_state=0))
gen_digits = pca.inverse_transform(gen.sample(n, random_state=0))

fig, axes = plt.subplots(3, 1, figsize=(9, 7.5))
for ax, images, title in zip(
    axes,
    (real, kde_digits, gen_digits),
    ("held-out digits", "KernelDensity.sample", "DiffusionSupervisedGenerator.sample"),
):
    # 4 rows of 11 digits, each 8 x 8 with a 1-pixel margin
    padded = np.pad(np.clip(images, 0, 16).reshape(-1, 8, 8), ((0, 0), (1, 1), (1, 1)))
    tiles = padded.reshape(4, 11, 10, 10).transpose(0, 2, 1, 3).reshape(40, 110)
    ax.imshow(tiles, cmap="binary", interpolation="nearest")
    ax.set(xticks=[], yticks=[], title=title)
fig.tight_layout()

# %%
# How new are the new digits?
# ---------------------------
# :func:`~sklearn_diffgen.metrics.distance_to_closest_record` measures how far each drawn
# point lies from its nearest training point (in the PCA space), next to the same distance
# for held-out digits. Values well below the held-out ones mean near-copies of training
# digits; values well above mean draws that wander off the data (blurrier or stranger
# digits). A short fit tends to the second; the KDE, by construction, sits with the
# held-out digits at its cross-validated bandwidth.
for name, model in (("KernelDensity", kde), ("DiffusionSupervisedGenerator", gen)):
    d = distance_to_closest_record(model.sample(300, random_state=1), Z_train)
    print(f"{name:>30}: median distance to closest training digit {np.median(d):.2f}")
print(f"{'held-out digits':>30}: {np.median(distance_to_closest_record(Z_test, Z_train)):.2f}")
