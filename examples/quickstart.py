"""Quickstart demo: DiffusionSupervisedGenerator against KernelDensity, GaussianMixture and a spline flow.

Run ``python3 examples/quickstart.py`` from the repository root: about a minute on two cores.
Every model is fitted to the same training rows of data sets of different dimension, then
scored on held-out rows. The peers are tuned as on the benchmark pages (``benchmarks/``): the
KDE's bandwidth (20 values) and the GMM's size (6 values) on a validation split, and zuko's
neural spline flow (NSF, when zuko is installed) early-stopped on it. The demo prints its
progress, a table, where we win and where we lose, and writes ``quickstart.png``.
"""

import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sklearn_diffgen import DiffusionSupervisedGenerator  # noqa: E402
from sklearn_diffgen.datasets import load_split  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # the pages' peers
from peers_flow import NSF, zuko_missing  # noqa: E402
from peers_sklearn import fit_gmm_tuned, fit_kde_tuned  # noqa: E402

#: (name, load_split name, training rows): 500 training, validation and test rows each.
DATA_SETS = [("two moons (2-D)", "moons", 500), ("correlated Gaussian (5-D)", "gaussian5", 500)]


def fit_models(X_train, X_val):
    """Each model fitted on X_train (peers tuned on X_val), with its fit seconds."""
    fits = {}

    def timed(name, fit):
        start = time.perf_counter()
        fits[name] = fit(), time.perf_counter() - start
        print(f"    {name:<5} fitted in {fits[name][1]:5.1f} s", flush=True)

    timed("ours", lambda: DiffusionSupervisedGenerator(random_state=0).fit(X_train))
    timed("KDE", lambda: fit_kde_tuned(X_train, X_val, 20)[0])
    timed("GMM", lambda: fit_gmm_tuned(X_train, X_val, 6)[0])
    if zuko_missing() is None:
        timed("NSF", lambda: NSF(random_state=0).fit(X_train, X_val))
    return fits


torch.set_num_threads(1)  # one thread for every model, as on the benchmark pages
start = time.perf_counter()
results, moons = [], None
print("Held-out log-likelihood (nats per row, standardised units; higher is better)")
if zuko_missing() is not None:
    print("  (zuko is not installed: no NSF column; `pip install -e \".[bench]\"` brings it)")
for i, (title, name, n_train) in enumerate(DATA_SETS, 1):
    split = load_split(name, n_samples=4 * n_train, random_state=0)  # 80/10/10 of 2,000 rows
    scaler = StandardScaler().fit(split.train[:n_train])
    X_train, X_val, X_test = (scaler.transform(split.train[:n_train]), scaler.transform(split.validation),
                              scaler.transform(split.test))
    print(f"[{i}/{len(DATA_SETS)}] {title}: {len(X_train)} training, {len(X_test)} test rows", flush=True)
    fits = fit_models(X_train, X_val)
    scores = {m: float(np.mean(model.score_samples(X_test))) for m, (model, _) in fits.items()}
    results.append((title, scores, {m: s for m, (_, s) in fits.items()}))
    if moons is None:
        moons = X_train, fits["ours"][0].sample(2000, random_state=1)

models = list(results[0][1])
print(f"\n{'data set':<28}" + "".join(f"{m:>9}" for m in models) + "   (fit seconds)")
for title, scores, seconds in results:
    times = ", ".join(f"{m} {s:.1f}" for m, s in seconds.items())
    print(f"{title:<28}" + "".join(f"{scores[m]:9.3f}" for m in models) + f"   ({times})")
print()
for title, scores, _ in results:
    peer = max((m for m in scores if m != "ours"), key=scores.get)
    gap = scores["ours"] - scores[peer]
    verdict = "level" if abs(gap) < 0.001 else "we win" if gap > 0 else "we lose"
    print(f"{title}: ours {scores['ours']:.4f} against the best peer, {peer}, {scores[peer]:.4f}: "
          f"{gap:+.4f} nats, {verdict}.")
print("The benchmark pages (doc/benchmarks/) have the full comparison, losses included: the peers "
      "fit in a second where we take ten or more, and a GMM is the true model of Gaussian data.")

fig, (ax_bar, ax_xy) = plt.subplots(1, 2, figsize=(11, 4.8))
width = 0.8 / len(models)
for j, m in enumerate(models):
    gaps = [scores[m] - max(scores.values()) for _, scores, _ in results]
    x = np.arange(len(results)) + (j - (len(models) - 1) / 2) * width
    bars = ax_bar.bar(x, gaps, width, label=m, color=f"C{j}")
    ax_bar.bar_label(bars, [f"{g:.3f}" for g in gaps], fontsize=7, padding=2)
ax_bar.axhline(0, color="black", linewidth=0.8)
ax_bar.set_ylim(top=0.12 * -ax_bar.get_ylim()[0])  # room for the labels of the best bars
ax_bar.set_xticks(np.arange(len(results)), [title for title, _, _ in results])
ax_bar.set_ylabel("test log-likelihood - best model's (nats)")
ax_bar.set_title("Held-out log-likelihood against the best model (0 is best)")
ax_bar.legend(title="model", loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=len(models))
ax_xy.scatter(*moons[1].T, s=4, alpha=0.5, color="C1", label="DiffusionSupervisedGenerator.sample")
ax_xy.scatter(*moons[0].T, s=4, color="C0", label="training rows")
ax_xy.set_xlabel("x1 (standardised)")
ax_xy.set_ylabel("x2 (standardised)")
ax_xy.set_title("Two moons: data and our samples")
ax_xy.legend(markerscale=4, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
fig.tight_layout()
fig.savefig("quickstart.png", dpi=100)
print(f"wrote quickstart.png; {time.perf_counter() - start:.0f} s in all")
