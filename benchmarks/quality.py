"""Quality of DiffusionSupervisedGenerator against peers: held-out likelihood, fidelity, privacy, cost.

For each data set every model gets the same split (``datasets.load_split``, standardised with
the training split's ``StandardScaler``) and the same tuning budget: ``n_grid`` configurations,
chosen on the validation split's mean log-likelihood. The models (``benchmarks/peers_sklearn.py``,
``peers_flow.py``):

* **ours (defaults)** -- ``DiffusionSupervisedGenerator(random_state=seed)``;
* **ours (tuned)** -- ``peers_sklearn.fit_ours_tuned``: the defaults (that fit is reused, and its
  time counted), then a wider network with the default teacher and with the mixture teacher, then
  bandwidth multipliers (``peers_sklearn.OURS_GRID``);
* **authors' settings** -- ``peers_sklearn.AUTHORS`` through our code (Euler, 500 steps, the authors'
  schedule, 1,000-point Monte Carlo score, 2 tanh layers of 64, full-batch Adam);
* **KDE** -- ``KernelDensity``, bandwidth on a log grid; **GMM** -- ``GaussianMixture``
  (full covariance), ``n_components`` log-spaced in 1..64; **NSF** -- zuko's neural spline
  flow, ``n_grid`` architectures, Adam with early stopping on validation NLL, each fit bounded
  by epochs and Adam steps; left out, and the page says so, when zuko does not import.

Measured for each model and data set, in standardised units:

* test log-likelihood: mean ``score_samples`` (nats) of at most ``--max-score`` test rows, the
  same rows for every model; with the count of rows whose inversion did not converge in our
  ``score_samples`` (its warning is recorded and counted, not printed);
* KL(true || model) where the data set has an exact density (8gaussians, checkerboard,
  gaussian5, gaussian20): the mean over the same test rows of
  :math:`\\log p(x) + \\sum_j \\log \\sigma_j - \\log q(x)`, the true log-density moved into
  standardised units by the scaler's log-determinant;
* from 10,000 samples against the test split: energy distance and classifier two-sample
  accuracy (``sklearn_diffgen.metrics``, at most ``metric_rows`` rows each), mean per-column
  KS statistic, correlation gap; DCR ratio against the training split with the test split as
  holdout (below 1: copying);
* fit time (s, the whole tuning for tuned models), sampling throughput (rows/s, 10,000 rows)
  and score throughput (rows/s over the scored test rows).

Writes ``doc/benchmarks/quality.rst`` (tables, a headline list: our tuned log-likelihood minus
the best peer's per data set), ``quality_samples.png`` (2-D sets: samples against data),
``quality_marginals.png`` (real sets: histograms of the first four columns, data vs ours vs the
best peer) and ``quality.csv`` (every raw row). Every row is published, losing ones included.

Run: ``python benchmarks/quality.py [--quick] [--datasets a,b,...] [--seed 0] [--max-score N]
[--n-grid K] [--threads N] [--out DIR]``.

``--quick``: moons, 8gaussians (3,000 rows each) and wine; ``n_grid`` 3; NSF fits of at most
30 epochs and 300 Adam steps (patience 5); the authors' settings with 3,000 labels (full batch
3,000) and ``max_iter`` 300 instead of 10,000 and 2,000; 300 test rows scored; sample metrics
on at most 2,000 rows. The page lists each reduction. Measured: 150 to 170 s on 2 cores with light
load from other jobs (9 minutes when four other workers loaded the same 2 cores).

Full mode: the 7 toys (10,000 rows), gaussian5, gaussian20 (10,000 rows) and the 6 real sets
(diamonds, shuttle and patches subsampled to 20,000 rows); ``n_grid`` 4; NSF fits of at most
200 epochs and 2,000 Adam steps (1,000 above 30 columns, where a step costs about 6 times
more), patience 10; 1,000 test rows scored; sample metrics on at most 5,000 rows. No fit has a
wall-clock limit, so the results do not depend on the machine's speed. Runtime, estimated
from single fits timed on moons (8,000 training rows), shuttle (16,000 x 9) and patches
(16,000 x 63) on 2 cores, with light load from other jobs: about 2.8 minutes per toy set
(our four candidates 65 s, authors 17 s, NSF 4 x up to 25 s, metrics 15 s), 6 per shuttle
or diamonds (our candidates 155 s, NSF 130 s, authors 31 s, GMM 14 s), 10 for patches (ours
185 s, NSF about 210 s, GMM 117 s), 4 each for the Gaussians and digits, 2-3 for wine and
breast_cancer: 45 to 55 minutes in all. ``--n-grid 3`` cuts about a fifth of it;
``--n-grid 6`` (the budget first planned) adds about half.
"""

from __future__ import annotations

import time
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import peers_flow  # noqa: E402
import peers_sklearn  # noqa: E402
from report import (make_parser, page_header, parse_args, print_table, publish, rst_table,  # noqa: E402
                    save_figure, section)
from sklearn_diffgen import datasets, metrics  # noqa: E402

#: Model names, in table order; the last three are the peers (NSF only where zuko imports).
OURS_DEFAULT, OURS_TUNED, AUTHORS = "ours (defaults)", "ours (tuned)", "authors' settings"
PEERS = ("KDE", "GMM", "NSF")
MODELS = (OURS_DEFAULT, OURS_TUNED, AUTHORS) + PEERS

QUICK = dict(
    datasets=("moons", "8gaussians", "wine"),
    n_samples={name: 3000 for name in datasets.TOY_DATASETS},
    n_grid=3,
    nsf=dict(max_epochs=30, patience=5),
    nsf_steps=(300, 300),
    authors=dict(n_labels=3000, batch_size=3000, max_iter=300),
    max_score=300,
    metric_rows=2000,
)
FULL = dict(
    datasets=datasets.TOY_DATASETS + ("gaussian5", "gaussian20") + datasets.REAL_DATASETS,
    n_samples=dict({name: 10000 for name in datasets.TOY_DATASETS},
                   diamonds=20000, shuttle=20000, patches=20000),
    n_grid=4,
    nsf=dict(max_epochs=200, patience=10),
    nsf_steps=(2000, 1000),  # Adam steps per NSF fit, up to WIDE columns and above
    authors=dict(),
    max_score=1000,
    metric_rows=5000,
)
#: Above this many columns an NSF step costs several times more (measured: 40 ms against
#: 7 ms at 2 columns), so NSF fits get the second, smaller ``nsf_steps`` bound.
WIDE = 30
N_SAMPLE = 10000  # rows drawn per model, for the throughput and the sample metrics

COLUMNS = ["model", "test loglik", "KL", "energy", "C2ST", "DCR ratio", "KS", "corr gap",
           "fit s", "sample rows/s", "score rows/s", "unconverged", "fit warnings", "chosen"]
#: The per-data-set tables of the page: the fidelity metrics, then the costs and the configuration.
PER_SET = (COLUMNS[:8], COLUMNS[:1] + COLUMNS[8:])
#: (section title, metric, caption) of the page's data sets x models tables.
METRICS = [("Log-likelihood", "test loglik",
            "Mean test log-likelihood (nats, standardised units; higher is better)."),
           ("KL divergence", "KL", "KL(true || model) on the scored test rows (nats; lower is better)."),
           ("Energy distance", "energy",
            "Energy distance of 10,000 samples to the test split (lower is better)."),
           ("C2ST", "C2ST", "Classifier two-sample accuracy against the test split (0.5 is perfect)."),
           ("DCR ratio", "DCR ratio",
            "Median distance to the closest training row, samples over test rows (below 1: copying)."),
           ("Fit time", "fit s", "Fit time in seconds, the whole tuning included.")]


# ------------------------------------------------------------------------------ fitting
def _fit(name, fit, caught_counts):
    """Call ``fit()``; return (its result, seconds), counting the warnings it raised (not printing them)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model = fit()
        seconds = time.perf_counter() - start
    caught_counts[name] = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    return model, seconds


def _chosen(name, model) -> str:
    """The configuration a model ended with, for the tables."""
    if name in (OURS_DEFAULT, OURS_TUNED, AUTHORS):
        t = model.teacher_
        kind = f"local r={t.rank}" if t.kind == "local" else t.kind
        return (f"{kind} teacher, bandwidth {model.bandwidth_:.3g}, hidden {tuple(model.hidden_layer_sizes)}, "
                f"{model.n_iter_} ep")
    if name == "KDE":
        return f"bandwidth {model.bandwidth:.3g}"
    if name == "GMM":
        return f"{model.n_components} components"
    return (f"{model.transforms} transforms, hidden {tuple(model.hidden_features)}, "
            f"lr {model.learning_rate:g}, {model.n_epochs_} ep / {model.n_steps_} steps "
            f"({model.stopped_by_})")


def fit_models(Xtr, Xva, cfg, n_grid, seed, flow=True, ours=None):
    """Fit every model (NSF with ``flow``; ours with the parameters ``ours`` on top); return
    {name: model}, {name: fit seconds}, {name: ConvergenceWarnings} and {name: tuning} (the
    candidates of each tuned model)."""
    models, fit_s, warned, tuning, ours = {}, {}, {}, {}, ours or {}
    models[OURS_DEFAULT], fit_s[OURS_DEFAULT] = _fit(
        OURS_DEFAULT, lambda: peers_sklearn.fit_ours(Xtr, random_state=seed, **ours), warned)
    (models[OURS_TUNED], tuning[OURS_TUNED]), extra = _fit(OURS_TUNED, lambda: peers_sklearn.fit_ours_tuned(
        Xtr, Xva, n_grid, random_state=seed, max_val=cfg["max_score"], default=models[OURS_DEFAULT], **ours),
        warned)
    fit_s[OURS_TUNED] = fit_s[OURS_DEFAULT] + extra
    warned[OURS_TUNED] += warned[OURS_DEFAULT]
    authors = {**peers_sklearn.AUTHORS, **cfg["authors"], **ours}
    models[AUTHORS], fit_s[AUTHORS] = _fit(
        AUTHORS, lambda: peers_sklearn.fit_ours(Xtr, random_state=seed, **authors), warned)
    tuned = {"KDE": lambda: peers_sklearn.fit_kde_tuned(Xtr, Xva, n_grid),
             "GMM": lambda: peers_sklearn.fit_gmm_tuned(Xtr, Xva, n_grid, random_state=seed)}
    if flow:
        max_steps = cfg["nsf_steps"][Xtr.shape[1] > WIDE]
        tuned["NSF"] = lambda: peers_flow.fit_nsf_tuned(Xtr, Xva, n_grid, random_state=seed,
                                                        max_steps=max_steps, **cfg["nsf"])
    for name, fit in tuned.items():
        (models[name], tuning[name]), fit_s[name] = _fit(name, fit, warned)
    return models, fit_s, warned, tuning


# ---------------------------------------------------------------------------- measuring
def measure(name, model, split, cfg, seed):
    """Every metric of one fitted model; returns (row, samples in standardised units)."""
    Xtr, Xte, Xsc = split["train"], split["test"], split["scored"]
    row = {}
    start = time.perf_counter()
    ll, bad = peers_sklearn.score_counting(model, Xsc)
    score_s = time.perf_counter() - start
    row["test loglik"] = float(np.mean(ll))
    row["unconverged"] = bad
    row["score rows/s"] = len(Xsc) / score_s
    if split["true_logpdf"] is not None:
        row["KL"] = float(np.mean(split["true_logpdf"] - ll))
    start = time.perf_counter()
    S = np.asarray(model.sample(N_SAMPLE, random_state=seed + 1), dtype=np.float64)
    row["sample rows/s"] = N_SAMPLE / (time.perf_counter() - start)
    finite = np.isfinite(S).all(axis=1)
    row["non-finite samples"] = int((~finite).sum())
    S = S[finite]  # reported above; the metrics need finite rows
    m = cfg["metric_rows"]
    row["energy"] = metrics.energy_distance(Xte, S, max_samples=m, random_state=seed)
    row["C2ST"] = metrics.c2st_accuracy(Xte, S, max_samples=m, random_state=seed)
    row["DCR ratio"] = metrics.dcr_ratio(S[:m], Xtr, Xte)
    row["KS"] = float(np.mean(metrics.column_ks(Xte, S)))
    row["corr gap"] = metrics.correlation_gap(Xte, S)
    return row, S


def prepare(name, cfg, seed, max_score):
    """Load and standardise one data set; pick the scored test rows (the same for every model)."""
    data = datasets.load_split(name, n_samples=cfg["n_samples"].get(name), random_state=seed)
    scaler = StandardScaler().fit(data.train)
    split = {k: scaler.transform(data[k]) for k in ("train", "validation", "test")}
    n_test = split["test"].shape[0]
    idx = np.arange(n_test)
    if n_test > max_score:
        idx = np.sort(np.random.default_rng(seed).choice(n_test, max_score, replace=False))
    split["scored"] = split["test"][idx]
    # log p_standardised(u) = log p(x) + sum_j log sigma_j, for u = (x - mu) / sigma
    split["true_logpdf"] = (None if data.logpdf is None
                            else data.logpdf(data.test[idx]) + np.log(scaler.scale_).sum())
    return data, split


def run_dataset(name, cfg, seed, max_score, flow=True, ours=None):
    data, split = prepare(name, cfg, seed, max_score)
    d = split["train"].shape[1]
    n_grid = cfg["n_grid"]
    start = time.perf_counter()
    models, fit_s, warned, tuning = fit_models(split["train"], split["validation"], cfg, n_grid, seed, flow,
                                               ours)
    rows, samples = [], {}
    measured = {}
    for model_name in [m for m in MODELS if m in models]:
        model = models[model_name]
        if id(model) not in measured:  # the tuned model may be the defaults' fit itself
            measured[id(model)] = measure(model_name, model, split, cfg, seed)
        row, samples[model_name] = measured[id(model)]
        rows.append(dict(dataset=name, model=model_name, **row, **{
            "fit s": fit_s[model_name], "fit warnings": warned[model_name],
            "chosen": _chosen(model_name, model),
            "val unconverged": sum(t["val_unconverged"] for t in tuning.get(model_name, [])
                                   if "val_unconverged" in t),
            "n_train": split["train"].shape[0], "n_val": split["validation"].shape[0],
            "n_test": split["test"].shape[0], "n_scored": split["scored"].shape[0], "d": d,
            "n_grid": n_grid, "seed": seed}))
    seconds = time.perf_counter() - start
    return dict(name=name, rows=rows, samples=samples, split=split, data=data, seconds=seconds,
                n_grid=n_grid)


# ------------------------------------------------------------------------------- output
def best_peer(rows):
    """The peer row with the highest test log-likelihood (NaN counts as lowest)."""
    peer_rows = [r for r in rows if r["model"] in PEERS]
    return max(peer_rows, key=lambda r: r["test loglik"] if np.isfinite(r["test loglik"]) else -np.inf)


def headline(results):
    lines, rows = [], []
    for res in results:
        ours = next(r for r in res["rows"] if r["model"] == OURS_TUNED)
        peer = best_peer(res["rows"])
        gap = ours["test loglik"] - peer["test loglik"]
        win = bool(gap > 0)
        rows.append({"dataset": res["name"], "ours (tuned)": ours["test loglik"], "best peer": peer["model"],
                     "best peer loglik": peer["test loglik"], "ours - best peer": gap, "we win": win})
        lines.append(f"* **{res['name']}**: ours (tuned) {ours['test loglik']:.3f} against "
                     f"{peer['model']} {peer['test loglik']:.3f}: {gap:+.3f} nats, "
                     f"{'we win' if win else 'we lose'}.")
    return lines, rows


def models_run(results) -> list[str]:
    """The names of :data:`MODELS` that were fitted (NSF is left out without zuko)."""
    return [m for m in MODELS if m in results[0]["samples"]]


def pivot(rows, metric):
    """Data sets x models table of one metric (data sets without it are left out)."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    out = []
    for name in dict.fromkeys(r["dataset"] for r in rows):
        values = {r["model"]: r.get(metric) for r in rows if r["dataset"] == name}
        if any(v is not None for v in values.values()):
            out.append({"dataset": name, **values})
    return out, ["dataset"] + models


def metric_tables(rows):
    """(title, caption, table, columns) of each of :data:`METRICS` that some data set has."""
    for title, metric, caption in METRICS:
        table, cols = pivot(rows, metric)
        if table:
            yield title, caption, table, cols


def tables_text(rows) -> str:
    """The page's tables, from its rows (those of ``quality.csv``): one section per metric (data
    sets x models), then each data set's rows (:data:`PER_SET`, without the empty columns)."""
    text = "".join(f"{section(title)}{caption}\n\n{rst_table(table, cols)}\n"
                   for title, caption, table, cols in metric_tables(rows))
    text += section("Per data set")
    for name in dict.fromkeys(r["dataset"] for r in rows):
        sub = [r for r in rows if r["dataset"] == name]
        r0 = sub[0]
        text += section(f"{name} ({r0['n_train']} train / {r0['n_val']} validation / "
                        f"{r0['n_test']} test rows, d = {r0['d']})", "~")
        for cols in PER_SET:
            text += rst_table(sub, [c for c in cols if any(r.get(c) is not None for r in sub)]) + "\n"
    return text


def plot_samples(results, out, n_points=2000):
    twod = [res for res in results if res["split"]["train"].shape[1] == 2]
    if not twod:
        return ""
    cols = ["data (train)"] + models_run(results)
    fig, axes = plt.subplots(len(twod), len(cols), figsize=(2.1 * len(cols), 2.1 * len(twod)),
                             squeeze=False)
    for i, res in enumerate(twod):
        data = res["split"]["train"][:n_points]
        lo, hi = np.percentile(res["split"]["train"], [0.5, 99.5], axis=0)
        pad = 0.15 * (hi - lo)
        for j, col in enumerate(cols):
            ax = axes[i, j]
            pts = data if j == 0 else res["samples"][col][:n_points]
            ax.scatter(pts[:, 0], pts[:, 1], s=0.5, alpha=0.5, color="k" if j == 0 else f"C{j - 1}",
                       rasterized=True)
            ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
            ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(col, fontsize=8)
            if j == 0:
                ax.set_ylabel(res["name"], fontsize=8)
    fig.tight_layout()
    return save_figure(fig, "quality_samples",
                       alt="samples of each model (columns) against training data, 2-D sets (rows)", out=out)


def plot_marginals(results, out, n_cols=4):
    real = [res for res in results if res["name"] in datasets.REAL_DATASETS]
    if not real:
        return ""
    fig, axes = plt.subplots(len(real), n_cols, figsize=(3 * n_cols, 2.3 * len(real)), squeeze=False)
    for i, res in enumerate(real):
        peer = best_peer(res["rows"])["model"]
        train = res["split"]["train"]
        for j in range(n_cols):
            ax = axes[i, j]
            if j >= train.shape[1]:
                ax.axis("off")
                continue
            lo, hi = np.percentile(train[:, j], [0.5, 99.5])
            bins = np.linspace(lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo), 40)
            ax.hist(train[:, j], bins=bins, density=True, color="0.7", label="data (train)")
            for k, (label, S) in enumerate([(OURS_TUNED, res["samples"][OURS_TUNED]),
                                            (f"best peer: {peer}", res["samples"][peer])]):
                ax.hist(S[:, j], bins=bins, density=True, histtype="step", lw=1.2, color=f"C{k}",
                        label=label)
            ax.set_yticks([])
            ax.set_title(f"{res['name']}: {res['data'].feature_names[j]}", fontsize=8)
            if i == 0 and j == 0:
                ax.legend(fontsize=6)
    fig.tight_layout()
    return save_figure(fig, "quality_marginals",
                       alt="histograms of the first four columns: data, ours (tuned), best peer", out=out)


def settings_text(cfg, args, mode, no_flow=None):
    nsf = cfg["nsf"]
    lines = [
        f"Mode: **{mode}**. Seed {args.seed}. Every model gets the same split (80/10/10, "
        "``sklearn_diffgen.datasets.load_split``), standardised with the training split's "
        "``StandardScaler``, so log-likelihoods are in nats, standardised units. Tuned models "
        f"try ``n_grid`` = {cfg['n_grid']} configurations each and keep the best validation "
        "log-likelihood; our estimator's candidates are "
        f"scored on at most {args.max_score} validation rows.",
        "",
        f"* scored rows: at most {args.max_score} test rows, the same for every model; "
        f"samples: {N_SAMPLE} per model; energy distance and C2ST on at most "
        f"{cfg['metric_rows']} rows of each sample, against the test split (small on wine and "
        "breast_cancer: 18 and 57 rows, so their sample metrics are noisy).",
        "* ours (tuned): " + ", ".join(f"x{m:g} {h} {t}" for m, h, t in peers_sklearn.ours_grid(cfg["n_grid"]))
        + " (bandwidth multiplier of the ``auto`` bandwidth, hidden layers, teacher).",
        "* authors' settings: ``" + ", ".join(f"{k}={v!r}" for k, v in
                                              {**peers_sklearn.AUTHORS, **cfg["authors"]}.items()) + "``.",
        "* KDE: bandwidth log-spaced in Scott's factor x [0.05, 2]; GMM: full covariance, "
        "n_components log-spaced in 1..min(64, n_train / 10), e.g. "
        + str(peers_sklearn.gmm_grid(cfg["n_grid"], 8000)) + " for 8,000 training rows; k-means "
        "initialisation, at most 100 EM iterations.",
        f"* NSF (zuko): left out, {no_flow}." if no_flow else "* NSF (zuko): " + "; ".join(
            f"{c['transforms']} transforms, hidden {c['hidden_features']}, "
            f"lr {c.get('learning_rate', 1e-3):g}"
            for c in peers_flow.nsf_grid(cfg["n_grid"]))
        + f"; 8 bins, batch 256, Adam, early stopping after {nsf['patience']} epochs without a "
        f"lower validation NLL, at most {nsf['max_epochs']} epochs and {cfg['nsf_steps'][0]} Adam "
        f"steps per fit ({cfg['nsf_steps'][1]} above {WIDE} columns), ended after the epoch that "
        "reaches the bound (no wall-clock limit: results do not depend on the machine).",
        "* fit s: wall-clock seconds of the whole procedure (all candidates, and their validation "
        "scoring, for tuned models). unconverged: test rows whose inversion in our "
        "``score_samples`` did not converge (their value is the Laplace value at the last iterate). "
        "fit warnings: ``ConvergenceWarning`` raised while fitting (training stopped at max_iter). "
        "DCR ratio: below 1 means samples sit closer to training rows than new data does. "
        "C2ST needs a few dozen rows: on the 18 test rows of wine its classifier cannot split "
        "(HistGradientBoosting's ``min_samples_leaf=20``) and it reads the same for every model.",
        "",
    ]
    if mode == "quick":
        lines += ["Reductions of this quick run against the full one:", ""] + [
            f"* {what}: {quick} instead of {full}" for what, quick, full in reductions()] + [""]
    return "\n".join(lines)


def reductions():
    """(what, quick value, full value) for each setting that ``--quick`` reduces."""
    q, f = QUICK, FULL
    toy = datasets.TOY_DATASETS[0]
    out = [("data sets", f"{len(q['datasets'])} ({', '.join(q['datasets'])})", len(f["datasets"])),
           ("rows of each toy set", q["n_samples"][toy], f["n_samples"][toy]),
           ("configurations per tuned model (n_grid)", q["n_grid"], f["n_grid"]),
           ("test rows scored (and validation rows scored per candidate of ours)",
            q["max_score"], f["max_score"]),
           ("rows per sample in energy distance and C2ST", q["metric_rows"], f["metric_rows"]),
           ("NSF: most epochs per fit", q["nsf"]["max_epochs"], f["nsf"]["max_epochs"]),
           ("NSF: early-stopping patience (epochs)", q["nsf"]["patience"], f["nsf"]["patience"]),
           ("NSF: most Adam steps per fit", q["nsf_steps"][0], f["nsf_steps"][0])]
    out += [(f"authors' settings: ``{k}``", v, f["authors"].get(k, peers_sklearn.AUTHORS[k]))
            for k, v in q["authors"].items()]
    return out


def main(argv=None):
    parser = make_parser(__doc__)
    parser.add_argument("--datasets", default=None, help="comma-separated data set names")
    parser.add_argument("--max-score", type=int, default=None,
                        help="test (and validation) rows scored per model (1000; 300 with --quick)")
    parser.add_argument("--n-grid", type=int, default=None,
                        help="configurations tried per tuned model (4; 3 with --quick)")
    args = parse_args(parser, argv)
    cfg = dict(QUICK if args.quick else FULL)
    names = args.datasets.split(",") if args.datasets else list(cfg["datasets"])
    args.max_score = args.max_score or cfg["max_score"]
    cfg["n_grid"] = args.n_grid or cfg["n_grid"]
    cfg["max_score"] = args.max_score
    mode = "quick" if args.quick else "full"
    no_flow = peers_flow.zuko_missing()
    if no_flow:
        print(f"[quality] NSF left out: {no_flow}", flush=True)

    start = time.perf_counter()
    results = []
    for name in names:
        print(f"[quality] {name} ...", flush=True)
        res = run_dataset(name, cfg, args.seed, args.max_score, flow=not no_flow, ours=args.ours_params)
        results.append(res)
        print_table(res["rows"], COLUMNS, title=f"{name} (n_train {res['rows'][0]['n_train']}, "
                    f"d {res['rows'][0]['d']}, {res['seconds']:.0f} s)")
    elapsed = time.perf_counter() - start

    parts = [page_header("Quality against peers", args.command, elapsed),
             settings_text(cfg, args, mode, no_flow)]
    lines, head_rows = headline(results)
    parts += ["Headline", "--------", "",
              "Our tuned estimator's test log-likelihood minus the best peer's (" + ", ".join(
                  m for m in PEERS if m in models_run(results)) + "):", "",
              *lines, "", rst_table(head_rows)]
    print_table(head_rows, title="headline: ours (tuned) - best peer, test log-likelihood")
    rows = [r for res in results for r in res["rows"]]
    for title, caption, table, cols in metric_tables(rows):
        print_table(table, cols, title=f"{title}: {caption}")
    parts.append(tables_text(rows))
    figures = [plot_samples(results, args.out), plot_marginals(results, args.out)]
    if any(figures):
        parts += ["Figures", "-------", "", *[f for f in figures if f]]
    bad = [f"{r['dataset']} / {r['model']}: {r['non-finite samples']}" for res in results
           for r in res["rows"] if r["non-finite samples"]]
    if bad:
        parts += ["Non-finite samples (dropped before the sample metrics): " + "; ".join(bad) + ".", ""]
    publish("quality", "\n".join(parts), rows, elapsed, args.out)


if __name__ == "__main__":
    main()
