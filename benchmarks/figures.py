"""The figure that opens each results page: ours against every peer or setting, drawn from the page's csv.

Each page of ``doc/benchmarks`` has one drawing function here (:data:`DRAW`), which takes the
rows of ``<name>.csv`` (:func:`report.read_csv`) and returns a matplotlib figure and a one-line
caption. :func:`report.publish` calls :func:`opening_figure` and :func:`place` when a script
writes its page, so that the figure comes from the csv written in the same run;
``python benchmarks/figures.py [names]`` redraws the figures of the committed pages from their
committed csv files and puts the ``.. figure::`` directive after each page's header, without
running a benchmark.
"""

from __future__ import annotations

import argparse
import functools
import re
import sys
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

from report import DOC_DIR, read_csv, save_figure  # noqa: E402

MARKERS = "osD^vPX*<>"
WIDTH = 7.2  # inches: about the width of the page's text column at 110 dpi (790 px)
#: (long, short) parts of the speed page's model and sampler names, for tick labels.
SHORT_NAMES = (("KernelDensity", "KDE"), ("GaussianMixture", "GMM"), (", GridSearchCV 20 bandwidths", ""),
               (", GridSearchCV 6 sizes", ""), (", early stopping", ""), (" (zuko)", ""), (".sample", ""),
               (" sample", ""), (", exact score", ""), (", 1,000-point batch", ""),
               (" (one forward pass)", ""))


# ------------------------------------------------------------------------------ helpers
def _unique(rows, key, where=None):
    """Values of ``row[key]`` in order of first appearance (rows passing ``where``)."""
    return list(dict.fromkeys(r[key] for r in rows
                              if r.get(key) is not None and (where is None or where(r))))


def _find(rows, **match):
    """The first row whose items include ``match``, or None."""
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def _mean_se(values):
    """Mean and standard error (None for fewer than two values) of the non-None ``values``."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return None, None
    return float(v.mean()), (float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else None)


def _dodged(ax, groups, series, value, *, ticks=None, names=None):
    """One marker per (group, series), the series side by side at each group's x.

    ``value(group, series)`` gives ``(y, error)`` (error None for no bar) or None for no marker;
    ``ticks`` and ``names`` label the groups and the series (default: themselves).
    """
    n = len(series)
    for j, s in enumerate(series):
        xs, ys, errs = [], [], []
        for i, g in enumerate(groups):
            v = value(g, s)
            if v is None or v[0] is None or not np.isfinite(v[0]):
                continue
            xs.append(i + (j - (n - 1) / 2) * 0.7 / max(n, 1))
            ys.append(v[0])
            errs.append(np.nan if v[1] is None else v[1])
        has_err = bool(np.isfinite(errs).any()) if errs else False
        ax.errorbar(xs, ys, yerr=np.nan_to_num(errs) if has_err else None, fmt=MARKERS[j % len(MARKERS)],
                    color=f"C{j}", ms=6, capsize=3 if has_err else 0, lw=1,
                    label=s if names is None else names[j])
    ax.set_xticks(range(len(groups)), groups if ticks is None else ticks)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.grid(True, axis="y", lw=0.3)


def _lookup(rows, column, group_key, series_key):
    """The ``value`` of :func:`_dodged`: the mean and standard error of ``column`` over the rows of
    each (group, series), several when a benchmark ran several seeds."""
    def value(group, series):
        return _mean_se([r.get(column) for r in rows if r.get(group_key) == group and r.get(series_key) == series])

    return value


def _figure(nrows, ncols, height, title, **kw):
    """A figure of :data:`WIDTH` inches with a grid of axes (constrained layout) and a title."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(WIDTH, height), layout="constrained", **kw)
    fig.suptitle(title, fontsize=11)
    return fig, axes


def _label(ax, title=None, xlabel=None, ylabel=None, xsize=7):
    """A panel's title and axis labels (those given) and its tick labels (``xsize`` points on
    the x axis), in the figures' small sizes."""
    for text, setter, size in ((title, ax.set_title, 9), (xlabel, ax.set_xlabel, 8),
                               (ylabel, ax.set_ylabel, 8)):
        if text is not None:
            setter(text, fontsize=size)
    ax.tick_params(axis="x", which="both", labelsize=xsize)
    ax.tick_params(axis="y", which="both", labelsize=7)


def _panels(n, ncol, row_height, title, ylabel, **kw):
    """A :func:`_figure` of ``n`` panels, ``ncol`` a row (the cells left over hidden), the first
    column's labelled ``ylabel``; returns the figure and the 2-D array of axes."""
    nrow = -(-n // ncol)
    fig, axes = _figure(nrow, ncol, row_height * nrow + 0.8, title, squeeze=False, **kw)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel, fontsize=8)
    return fig, axes


def _legend_below(fig, ax, ncol=3):
    """The legend of ``ax``, centred under the figure."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=ncol, fontsize=8, frameon=False)


def _short(name: str) -> str:
    """A model or sampler name short enough for a tick label."""
    for long, short in SHORT_NAMES:
        name = name.replace(long, short)
    return name


# --------------------------------------------------------------------------- the pages
def quality(rows):
    """Test log-likelihood of every model, minus the best model's, on every data set."""
    sets, models = _unique(rows, "dataset"), _unique(rows, "model")
    best = {s: max(r["test loglik"] for r in rows if r["dataset"] == s and np.isfinite(r["test loglik"]))
            for s in sets}

    def gap(s, m):
        r = _find(rows, dataset=s, model=m)
        return None if r is None else (r["test loglik"] - best[s], None)

    fig, ax = _figure(1, 1, 4.2, "Held-out log-likelihood: ours against the peers")
    _dodged(ax, sets, models, gap)
    ax.set_yscale("symlog", linthresh=0.01)
    lowest = min(r["test loglik"] - best[r["dataset"]] for r in rows if np.isfinite(r["test loglik"]))
    ax.set_ylim(-10 ** np.ceil(np.log10(max(-lowest, 0.01) * 1.5)), 0.004)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    ax.set_ylabel("test log-likelihood minus the best\nmodel's (nats; higher is better)")
    ax.set_xlabel("data set")
    _legend_below(fig, ax, ncol=6)
    caption = ("Test log-likelihood of each model minus the best model's on each data set (0: the best; "
               "symmetric log scale; one seed, so no error bars), drawn from ``quality.csv``.")
    return fig, caption


def time_to_quality(rows):
    """Held-out log-likelihood against fit seconds, per data set: our epoch budgets and the peers."""
    sets = _unique(rows, "dataset")
    peers = _unique(rows, "model", lambda r: not r["model"].startswith("ours"))
    fig, axes = _panels(len(sets), min(4, len(sets)), 2.1, "Time to quality: ours against the peers",
                        "held-out log-lik.\n(nats; higher is better)")
    for ax, name in zip(axes.flat, sets):
        sub = [r for r in rows if r["dataset"] == name]
        ours = sorted((r for r in sub if r["model"].startswith("ours")), key=lambda r: r["fit_s"])
        ax.plot([r["fit_s"] for r in ours], [r["test_ll"] for r in ours], "o-", color="C0", ms=4,
                label="ours (max_iter budgets)")
        default = [r for r in ours if r["model"] == "ours (default)"]
        ax.plot([r["fit_s"] for r in default], [r["test_ll"] for r in default], "*", color="C0", ms=12,
                label="ours (default)")
        for j, peer in enumerate(peers, start=1):
            r = _find(sub, model=peer)
            if r is not None:
                ax.plot(r["fit_s"], r["test_ll"], MARKERS[j], color=f"C{j}", ms=6, label=peer)
        ax.set_xscale("log")
        ax.margins(0.12)
        ax.grid(True, lw=0.3)
        _label(ax, name, "fit seconds (log)")
    _legend_below(fig, axes.flat[0], ncol=2 + len(peers))
    caption = ("Held-out log-likelihood against fit seconds on each data set: ours at each epoch budget "
               "(the default starred) and the tuned peers (one seed), drawn from ``time_to_quality.csv``.")
    return fig, caption


def speed(rows):
    """Fit seconds, peak memory, sampling and scoring throughput: ours against the peers."""
    fits = [r for r in rows if r["table"] == "Fit time"]
    memory = [r for r in rows if r["table"] == "Peak memory of fit"]
    sampling = [r for r in rows if r["table"] == "Sampling throughput"]
    growth = [r for r in rows if r["table"].startswith("Scoring throughput as the training set")]
    fig, axes = _figure(2, 2, 6.6, "Speed and memory: ours against the peers")

    def by_model(ax, table, column, ylabel, title, log):
        models = _unique(table, "model")
        _dodged(ax, models, _unique(table, "data"), _lookup(table, column, "model", "data"),
                ticks=[_short(m) for m in models])
        if log:
            ax.set_yscale("log")
        else:
            ax.set_ylim(0, 1.15 * max(r[column] for r in table))
        _label(ax, title, ylabel=ylabel)
        ax.legend(fontsize=7, title="data", title_fontsize=7)

    by_model(axes[0, 0], fits, "fit s", "fit seconds (log; lower is better)", "Fit time (median of the fits)",
             True)
    by_model(axes[0, 1], memory, "peak RSS MiB", "peak RSS of the fit process, MiB\n(lower is better)",
             "Peak memory of the fit", False)

    ax = axes[1, 0]
    samplers = _unique(sampling, "sampler")
    sizes = [c for c in sampling[0] if c.startswith("rows/s (")] if sampling else []
    _dodged(ax, samplers, sizes, lambda s, size: (_find(sampling, sampler=s)[size], None),
            ticks=[re.sub(r":? \(|, |: ", "\n", _short(s)).rstrip(")") for s in samplers],
            names=[s.replace("rows/s (", "").replace(")", " rows") for s in sizes])
    ax.set_yscale("log")
    _label(ax, "Sampling throughput, two moons", ylabel="rows/s (log; higher is better)", xsize=6)
    ax.legend(fontsize=7)

    ax = axes[1, 1]
    five = sorted((r for r in growth if r["d"] == min(r["d"] for r in growth)), key=lambda r: r["N train"])
    for j, (column, label) in enumerate((("ours rows/s", "ours"), ("KernelDensity rows/s", "KDE"))):
        ax.loglog([r["N train"] for r in five], [r[column] for r in five], MARKERS[j] + "-", color=f"C{j}",
                  label=f"{label}, d = {five[0]['d']}")
    _label(ax, "Scoring throughput as N grows", "training rows N (log)",
           "score_samples rows/s (log; higher is better)")
    ax.grid(True, which="both", lw=0.3)
    ax.legend(fontsize=7)
    caption = ("Fit seconds, peak memory, sampling and scoring throughput of ours and of the peers, timed "
               "in one run (one fit each in quick mode, so no error bars), drawn from ``speed.csv``.")
    return fig, caption


def scaling(rows):
    """Labelling, training and fit seconds against each factor, the base configuration marked."""
    factors = _unique(rows, "factor")
    base = {r["factor"]: r["value"] for r in rows if r["fit / base"] == 1.0}
    fig, axes = _panels(len(factors), 2, 2.6, "Fit cost against each factor",
                        "seconds (log; lower is better)", sharey=True)
    for ax, factor in zip(axes.flat, factors):
        sub = sorted((r for r in rows if r["factor"] == factor), key=lambda r: r["value"])
        x = [r["value"] for r in sub]
        for j, column in enumerate(("labelling s", "training s", "fit s")):
            ax.loglog(x, [r[column] for r in sub], MARKERS[j] + "-", color=f"C{j}", ms=4,
                      label={"fit s": "whole fit"}.get(column, column[:-2]))
        if factor in base:
            ax.axvline(base[factor], color="0.6", lw=1, ls=":", label="base configuration")
        ax.set_xticks(x, [f"{v:,}" for v in x])
        ax.xaxis.set_minor_formatter(NullFormatter())
        _label(ax, xlabel=factor)
        ax.grid(True, which="both", lw=0.3)
    _legend_below(fig, axes.flat[0], ncol=4)
    caption = ("Seconds of the labelling, the training and the whole fit as one factor changes around the "
               "base configuration (dotted), log-log, drawn from ``scaling.csv``.")
    return fig, caption


def labelling(rows):
    """The paper's labelling settings against ours (error and seconds), and the kernel against matmul."""
    paper = [r for r in rows if r["table"] == "paper"]
    kernel = [r for r in rows if r["table"] == "kernel"]
    fig, (left, right) = _figure(1, 2, 4.6, "Labelling: the paper's settings and torch.matmul against ours")
    for j, r in enumerate(paper):
        default = r["setting"].startswith("default")
        left.plot(r["seconds"], r["RMS error"], "*" if default else MARKERS[j], ms=13 if default else 7,
                  color=f"C{j}", label=r["setting"])
    left.set_xscale("log")
    left.set_yscale("log")
    _label(left, "The paper's settings against ours", "labelling seconds (log; lower is better)",
           "RMS label error (log; lower is better)")
    left.grid(True, which="both", lw=0.3)
    _legend_below(fig, left, ncol=2)
    _dodged(right, list(range(len(kernel))), ["denoise GFLOP/s", "matmul GFLOP/s"],
            lambda i, column: (kernel[i][column], None),
            ticks=[f"d={int(r['d'])}\n{r['dtype']}" for r in kernel],
            names=["ours: Kernel.denoise", "torch.matmul, the same products"])
    right.set_yscale("log")
    rates = [r[c] for r in kernel for c in ("denoise GFLOP/s", "matmul GFLOP/s")]
    right.set_ylim(min(rates) / 1.5, max(rates) * 4)  # room for the legend above the markers
    _label(right, "Score kernel against torch.matmul", ylabel="GFLOP/s (log; higher is better)")
    right.legend(fontsize=7, loc="upper left")
    caption = ("Labelling seconds and label error of the paper's settings and of ours (the default starred), "
               "and the score kernel's throughput against torch.matmul, drawn from ``labelling.csv``.")
    return fig, caption


def _default_setting(settings):
    """The setting of ``settings`` that is today's default of the estimator, or None."""
    import sklearn_diffgen._estimator as estimator_module
    from solver_defaults import parse_setting
    from sklearn_diffgen import DiffusionSupervisedGenerator

    defaults = DiffusionSupervisedGenerator().get_params()
    for text in settings:
        params = parse_setting(text)
        current = {k: getattr(estimator_module, k, None) if k.isupper() else defaults.get(k) for k in params}
        if current == params:
            return text
    return None


def settings(rows, name):
    """Test log-likelihood (same-seed difference to the first setting) and fit seconds per setting."""
    from solver_defaults import setting_key

    order = _unique([dict(r, key=setting_key(r)) for r in rows], "key")
    sets = _unique(rows, "dataset")
    default = _default_setting(order)
    by = {(r["dataset"], r["seed"], setting_key(r)): r for r in rows}
    ticks = [s.replace(",", ",\n") + ("\n(default)" if s == default else "") for s in order]
    fig, (left, right) = _figure(1, 2, 4.0, "Test log-likelihood and fit time per setting")

    def diff(key, dataset):
        return _mean_se([by[d, seed, key]["test_ll"] - by[d, seed, order[0]]["test_ll"]
                         for d, seed, k in by if d == dataset and k == key and (d, seed, order[0]) in by])

    def fit_s(key, dataset):
        return _mean_se([r["fit_s"] for (d, _, k), r in by.items() if d == dataset and k == key])

    for ax in (left, right):
        if default is not None:
            ax.axvspan(order.index(default) - 0.45, order.index(default) + 0.45, color="0.92", zorder=0)
    _dodged(left, order, sets, diff, ticks=ticks)
    left.axhline(0, color="0.5", lw=0.8)
    _label(left, "Held-out log-likelihood", "setting",
           "test log-likelihood minus the first\nsetting's (nats, same seed; higher is better)", xsize=6.5)
    _dodged(right, order, sets, fit_s, ticks=ticks)
    _label(right, "Fit time", "setting", "fit seconds (lower is better)", xsize=6.5)
    _legend_below(fig, left, ncol=len(sets))
    seeds = sorted(set(Counter((d, k) for d, _, k in by).values()))  # seeds per data set and setting
    bars = ("one seed, so no error bars" if seeds[-1] == 1 else
            f"mean ± standard error over {seeds[0]} seeds" if len(seeds) == 1 else
            f"mean ± standard error over {seeds[0]} to {seeds[-1]} seeds")
    marked = "today's default shaded" if default else "none of them is today's default"
    caption = (f"Test log-likelihood (difference to the first setting) and fit seconds per setting on each "
               f"data set ({bars}; {marked}), drawn from ``{name}.csv``.")
    return fig, caption


def threads(rows):
    """Kernel seconds against torch threads, idle and contended, and the default fits."""
    kernels = [r for r in rows if r["table"] == "kernels"]
    fits = [r for r in rows if r["table"] == "fit"]
    fig, (left, right) = _figure(1, 2, 3.8, "Threads: one thread (the default) against more")
    counts = sorted(_unique(kernels, "torch threads"))
    left.axvspan(counts[0] - 0.15, counts[0] + 0.15, color="0.92", zorder=0, label="estimator's default")
    for j, part in enumerate(("training", "denoise")):
        for busy, ls in ((False, "-"), (True, "--")):
            sub = sorted((r for r in kernels if r["one core busy"] == busy), key=lambda r: r["torch threads"])
            left.plot([r["torch threads"] for r in sub], [r[f"{part} vs 1 thread"] for r in sub],
                      MARKERS[j] + ls, color=f"C{j}", label=f"{part}, {'one core busy' if busy else 'idle'}")
    left.set_xticks(counts)
    _label(left, "Kernels", "torch threads", "seconds / one-thread seconds\n(lower is better)")
    left.grid(True, lw=0.3)
    left.legend(fontsize=6.5)
    labels = [f"{'one core busy' if r['one core busy'] else 'idle'}\nn_jobs={r['n_jobs']}\n"
              f"OMP_NUM_THREADS\n{r['OMP_NUM_THREADS']}" for r in fits]
    for i, r in enumerate(fits):
        if r["n_jobs"] == "None" and r["OMP_NUM_THREADS"] == "unset":
            right.axvspan(i - 0.5, i + 0.5, color="0.92", zorder=0, label="estimator's default")
    bottom = np.zeros(len(fits))
    for j, part in enumerate(("bandwidth_s", "labelling_s", "training_s")):
        values = np.array([r[part] for r in fits])
        right.bar(range(len(fits)), values, bottom=bottom, color=f"C{j + 2}", label=part[:-2])
        bottom += values
    right.plot(range(len(fits)), [r["fit_s"] for r in fits], "k_", ms=20, label="whole fit")
    right.axhline(1.5 * fits[0]["fit_s"], color="C3", ls=":", lw=1,
                  label="target: 1.5 x idle one-thread fit")
    right.set_xticks(range(len(fits)), labels)
    right.set_ylim(0, 1.9 * fits[0]["fit_s"])
    _label(right, "Default fits", ylabel="fit seconds (lower is better)", xsize=6.5)
    right.legend(fontsize=6.5, loc="upper left", ncol=2)
    caption = ("Kernel seconds relative to one thread against torch's thread count, idle and with one core "
               "busy, and the default fits' seconds (one run each), drawn from ``threads.csv``.")
    return fig, caption


def density(rows):
    """KL to the true density per dimension (with its standard error) and the normalisation check."""
    models = _unique(rows, "model")
    with_kl = _unique(rows, "dataset", lambda r: r.get("KL") is not None)
    two_d = _unique(rows, "dataset", lambda r: r.get("integral") is not None)
    fig, (left, right) = _figure(1, 2, 3.9, "Density accuracy: ours against the peers",
                                 gridspec_kw={"width_ratios": [1.4, 1]})

    def kl(s, m):
        r = _find(rows, dataset=s, model=m)
        return None if r is None or r.get("KL") is None else (r["KL"] / r["d"], r["KL_se"] / r["d"])

    _dodged(left, with_kl, models, kl)
    left.set_yscale("symlog", linthresh=1e-3)
    per_dim = [r["KL_per_dim"] for r in rows if r.get("KL_per_dim") is not None] or [0.0]
    left.set_ylim(min(-2e-3, 2 * min(per_dim)), max(2e-3, 2 * max(per_dim)))
    left.axhline(0, color="0.5", lw=0.8)
    _label(left, "Distance to the true density", ylabel="KL(true || model) per dimension\n"
           "(nats, symlog; lower is better)")
    _dodged(right, two_d, models, _lookup(rows, "integral", "dataset", "model"))
    for bound in (0.98, 1.02):
        right.axhline(bound, color="0.5", lw=0.8, ls="--")
    right.set_ylim(0.97, 1.03)
    _label(right, "Normalisation, 2-D sets",
           ylabel="integral of exp(score_samples)\n(target 1 +/- 0.02, dashed)")
    _legend_below(fig, left, ncol=len(models))
    caption = ("KL divergence from the true density per dimension (± standard error over the scored rows) "
               "and the integral of the density on the 2-D sets, ours against the peers, drawn from "
               "``density.csv``.")
    return fig, caption


def tabular(rows):
    """ForestDiffusion's W1 to the test rows and train-on-synthetic balanced accuracy per table, real data as lines."""
    tables = _unique(rows, "table")
    models = _unique(rows, "model", lambda r: r["model"] != "real data")
    fig, (left, right) = _figure(1, 2, 4.4, "Tabular augmentation: ours against ForestFlow, SMOTE, GMM and SDV")
    panels = ((left, "W1_test", "W1 to the test rows", "ForestDiffusion's W1 to the test rows\n(lower is better)"),
              (right, "TSTR_bal_acc4", "Train on synthetic, test on real",
               "balanced accuracy, four classifiers trained\non synthetic rows (higher is better)"))
    for ax, column, title, ylabel in panels:
        value = _lookup(rows, column, "table", "model")
        _dodged(ax, tables, models, value)
        for i, t in enumerate(tables):
            real, _ = value(t, "real data")
            if real is not None:
                ax.hlines(real, i - 0.42, i + 0.42, color="k", lw=1.5, zorder=0,
                          label="real data" if i == 0 else None)
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        _label(ax, title, ylabel=ylabel)
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=5, fontsize=8, frameon=False)
    caption = ("ForestDiffusion's W1 to the real test rows and the balanced accuracy of four classifiers trained on "
               "each model's synthetic rows (the real training rows' as lines), per table, means over the seeds "
               "run (bars: standard errors), drawn from "
               "``tabular.csv``.")
    return fig, caption


def privacy(rows):
    """DCR ratio and membership advantage (density and samples) per data set, chance marked."""
    sets, models = _unique(rows, "dataset"), _unique(rows, "model")
    fig, axes = _figure(1, 3, 3.8, "What a fitted model reveals: ours against KDE and GMM")
    panels = (("DCR ratio", "DCR ratio (near 1 is good;\nbelow 1: copying)", "Copying"),
              ("MIA (density)", "membership advantage\n(lower is better)", "Attacker with the model"),
              ("MIA (samples)", "membership advantage\n(lower is better)", "Attacker with 5,000 samples"))
    for ax, (column, ylabel, title) in zip(axes, panels):
        _dodged(ax, sets, models, _lookup(rows, column, "dataset", "model"),
                ticks=[s.replace("_", "_\n") for s in sets])
        if column == "DCR ratio":
            ax.axhline(1, color="0.5", lw=0.8)
        else:
            for i, s in enumerate(sets):
                ax.hlines(_find(rows, dataset=s)["chance"], i - 0.42, i + 0.42, color="k", lw=1.5,
                          zorder=0, label="chance level" if i == 0 else None)
        _label(ax, title, ylabel=ylabel)
    _legend_below(fig, axes[1], ncol=len(axes[1].get_legend_handles_labels()[1]))
    caption = ("DCR ratio of 5,000 samples and the advantage of a membership attacker holding the model or "
               "its samples (chance level as a line), per data set, drawn from ``privacy.csv``.")
    return fig, caption


def oversampling(rows):
    """Balanced accuracy and minority-class F1 after each sampler, per table: one row of panels per classifier."""
    tables, methods = _unique(rows, "table"), _unique(rows, "method")
    classifiers = _unique(rows, "classifier")
    fig, axes = _figure(len(classifiers), 2, 3.4 * len(classifiers),
                        "Over-sampling before a classifier: ours against SMOTE, SMOTENC and none")
    axes = np.asarray(axes).reshape(len(classifiers), 2)
    for row_axes, classifier in zip(axes, classifiers):
        here = [r for r in rows if r.get("classifier") == classifier]
        for ax, column in zip(row_axes, ("balanced accuracy", "minority F1")):
            _dodged(ax, tables, methods, _lookup(here, column, "table", "method"))
            _label(ax, f"{classifier}: {column}", ylabel=f"test {column}\n(higher is better)")
    _legend_below(fig, axes[-1, 0], ncol=len(methods))
    caption = ("Test balanced accuracy and minority-class F1 of each classifier (a row of panels each) after each "
               "sampler, mean and standard error over the seeds, per table, drawn from ``oversampling.csv``.")
    return fig, caption


def sampler(rows):
    """Per target: W2 and energy TV to exact samples, and mode coverage, per sampler."""
    targets = _unique(rows, "target")
    fig, axes = _figure(len(targets), 3, 3.4 * len(targets), "Sampling from a log-density: ours against reverse KL, MALA and "
                                               "exact samples")
    axes = np.asarray(axes).reshape(len(targets), 3)
    for row_axes, target in zip(axes, targets):
        here = [r for r in rows if r["target"] == target]
        models = _unique(here, "model")
        ticks = [m.replace("reverse KL ", "rev. KL\n") for m in models]
        for ax, (column, ylabel) in zip(row_axes[:2], (("W2", "W2 to 2,000 exact rows\n(lower is better)"),
                                                      ("energy TV", "energy-histogram TV\n(lower is better)"))):
            for j, m in enumerate(models):
                r = _find(here, model=m)
                ax.errorbar([j], [r[column]], yerr=[r.get(f"{column} se") or 0], fmt=MARKERS[j % len(MARKERS)],
                            color=f"C{j}", ms=7, capsize=3)
            ax.set_xticks(range(len(models)), ticks, fontsize=7)
            ax.grid(True, axis="y", lw=0.3)
            _label(ax, f"{target}: {column}", ylabel=ylabel)
        ax = row_axes[2]
        if _find(here, model=models[0]).get("min mode share x40") is not None:
            for j, m in enumerate(models):
                r = _find(here, model=m)
                ax.vlines(j, r["min mode share x40"], r["max mode share x40"], color=f"C{j}", lw=6)
            ax.axhspan(0.5, 1.5, color="0.9", zorder=0, label="target band")
            ax.axhline(1, color="0.5", lw=0.8)
            _label(ax, f"{target}: modes", ylabel="share of each of the 40 modes x 40\n(min to max; 1 is exact)")
        else:
            for j, m in enumerate(models):
                ax.bar(j, _find(here, model=m)["max deep-well error"], color=f"C{j}")
            ax.axhline(0.03, color="k", lw=1, ls="--", label="target 0.03")
            _label(ax, f"{target}: wells", ylabel="largest error of a deep-well\nprobability (lower is better)")
        ax.set_xticks(range(len(models)), ticks, fontsize=7)
        ax.legend(fontsize=7, loc="upper right")
    caption = ("Per target, W2 and energy-histogram TV of 2,000 rows against 2,000 exact rows (mean and standard "
               "error over the repeats), and mode coverage (MoG-40: the range of the 40 modes' shares; "
               "Many-Well-32: the largest error of the 16 deep-well probabilities), per sampler, drawn from "
               "``sampler.csv``.")
    return fig, caption


def grid_columns(rows):
    """W1 to the test rows, grid-column W1 and the off-grid share, per decoding (mean over seeds)."""
    names = _unique(rows, "decoding")
    fig, axes = _figure(1, 3, 3.4, "Grid columns on ISLR OJ: snapped together, column by column, or not")
    for ax, (column, ylabel) in zip(axes, (("W1", "W1 to the test rows\n(lower is better)"),
                                           ("grid-column W1", "mean W1 of a grid column\n(lower is better)"),
                                           ("off-grid share", "share of never-observed\ngrid values"))):
        for j, name in enumerate(names):
            ax.bar(j, _mean_se([r[column] for r in rows if r["decoding"] == name])[0], color=f"C{j}")
        short = {"combinations snapped (default)": "joint\n(default)",
                 "discrete_combinations=False": "column\n(False)", "discrete_levels=None": "off\n(None)",
                 "real training rows": "real\nrows"}
        ax.set_xticks(range(len(names)), [short.get(n, n) for n in names], fontsize=7)
        _label(ax, column, ylabel=ylabel)
    caption = ("W1 of synthetic rows to the test rows, the mean W1 of the grid columns, and the share of sampled "
               "grid values never observed in training, per decoding, mean over the seeds, drawn from "
               "``grid_columns.csv``.")
    return fig, caption


def teachers(rows, name="teachers"):
    """Per data set, each teacher's model log-likelihood minus the quality page's best peer's."""
    names, kinds = _unique(rows, "dataset"), _unique(rows, "teacher")
    fig, ax = _figure(1, 1, 4.2, "Teachers: our model's test log-likelihood minus the best peer's")
    width = 0.8 / len(kinds)
    for j, kind in enumerate(kinds):
        gap = [next((r["model - best peer"] for r in rows if r["dataset"] == n and r["teacher"] == kind), np.nan)
               for n in names]
        ax.bar(np.arange(len(names)) + (j - (len(kinds) - 1) / 2) * width, gap, width, color=f"C{j}", label=kind)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_yscale("symlog", linthresh=0.05)
    ax.set_xticks(range(len(names)), names, fontsize=7)
    ax.legend(fontsize=7)
    _label(ax, "", ylabel="nats (above 0: we win)")
    caption = ("Test log-likelihood of our model, fitted with each teacher (its other parameters as the page says), "
               "minus the best of a tuned "
               f"KDE, GMM and NSF on the quality page (symmetric log scale), drawn from ``{name}.csv``.")
    return fig, caption


def fine_tuning(rows):
    """Per data set, each variant's test log-likelihood against its fit time; the best peer's as a line."""
    names, variants = _unique(rows, "dataset"), _unique(rows, "variant")
    fig, axes = _panels(len(names), 3, 2.3, "Fine-tuning against the sharper teacher: log-likelihood and fit time",
                        "test log-likelihood (nats)")
    for ax, name in zip(axes.flat, names):
        for j, variant in enumerate(variants):
            r = _find(rows, dataset=name, variant=variant)
            if r is not None:
                ax.scatter(r["fit s"], r["test loglik"], marker=MARKERS[j], color=f"C{j}", label=variant)
        peer = _find(rows, dataset=name)
        if peer is not None and peer["best peer"]:
            ax.axhline(peer["best peer loglik"], color="k", ls="--", lw=0.8, label="best peer")
        _label(ax, name, xlabel="fit s")
    _legend_below(fig, axes.flat[0], ncol=4)
    caption = ("Test log-likelihood of each variant against its fit seconds per data set; the dashed "
               "line is the quality page's best of a tuned KDE, GMM and NSF, drawn from ``fine_tuning.csv``.")
    return fig, caption


#: Page name -> drawing function of its opening figure: rows of ``<name>.csv`` -> (figure, caption).
DRAW = {
    "quality": quality,
    "time_to_quality": time_to_quality,
    "speed": speed,
    "scaling": scaling,
    "labelling": labelling,
    **{page: functools.partial(settings, name=page)
       for page in ("solver_defaults", "training_defaults", "label_count", "label_count_small", "label_count_wide",
                    "epochs_small", "epochs_large", "epochs_real")},
    "threads": threads,
    "density": density,
    "tabular": tabular,
    "privacy": privacy,
    "oversampling": oversampling,
    "sampler": sampler,
    "grid_columns": grid_columns,
    "teachers": teachers,
    "teachers_gmm": functools.partial(teachers, name="teachers_gmm"),
    "teachers_wide": functools.partial(teachers, name="teachers_wide"),
    "fine_tuning": fine_tuning,
}


# ------------------------------------------------------------------------ rst placing
def opening_figure(name: str, out: Path = DOC_DIR) -> str | None:
    """Draw page ``name``'s figure from ``out/<name>.csv`` into ``out/<name>.png``; its directive.

    Returns None for a page without a drawing function in :data:`DRAW`.
    """
    if name not in DRAW:
        return None
    fig, caption = DRAW[name](read_csv(name, out))
    return save_figure(fig, name, caption.split(", drawn from")[0], out, caption=caption)


def place(page: str, name: str, directive: str | None) -> str:
    """``page`` with ``directive`` right after its header's field list.

    Any earlier ``.. figure::`` or ``.. image::`` of ``<name>.png`` is taken out first, so
    that placing a redrawn figure again changes only the figure. None leaves ``page`` as it is.
    """
    if directive is None:
        return page
    lines, kept, skipping = page.split("\n"), [], False
    start = re.compile(rf"\.\. (figure|image):: {re.escape(name)}\.png\s*$")
    for line in lines:
        if start.match(line):
            skipping = True
        elif skipping and (not line.strip() or line.startswith(" ")):
            continue  # the directive's options, caption and the blank lines after it
        else:
            skipping = False
        if not skipping:
            kept.append(line)
    end = next((i for i, line in enumerate(kept) if line.startswith(":Command:")), None)
    if end is None:
        end = 3  # no header: after the title
    while end < len(kept) and kept[end].startswith(":"):
        end += 1  # the header's fields (report.page_header)
    rest = kept[end:]
    while rest and not rest[0].strip():
        rest.pop(0)
    return "\n".join(kept[:end] + [""] + directive.rstrip("\n").split("\n") + [""] + rest)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"pages to redraw (default: {', '.join(DRAW)})")
    parser.add_argument("--out", type=Path, default=DOC_DIR, help="folder of the pages and their csv files")
    args = parser.parse_args(argv)
    for name in args.names or DRAW:
        page = args.out / f"{name}.rst"
        if not page.exists() or not (args.out / f"{name}.csv").exists():
            print(f"{name}: no {name}.rst or {name}.csv in {args.out}; skipped")
            continue
        page.write_text(place(page.read_text(), name, opening_figure(name, args.out)))
        print(f"{name}: drew {name}.png from {name}.csv into {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
