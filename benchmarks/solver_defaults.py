"""How the defaults were chosen: held-out log-likelihood and fit time per setting of a few parameters.

Each setting (``solver/n_steps``, or ``key=value`` pairs joined by commas) fits
``DiffusionSupervisedGenerator(**setting, random_state=seed)`` (every other parameter at its
default) on the standardised training split of ``load_split(name, n_samples=N,
random_state=0)`` (``--n-samples``, 4,000 by default; real sets such as wine: all their
rows) and scores at most ``--max-test`` (500) test rows. An upper-case key sets a constant of
``sklearn_diffgen._estimator`` for the fit instead (``LABELS_PER_VALUE=20``). The page gives the mean test log-likelihood per data set and setting,
the same-seed difference of each setting against the reference (the first one), with its
standard error and its range, and the labelling seconds (``fit_times_["labelling"]``). The
defaults are the fastest setting whose difference is within the seed-to-seed noise.

Run: ``python benchmarks/solver_defaults.py [--datasets a,b] [--seeds 0,1] [--settings
"dpmpp_2m/20;dpmpp_3m/11"] [--page solver_defaults] [--threads N] [--out DIR]``, settings separated by
semicolons, e.g. ``--settings "n_iter_no_change=10,max_iter=200;n_iter_no_change=30,max_iter=400"
--page training_defaults``; ``--from-csv FILE`` re-renders the page from raw rows saved by an
earlier run (columns dataset, seed, setting or solver and n_steps, test_ll, label_s, fit_s).
"""

from __future__ import annotations

import ast
import contextlib
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.preprocessing import StandardScaler

from report import (docstring_body, make_parser, page_header, parse_args, publish, read_csv, rst_table,
                    section)
import sklearn_diffgen._estimator as estimator_module
from sklearn_diffgen import DiffusionSupervisedGenerator, InversionWarning
from sklearn_diffgen.datasets import REAL_DATASETS, load_split

DATASETS = "moons,8gaussians,checkerboard,rings,gaussian5,wine"
SETTINGS = "dpmpp_2m/20;dpmpp_3m/21;dpmpp_3m/16;dpmpp_3m/11"
#: The page's two tables of same-seed differences: the differences, then the seconds.
DIFF_TABLES = (["setting", "pairs", "mean_diff", "se", "min", "max", "worse_in"],
               ["setting", "label_s_median", "fit_s_median", "unconverged_mean"])
#: Titles of the pages this script writes (``--page``); another page is titled by its name.
TITLES = {"solver_defaults": "Solver defaults", "training_defaults": "Training defaults",
          "label_count": "Label count", "label_count_small": "Label count on small data sets",
          "epochs_small": "Epochs and step size on small data sets",
          "epochs_large": "Epochs and step size on 4,000 rows",
          "epochs_real": "Epochs and step size on wine and breast cancer"}


def parse_setting(text: str) -> dict:
    """``"dpmpp_3m/11"`` or ``"n_iter_no_change=30,whiten=False"`` as estimator parameters.

    Commas inside brackets belong to the value: ``"hidden_layer_sizes=(256,256),teacher=gmm"``.

    >>> parse_setting("hidden_layer_sizes=(256,256),teacher=gmm")
    {'hidden_layer_sizes': (256, 256), 'teacher': 'gmm'}
    """
    if "/" in text:
        solver, steps = text.split("/")
        return {"solver": solver, "n_steps": int(steps)}
    params = {}
    for pair in re.split(r",(?![^()\[\]]*[)\]])", text):
        key, value = pair.split("=")
        try:  # numbers, booleans and None; anything else is a string
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return params


def setting_key(row: dict) -> str:
    return row["setting"] if row.get("setting") else f"{row['solver']}/{int(row['n_steps'])}"


@contextlib.contextmanager
def estimator_constants(constants: dict):
    """Set module constants of ``sklearn_diffgen._estimator`` (upper-case setting keys) for a fit."""
    saved = {k: getattr(estimator_module, k) for k in constants}
    for k, v in constants.items():
        setattr(estimator_module, k, v)
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(estimator_module, k, v)


def measure(datasets, seeds, settings, n_samples=4000, max_test=500) -> list[dict]:
    rows = []
    for name in datasets:
        data = load_split(name, random_state=0, **({} if name in REAL_DATASETS else {"n_samples": n_samples}))
        sc = StandardScaler().fit(data.train)
        train, test = sc.transform(data.train), sc.transform(data.test)[:max_test]
        for seed in seeds:
            for text in settings:
                params = parse_setting(text)
                constants = {k: params.pop(k) for k in list(params) if k.isupper()}
                model = DiffusionSupervisedGenerator(**params, random_state=seed)
                with warnings.catch_warnings(record=True) as caught, estimator_constants(constants):
                    warnings.simplefilter("always")
                    t0 = time.perf_counter()
                    model.fit(train)
                    fit_s = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    ll = model.score(test)
                    score_s = time.perf_counter() - t0
                failed = sum(w.message.n_failed for w in caught if issubclass(w.category, InversionWarning))
                rows.append(dict(dataset=name, seed=seed, setting=text, test_ll=ll,
                                 label_s=model.fit_times_["labelling"], fit_s=fit_s, epochs=model.n_iter_,
                                 n_labels=model.n_labels_, unconverged=failed / len(test), score_s=score_s))
                print(rows[-1], flush=True)
    return rows


def summarise(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """Mean test log-likelihood per (data set, setting), and paired differences to the first setting."""
    key = setting_key
    settings = list(dict.fromkeys(key(r) for r in rows))
    ref = settings[0]
    means = []
    for name in dict.fromkeys(r["dataset"] for r in rows):
        row = {"dataset": name}
        for s in settings:
            vals = [float(r["test_ll"]) for r in rows if r["dataset"] == name and key(r) == s]
            row[s] = float(np.mean(vals)) if vals else None
        means.append(row)
    by = {(r["dataset"], int(r["seed"]), key(r)): r for r in rows}
    diffs = []
    for s in settings[1:]:
        d = [float(by[k[0], k[1], s]["test_ll"]) - float(by[k]["test_ll"]) for k in by
             if k[2] == ref and (k[0], k[1], s) in by and k[0] != "wine"]
        if not d:  # a setting measured on wine only: its means are in the first table
            diffs.append({"setting": s, "pairs": 0})
            continue
        diffs.append({"setting": s, "pairs": len(d), "mean_diff": float(np.mean(d)),
                      "se": float(np.std(d, ddof=1) / np.sqrt(len(d))) if len(d) > 1 else None,
                      "min": float(np.min(d)), "max": float(np.max(d)),
                      "worse_in": int(np.sum(np.asarray(d) < 0))})
    diffs.insert(0, {"setting": ref})
    for row in diffs:
        mine = [r for r in rows if key(r) == row["setting"]]
        row["label_s_median"] = float(np.median([float(r["label_s"]) for r in mine]))
        row["fit_s_median"] = float(np.median([float(r["fit_s"]) for r in mine]))
        if all(r.get("unconverged") not in (None, "") for r in mine):
            row["unconverged_mean"] = float(np.mean([float(r["unconverged"]) for r in mine]))
    return means, diffs


def diff_tables(diffs: list[dict]) -> str:
    """The rst tables of :data:`DIFF_TABLES` over the rows of ``summarise``'s differences."""
    return "\n".join(rst_table(diffs, [c for c in cols if any(c in r for r in diffs)], floatfmt="{:.4g}")
                     for cols in DIFF_TABLES)


def main(argv=None) -> int:
    parser = make_parser(__doc__, quick=False, seed=False)  # --seeds, --n-samples and --max-test size the run
    parser.add_argument("--datasets", default=DATASETS)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--settings", default=SETTINGS)
    parser.add_argument("--from-csv", default=None)
    parser.add_argument("--note", default="", help="a line about the rows read by --from-csv")
    parser.add_argument("--n-samples", type=int, default=4000, help="rows of each synthetic set")
    parser.add_argument("--max-test", type=int, default=500, help="test rows scored")
    parser.add_argument("--page", default="solver_defaults", help="name of the page and csv written")
    args = parse_args(parser, argv)
    start = time.perf_counter()
    if args.from_csv:
        rows = read_csv(Path(args.from_csv).stem, Path(args.from_csv).parent)
    else:
        rows = measure(args.datasets.split(","), [int(s) for s in args.seeds.split(",")],
                       args.settings.split(";"), args.n_samples, args.max_test)
    elapsed = time.perf_counter() - start
    means, diffs = summarise(rows)
    title = TITLES.get(args.page, args.page.replace("_", " ").capitalize())
    page = page_header(title, args.command, None if args.from_csv else elapsed)
    page += docstring_body(__doc__) + "\n\n"
    if args.from_csv:
        page += f"Rows read from ``{args.from_csv}`` (the machine line above is the re-rendering one). {args.note}\n\n"
    page += section("Mean test log-likelihood (nats, standardised units)")
    page += rst_table(means, floatfmt="{:.4f}") + "\n\n"
    page += section("Same-seed difference against the first setting (all sets but wine)")
    page += diff_tables(diffs) + "\n"
    publish(args.page, page, rows, elapsed, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
