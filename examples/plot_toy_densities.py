"""
=========================================
Samples and log-density on the 2-D toys
=========================================

:class:`~sklearn_diffgen.DiffusionSupervisedGenerator` learns a one-step generator and the
log-density of what it draws. On two toy sets of :mod:`sklearn_diffgen.datasets`,
``8gaussians`` and ``checkerboard``, we plot the training data, the samples, and the
contours of :meth:`~sklearn_diffgen.DiffusionSupervisedGenerator.score_samples`. Both sets
have an exact log-density (:func:`~sklearn_diffgen.datasets.eight_gaussians_logpdf`,
:func:`~sklearn_diffgen.datasets.checkerboard_logpdf`), so the fitted density can be read
against the truth. The other toys (:data:`~sklearn_diffgen.datasets.TOY_DATASETS`) fit the
same way.

**What this example trades for speed.** Each model is a default fit on 3,000 rows (the
benchmark pages use 10,000), and the density is drawn on a 60 x 60 grid.
"""

# %%
# Fit one model per toy set
# -------------------------
# ``bandwidth="auto"`` (the default) picks the smoothing width by cross-validating the
# teacher, which is a Gaussian kernel density estimate of the standardised data.
import warnings

import matplotlib.pyplot as plt
import numpy as np

from sklearn_diffgen import DiffusionSupervisedGenerator, InversionWarning
from sklearn_diffgen.datasets import checkerboard_logpdf, eight_gaussians_logpdf, make_toy

toys = {
    "8gaussians": eight_gaussians_logpdf,
    "checkerboard": checkerboard_logpdf,
}
models, data = {}, {}
for name in toys:
    X = make_toy(name, 3000, random_state=0)
    # keep_training_data: score_samples(method="teacher") below needs the training rows
    gen = DiffusionSupervisedGenerator(keep_training_data=True, random_state=0).fit(X)
    models[name], data[name] = gen, X
    print(f"{name:>12}: bandwidth_={gen.bandwidth_:.3f}, {gen.n_iter_} epochs, "
          f"fit {sum(gen.fit_times_.values()):.1f} s")

# %%
# Data, samples and log-density
# -----------------------------
# ``sample`` is one forward pass of the network per row. ``score_samples`` inverts the
# network and applies the change of variables; it is the density of what ``sample``
# draws, not of the data. Rows far from the data still get finite values.
fig, axes = plt.subplots(len(toys), 4, figsize=(13, 3.2 * len(toys)))
for row, (name, exact) in zip(axes, toys.items()):
    X, gen = data[name], models[name]
    S = gen.sample(1000, random_state=1)
    lo, hi = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 60), np.linspace(lo[1], hi[1], 60))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    with warnings.catch_warnings():  # a few unconverged pixels do not show in the picture
        warnings.simplefilter("ignore", InversionWarning)
        logp = gen.score_samples(grid).reshape(gx.shape)
    levels = np.linspace(-8, max(logp.max(), 0), 12)

    row[0].scatter(*X.T, s=2)
    row[0].set_title(f"{name}: training data")
    row[1].scatter(*S.T, s=2, color="C1")
    row[1].set_title("sample(1000)")
    row[2].contourf(gx, gy, np.maximum(logp, -8), levels=levels, cmap="viridis")
    row[2].set_title("score_samples (log p)")
    true = exact(grid).reshape(gx.shape)
    row[3].contourf(gx, gy, np.maximum(true, -8), levels=levels, cmap="viridis")
    row[3].set_title("exact log-density")
    for ax in row:
        ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), xticks=[], yticks=[], aspect="equal")
fig.tight_layout()

# %%
# How close is the density?
# -------------------------
# Where the exact log-density is known, compare the mean held-out log-likelihood of the
# model with that of the truth (the best any model can do on average) and with the
# teacher, the kernel density estimate the labels follow
# (``score_samples(X, method="teacher")``). The gap between teacher and model is what the
# distillation into one network loses; it shrinks with more labels and epochs. A
# :class:`~sklearn_diffgen.InversionWarning` counts the rows whose inversion did not converge: their values are
# still finite (Laplace values at the last iterate) but less accurate.
for name, exact in toys.items():
    X_test = make_toy(name, 500, random_state=42)
    gen = models[name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InversionWarning)
        model_score = gen.score(X_test)
    note = f" ({caught[0].message})" if caught else ""
    print(f"{name:>12}: model {model_score:.3f}{note}, "
          f"teacher {gen.score_samples(X_test, method='teacher').mean():.3f}, "
          f"truth {exact(X_test).mean():.3f} (mean log-likelihood, 500 held-out rows)")
