"""Time to quality: held-out log-likelihood against fit seconds, for ours at several budgets and the peers.

For each data set every model gets the same split (``load_split(name, n_samples=2500,
random_state=0)`` for the 2-D toys, so 2,000 training rows as on the speed page; wine whole),
standardised with the training split's ``StandardScaler``. Each fit is timed in this process
on the thread count of ``--threads``, and scored on the test and validation rows together (at
most 500). The models:

* **ours** -- ``DiffusionSupervisedGenerator(max_iter=E, random_state=seed)`` for each epoch
  budget E of ``--budgets`` (the cosine learning-rate decay spans E epochs, so each budget is a
  complete schedule); E = 150, the estimator's ``max_iter``, is the default (400 until
  2026-12-02, when the page was last run);
* **KDE** -- ``KernelDensity`` with the bandwidth chosen on the validation split over 20 values
  (``peers_sklearn.fit_kde_tuned``), the whole tuning timed;
* **GMM** -- full-covariance ``GaussianMixture``, 6 sizes in 1..64 chosen on the validation
  split (``peers_sklearn.fit_gmm_tuned``);
* **NSF** -- zuko's neural spline flow at its usual size (3 transforms, MADE (128, 128)),
  Adam with early stopping on the validation split, at most 200 epochs and 2,000 steps; left
  out, and the page says so, when zuko does not import.

A user with a time budget reads the summary: for each model and setting, the median fit
seconds and the mean held-out log-likelihood over the 2-D sets, and its difference from
the best peer on each set (negative: we lose).

Run: ``python benchmarks/time_to_quality.py [--quick] [--datasets a,b] [--budgets 25,50,100,150]
[--seed 0] [--threads 1] [--out DIR]``. ``--quick``: moons, rings and wine, budgets 50 and the default,
NSF capped at 30 epochs. Writes ``doc/benchmarks/time_to_quality.rst``, ``time_to_quality.png``
and ``time_to_quality.csv``.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
from sklearn.preprocessing import StandardScaler

from peers_flow import fit_nsf_tuned, zuko_missing
from peers_sklearn import fit_gmm_tuned, fit_kde_tuned, score_counting
from report import docstring_body, make_parser, page_header, parse_args, publish, rst_table, section
from sklearn_diffgen import DiffusionSupervisedGenerator
from sklearn_diffgen.datasets import TOY_DATASETS, load_split

TOY_ROWS, MAX_SCORED = 2500, 500
DEFAULT_BUDGET = DiffusionSupervisedGenerator().max_iter


def load(name: str, seed: int) -> dict:
    data = load_split(name, random_state=seed, **({"n_samples": TOY_ROWS} if name in TOY_DATASETS else {}))
    sc = StandardScaler().fit(data.train)
    test = np.vstack([data.test, data.validation])[:MAX_SCORED]
    return {"train": sc.transform(data.train), "val": sc.transform(data.validation), "test": sc.transform(test)}


def timed(fit):
    start = time.perf_counter()
    model = fit()
    return model, time.perf_counter() - start


def measure(name: str, split: dict, budgets, seed: int, nsf_bounds: dict | None, ours_params: dict) -> list[dict]:
    rows = []
    for budget in budgets:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: a short budget is the point
            params = {"max_iter": budget, **ours_params, "random_state": seed}  # --smoke's cap wins
            model, fit_s = timed(lambda: DiffusionSupervisedGenerator(**params).fit(split["train"]))
        ll, failed = score_counting(model, split["test"])
        label = "ours (default)" if budget == DEFAULT_BUDGET else f"ours, max_iter={budget}"
        rows.append(dict(dataset=name, model=label, fit_s=fit_s, test_ll=float(np.mean(ll)),
                         unconverged=failed, epochs=model.n_iter_))
    peers = [("KDE", lambda: fit_kde_tuned(split["train"], split["val"], 20)[0]),
             ("GMM", lambda: fit_gmm_tuned(split["train"], split["val"], 6, random_state=seed)[0])]
    if nsf_bounds is not None:
        peers.append(("NSF", lambda: fit_nsf_tuned(split["train"], split["val"], 1, random_state=seed,
                                                   **nsf_bounds)[0]))
    for label, fit in peers:
        model, fit_s = timed(fit)
        rows.append(dict(dataset=name, model=label, fit_s=fit_s,
                         test_ll=float(np.mean(model.score_samples(split["test"]))), unconverged=0))
    best_peer = max(r["test_ll"] for r in rows if not r["model"].startswith("ours"))
    for r in rows:
        r["vs best peer"] = r["test_ll"] - best_peer
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}, flush=True)
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    out = []
    for model in dict.fromkeys(r["model"] for r in rows):
        sub = [r for r in rows if r["model"] == model]
        toys = [r for r in sub if r["dataset"] in TOY_DATASETS]
        out.append({"model": model, "median fit s": float(np.median([r["fit_s"] for r in sub])),
                    "mean test ll (2-D)": float(np.mean([r["test_ll"] for r in toys])) if toys else np.nan,
                    "mean vs best peer (2-D)": float(np.mean([r["vs best peer"] for r in toys])) if toys else np.nan,
                    "worst vs best peer": float(min(r["vs best peer"] for r in sub)),
                    "sets": len(sub)})
    return out


def main(argv=None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--datasets", default=None, help="comma-separated (default: the 7 toys and wine)")
    parser.add_argument("--budgets", default=None, help="our epoch budgets (default 25,50,100 and the default max_iter)")
    args = parse_args(parser, argv)
    names = (args.datasets.split(",") if args.datasets else
             ["moons", "rings", "wine"] if args.quick else [*TOY_DATASETS, "wine"])
    budgets = [int(b) for b in args.budgets.split(",")] if args.budgets else (
        [50, DEFAULT_BUDGET] if args.quick else [25, 50, 100, DEFAULT_BUDGET])
    no_flow = zuko_missing()
    nsf_bounds = None if no_flow else dict(max_epochs=30 if args.quick else 200, max_steps=2000, patience=10)
    start = time.perf_counter()
    rows = []
    for name in names:
        rows += measure(name, load(name, args.seed), budgets, args.seed, nsf_bounds, args.ours_params)
    summary = summarise(rows)
    elapsed = time.perf_counter() - start
    page = page_header("Time to quality", args.command, elapsed) + docstring_body(__doc__) + "\n\n"
    if no_flow:
        page += f"NSF is left out: {no_flow}.\n\n"
    page += section("Summary") + ("Median fit seconds over the data sets; mean held-out log-likelihood "
                                  "(nats, standardised units) over the 2-D sets and its mean difference "
                                  "from the best peer of each set; the worst set's difference.\n\n")
    page += rst_table(summary, floatfmt="{:.4g}") + "\n"
    page += section("Every fit") + "``unconverged``: our rows whose inversion did not converge.\n\n"
    page += rst_table(rows, ["dataset", "model", "fit_s", "test_ll", "vs best peer", "epochs", "unconverged"],
                      "{:.4g}") + "\n"
    publish("time_to_quality", page, rows, elapsed, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
