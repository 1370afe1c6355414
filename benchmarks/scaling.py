"""How the fit cost of DiffusionSupervisedGenerator grows with n_samples, n_features, n_labels and n_steps.

One factor at a time around a base configuration (2,000 training rows of a correlated 2-D
Gaussian, 10,000 labels, 20 steps of the dpmpp_2m solver (the default before dpmpp_3m with
11 steps; kept so that the pages compare), exact score,
bandwidth 0.3 in standardised units), the labelling and training seconds of ``fit_times_``
(median of ``--repeats`` fits), on a log-log plot (the page's figure, ``benchmarks/figures.py``),
with the fitted slopes :math:`\\partial \\log t / \\partial \\log x`.

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

**Labelling on Dask workers** (when ``dask[distributed]`` imports; ``--no-dask`` skips it):
the labels of a 20,000 x 10 correlated Gaussian (bandwidth 0.3, the default solver and steps,
exact score; 8 tasks of 4,096 labels, 16 in full mode) made by ``make_labels_parallel`` in
one process on one thread, then under ``joblib.parallel_config(backend="dask")`` on a
``LocalCluster`` of 1, 2 and 4 single-threaded worker processes, with the labels checked to
be bitwise equal to the one-process ones. From the per-worker rate (labels x data rows a
second) of the 2-worker cluster, a **projection** (computed, not measured) of the labelling
of a 1e7-row, 10-column default fit (``n_labels="auto"``: 10,000 labels) on 32 such workers.

On a machine shared with other jobs, pass ``--threads 1``: with torch's default of one thread
per core, training there was up to 20 times slower and erratic (OpenMP threads waiting on each
other), which makes the training slopes meaningless.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import torch

from report import (docstring_body, make_parser, page_header, parse_args, print_table, publish, rst_table,
                    section)
from sklearn_diffgen import DiffusionSupervisedGenerator
from sklearn_diffgen._estimator import _auto_labels
from sklearn_diffgen.datasets import make_correlated_gaussian
from sklearn_diffgen.labeling import LABEL_CHUNK, make_labels_parallel
from sklearn_diffgen.schedules import SCHEDULES
from sklearn_diffgen.teacher import Teacher

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


DASK_DATA, DASK_WORKERS, PROJECTED = (20_000, 10), (1, 2, 4), dict(rows=10**7, d=10, workers=32)


def measure_dask(quick: bool, seed: int):
    """Labelling rate in one process and on LocalClusters of DASK_WORKERS workers; the projection."""
    from distributed import Client, LocalCluster
    from joblib import parallel_config

    n, d = DASK_DATA
    data = torch.as_tensor(make_correlated_gaussian(n, d, random_state=seed))
    data = (data - data.mean(0)) / data.std(0)
    teacher, n_labels = Teacher(data, BANDWIDTH), (8 if quick else 16) * LABEL_CHUNK
    est = DiffusionSupervisedGenerator()
    label = dict(teacher=teacher, n_labels=n_labels, schedule=SCHEDULES[est.schedule], n_steps=est.n_steps,
                 seed=seed, solver=est.solver)
    t0 = time.perf_counter()
    _, ref = make_labels_parallel(**label)
    rows = [{"where": "one process, one thread", "workers": 1, "seconds": time.perf_counter() - t0, "same labels": True}]
    for workers in DASK_WORKERS:
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster), parallel_config(backend="dask"):
            t0 = time.perf_counter()
            _, lab = make_labels_parallel(**label, n_jobs=-1)
            rows.append({"where": f"Dask LocalCluster, {workers} worker{'s' if workers > 1 else ''}",
                         "workers": workers, "seconds": time.perf_counter() - t0,
                         "same labels": bool(torch.equal(lab, ref))})
        print(rows[-1], flush=True)
    for r in rows:
        r["labels/s"] = n_labels / r["seconds"]
        r["speed-up"] = rows[0]["seconds"] / r["seconds"]
    per_worker = n_labels * n / rows[2]["seconds"] / DASK_WORKERS[1]  # (labels x data rows) / s, 2-worker cluster
    m = _auto_labels(PROJECTED["rows"], PROJECTED["d"])
    seconds = m * PROJECTED["rows"] * (PROJECTED["d"] / d) / (PROJECTED["workers"] * per_worker)
    projection = {"fit": f"{PROJECTED['rows']:.0e} rows x {PROJECTED['d']}, n_labels={m:,}",
                  "workers": PROJECTED["workers"], "per-worker rate (labels x rows / s)": per_worker,
                  "projected labelling s": seconds}
    return rows, projection


def main(argv=None):
    parser = make_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=None, help="fits per configuration (3; 1 with --quick)")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask labelling rows")
    args = parse_args(parser, argv)
    repeats = args.repeats or (1 if args.quick else 3)
    epochs = 5 if args.quick else 20
    start = time.perf_counter()
    rows = measure(QUICK_FACTORS if args.quick else FACTORS, repeats, epochs, args.seed)
    fitted = slopes(rows)
    elapsed = time.perf_counter() - start

    intro = docstring_body(__doc__)
    cost_text = (f"Seconds (median of {repeats} fit{'s' if repeats > 1 else ''}; {epochs} epochs for "
                 "the generator); ``fit / base`` is the total against the base configuration.")
    slope_text = "Least-squares slopes of log seconds against log value over each sweep."
    print_table(rows, floatfmt="{:.3g}", title="Fit cost")
    print_table(fitted, floatfmt="{:.2f}", title="Fitted slopes")
    page = (page_header("Scaling of the fit", args.command, elapsed) + intro + "\n\n"
            + section("Fit cost") + cost_text + "\n\n" + rst_table(rows, floatfmt="{:.3g}") + "\n"
            + section("Slopes") + slope_text + "\n\n" + rst_table(fitted, floatfmt="{:.2f}") + "\n")
    try:
        import distributed  # noqa: F401
        dask_missing = None
    except ImportError as exc:
        dask_missing = f"dask[distributed] does not import ({exc})"
    if args.no_dask or dask_missing:
        page += section("Labelling on Dask workers") + f"Not run: {'--no-dask' if args.no_dask else dask_missing}.\n"
    else:
        dask_rows, projection = measure_dask(args.quick, args.seed)
        print_table(dask_rows, floatfmt="{:.3g}", title="Labelling on Dask workers")
        page += (section("Labelling on Dask workers")
                 + "Measured on this machine (its cores bound the speed-up: more workers than cores "
                   "share them).\n\n" + rst_table(dask_rows, floatfmt="{:.3g}") + "\n"
                 + section("Projection: a 1e7-row fit on 32 workers", "~")
                 + ("**A projection, not a measurement**: the labelling's cost grows as labels x data "
                    "rows x columns, divided over the workers at the per-worker rate of the 2-worker "
                    "cluster above. It assumes workers as fast as one core here, and leaves out sending "
                    "the data to each worker (1e7 x 10 float64: 800 MB each), the teacher's "
                    "cross-validation (on 2,000 rows) and the training, which runs in one process "
                    "(10 s for 10,000 labels on the 1e6-row fit of the labelling page).\n\n")
                 + rst_table([projection], floatfmt="{:.3g}") + "\n")
        elapsed = time.perf_counter() - start
    publish("scaling", page, rows, elapsed, args.out)


if __name__ == "__main__":
    sys.exit(main())
