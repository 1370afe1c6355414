"""How the fit cost of DiffusionSupervisedGenerator grows with n_samples, n_features, n_labels and n_steps.

One factor at a time around a base configuration (2,000 training rows of a correlated 2-D
Gaussian, 10,000 labels, 20 steps of the dpmpp_2m solver (the default before dpmpp_3m with
11 steps; kept so that the pages compare), exact score,
bandwidth 0.3 in standardised units), the labelling and training seconds of ``fit_times_``
(median of ``--repeats`` fits), on a log-log plot with the fitted slopes
:math:`\\partial \\log t / \\partial \\log x`.

Training runs a fixed number of epochs (early stopping off: 20 epochs, 5 in ``--quick``), so
that its time measures the cost per epoch times a constant rather than when the validation
loss happened to stop improving; a default fit stops early, after a data-dependent number of
epochs. The bandwidth is fixed too, so no cross-validation time is included and the
labelling ends at the same time t for every configuration. Labelling costs
:math:`O(n_\\text{labels} \\times n_\\text{samples} \\times n_\\text{steps})` score terms, so its
slopes against those three are expected near 1 (lower while fixed overheads dominate);
training depends on n_labels (rows per epoch) and a little on n_features, not on
n_samples or n_steps.

Run: ``python benchmarks/scaling.py --quick`` (3 values per factor, 1 fit each, 5 epochs):
36 s measured on 2 cores with ``--threads 1`` while other jobs shared the machine; or
``python benchmarks/scaling.py`` (full mode: 6 + 4 + 4 + 4 configurations, 3 fits each, 20
epochs): about 6 minutes on 2 cores, estimated from the quick run. Writes ``scaling.rst``,
``scaling.png`` and ``scaling.csv`` to ``--out`` (``doc/benchmarks`` by default).

On a machine shared with other jobs, pass ``--threads 1``: with torch's default of one thread
per core, training there was up to 20 times slower and erratic (OpenMP threads waiting on each
other), which makes the training slopes meaningless.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np

from report import (docstring_body, make_parser, page_header, parse_args, print_table, publish, rst_table,
                    save_figure, section)
from sklearn_diffgen import DiffusionSupervisedGenerator
from sklearn_diffgen.datasets import make_correlated_gaussian

BASE = dict(n_samples=2000, n_features=2, n_labels=10_000, n_steps=20)
FACTORS = {
    "n_samples": [500, 1000, 2000, 4000, 8000, 16000],
    "n_features": [2, 4, 8, 16, 32],
    "n_labels": [2500, 5000, 10_000, 20_000, 40_000],
    "n_steps": [5, 10, 20, 40, 80],
}
QUICK_FACTORS = {
    "n_samples": [500, 2000, 8000],
    "n_features": [2, 8, 32],
    "n_labels": [2500, 10_000, 20_000],
    "n_steps": [5, 20, 80],
}
BANDWIDTH = 0.3


def fit_cost(config: dict, epochs: int, seed: int) -> dict:
    """Seconds of labelling and generator training of one fit."""
    X = make_correlated_gaussian(config["n_samples"], config["n_features"], random_state=seed)
    est = DiffusionSupervisedGenerator(BANDWIDTH, n_labels=config["n_labels"], n_steps=config["n_steps"],
                                       solver="dpmpp_2m", max_iter=epochs, early_stopping=False, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: the epoch count is fixed on purpose
        est.fit(X)
    t = est.fit_times_
    return {"labelling": t["labelling"], "training": t["training"]}


def measure(factors, repeats, epochs, seed):
    """One row per (factor, value); the base configuration is fitted once and shared."""
    # a throwaway fit first: the first fit of a process pays torch's one-off start-up costs
    fit_cost(dict(BASE, n_samples=200, n_labels=500, n_steps=2), 1, seed)
    cache, rows = {}, []
    for factor, values in factors.items():
        for value in values:
            config = dict(BASE, **{factor: value})
            key = tuple(sorted(config.items()))
            if key not in cache:
                runs = [fit_cost(config, epochs, seed + r) for r in range(repeats)]
                cache[key] = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
                print(f"  {factor}={value}: " + ", ".join(f"{k} {v:.2f} s" for k, v in cache[key].items()),
                      flush=True)
            c = cache[key]
            rows.append({"factor": factor, "value": value, "labelling s": c["labelling"],
                         "training s": c["training"],
                         "fit s": c["labelling"] + c["training"]})
    base = cache[tuple(sorted(BASE.items()))]
    base_total = sum(base.values())
    for row in rows:
        row["fit / base"] = row["fit s"] / base_total
    return rows


def slopes(rows):
    """Least-squares slope of log seconds against log value, per factor."""
    out = []
    for factor in dict.fromkeys(r["factor"] for r in rows):
        sub = [r for r in rows if r["factor"] == factor]
        x = np.log([r["value"] for r in sub])
        fit = {"factor": factor, "range": f"{sub[0]['value']:,} .. {sub[-1]['value']:,}"}
        for col, label in (("labelling s", "labelling slope"), ("training s", "training slope"),
                           ("fit s", "fit slope")):
            y = [r[col] for r in sub]
            fit[label] = float(np.round(np.polyfit(x, np.log(y), 1)[0], 2)) + 0.0  # + 0.0: no "-0.00"
        out.append(fit)
    return out


def plot(rows, fitted):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    factors = list(dict.fromkeys(r["factor"] for r in rows))
    fig, axes = plt.subplots(1, len(factors), figsize=(4 * len(factors), 3.4), sharey=True)
    for ax, factor, fit in zip(np.atleast_1d(axes), factors, fitted):
        sub = [r for r in rows if r["factor"] == factor]
        x = [r["value"] for r in sub]
        ax.loglog(x, [r["labelling s"] for r in sub], "o-",
                  label=f"labelling (slope {fit['labelling slope']:.2f})")
        ax.loglog(x, [r["training s"] for r in sub], "s-",
                  label=f"training (slope {fit['training slope']:.2f})")
        ax.axvline(BASE[factor], color="0.7", lw=1, ls=":")
        ax.set_xticks(x, [f"{v:,}" for v in x])  # the measured values, no minor-tick labels
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel(factor)
        ax.legend(fontsize=8)
        ax.grid(True, which="both", lw=0.3)
    np.atleast_1d(axes)[0].set_ylabel("seconds")
    fig.tight_layout()
    return fig


def main(argv=None):
    parser = make_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=None, help="fits per configuration (3; 1 with --quick)")
    args = parse_args(parser, argv)
    repeats = args.repeats or (1 if args.quick else 3)
    epochs = 5 if args.quick else 20
    start = time.perf_counter()
    rows = measure(QUICK_FACTORS if args.quick else FACTORS, repeats, epochs, args.seed)
    fitted = slopes(rows)
    figure = save_figure(plot(rows, fitted), "scaling",
                         alt="fit seconds against each factor, log-log, with fitted slopes", out=args.out)
    elapsed = time.perf_counter() - start

    intro = docstring_body(__doc__)
    cost_text = (f"Seconds (median of {repeats} fit{'s' if repeats > 1 else ''}; {epochs} epochs for "
                 "the generator); ``fit / base`` is the total against the base configuration.")
    slope_text = "Least-squares slopes of log seconds against log value over each sweep."
    print_table(rows, floatfmt="{:.3g}", title="Fit cost")
    print_table(fitted, floatfmt="{:.2f}", title="Fitted slopes")
    page = (page_header("Scaling of the fit", args.command, elapsed) + intro + "\n\n"
            + section("Fit cost") + cost_text + "\n\n" + rst_table(rows, floatfmt="{:.3g}") + "\n"
            + section("Slopes") + slope_text + "\n\n" + rst_table(fitted, floatfmt="{:.2f}") + "\n"
            + figure)
    publish("scaling", page, rows, elapsed, args.out)


if __name__ == "__main__":
    sys.exit(main())
