"""
=========================================================
Sampling a density known only up to a constant (MoG-40)
=========================================================

:class:`~sklearn_diffgen.DiffusionSupervisedSampler` learns a one-step sampler from
``log_prob`` alone: no data. Each round weighs proposal rows by :math:`p / q` and fits a
:class:`~sklearn_diffgen.DiffusionSupervisedGenerator` to the weighted rows (its
training-free score is the closed-form kernel of the weighted rows); the next round
proposes from that generator. The target here is MoG-40, 40 Gaussians spread over
:math:`[-40, 40]^2`, a standard test of mode coverage for neural samplers.

**What this example trades for speed.** 2 rounds of 5,000 proposals and a small generator
(64 x 64, 3,000 labels), about 20 s; the defaults (3 rounds of 20,000, three layers of 128)
take about four minutes and are what :doc:`/benchmarks/sampler` measures.
"""

# %%
# The target and the fit
# ----------------------
import math
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning

from sklearn_diffgen import DiffusionSupervisedGenerator, DiffusionSupervisedSampler

torch.manual_seed(0)
means = (40 * (2 * torch.rand(40, 2) - 1)).double().numpy()
sigma = float(torch.nn.functional.softplus(torch.tensor(1.0)))


def log_prob(x):
    """The mixture's normalised log-density (so its log Z is 0)."""
    d2 = ((x[:, None, :] - means[None]) ** 2).sum(-1)
    return logsumexp(-d2 / (2 * sigma**2), axis=1) - math.log(40) - math.log(2 * math.pi * sigma**2)


small = DiffusionSupervisedGenerator(hidden_layer_sizes=(64, 64), n_labels=3000, verbose=0)
sampler = DiffusionSupervisedSampler(log_prob, 2, n_rounds=2, n_proposals=5000, initial_scale=30.0,
                                     generator=small, random_state=0)
with warnings.catch_warnings(record=True) as caught:  # small models may stop at max_iter
    warnings.simplefilter("always", ConvergenceWarning)
    sampler.fit()
log_z, se = sampler.log_normalizer_
print(f"log Z = {log_z:.3f} +- {se:.3f} (exact: 0); {sampler.n_target_evaluations_:,} evaluations of log_prob; "
      f"ESS per round {[round(e) for e in sampler.ess_history_]}; {len(caught)} ConvergenceWarnings")

# %%
# Samples against the 40 modes
# ----------------------------
# Each sample's nearest mean gives the share of each mode, 1/40 for an exact sampler.
X = sampler.sample(20_000, random_state=1)
nearest = ((X[:, None, :] - means[None]) ** 2).sum(-1).argmin(1)
share = np.bincount(nearest, minlength=40) * 40 / len(X)
print(f"mode shares x 40: from {share.min():.2f} to {share.max():.2f}; "
      f"{int(((share < 0.5) | (share > 1.5)).sum())} of 40 outside [0.5, 1.5]")

fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.8))
ax.scatter(*X[:5000].T, s=2, alpha=0.4, color="C0", label="sampler.sample")
ax.scatter(*means.T, s=30, marker="x", color="C3", label="the 40 means")
ax.set(aspect="equal", xlabel="x1", ylabel="x2", title="MoG-40: samples and modes")
ax.legend(loc="lower left", markerscale=3, fontsize=8)
bx.bar(np.arange(40), share, color="C0")
bx.axhspan(0.5, 1.5, color="0.9", zorder=0, label="within half of the exact share")
bx.axhline(1, color="k", lw=0.8)
bx.set(xlabel="mode", ylabel="share of samples x 40 (1 is exact)", title="Mode coverage")
bx.legend(fontsize=8)
fig.tight_layout()
