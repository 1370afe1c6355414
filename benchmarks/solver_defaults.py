"""Which solver and step count the defaults use: held-out log-likelihood and labelling time per setting.

Each setting ``solver/n_steps`` fits ``DiffusionSupervisedGenerator(solver=..., n_steps=...,
random_state=seed)`` (every other parameter at its default) on the standardised training
split of ``load_split(name, n_samples=4000, random_state=0)`` (wine: all 178 rows) and scores
at most 500 test rows. The page gives the mean test log-likelihood per data set and setting,
the same-seed difference of each setting against the reference (the first one), with its
standard error and its range, and the labelling seconds (``fit_times_["labelling"]``). The
defaults are the fastest setting whose difference is within the seed-to-seed noise.

Run: ``python benchmarks/solver_defaults.py [--datasets a,b] [--seeds 0,1] [--settings
dpmpp_2m/20,dpmpp_3m/11] [--threads N]``; ``--from-csv FILE`` re-renders the page from raw
rows saved by an earlier run (columns dataset, seed, solver, n_steps, test_ll, label_s, fit_s).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import warnings

import numpy as np
from sklearn.preprocessing import StandardScaler

from report import page_header, publish, rst_table
from sklearn_diffgen import DiffusionSupervisedGenerator
from sklearn_diffgen.datasets import load_split

DATASETS = "moons,8gaussians,checkerboard,rings,gaussian5,wine"
SETTINGS = "dpmpp_2m/20,dpmpp_3m/21,dpmpp_3m/16,dpmpp_3m/11"


def measure(datasets, seeds, settings) -> list[dict]:
    rows = []
    for name in datasets:
        data = load_split(name, random_state=0, **({} if name == "wine" else {"n_samples": 4000}))
        sc = StandardScaler().fit(data.train)
        train, test = sc.transform(data.train), sc.transform(data.test)[:500]
        for seed in seeds:
            for solver, n_steps in settings:
                model = DiffusionSupervisedGenerator(solver=solver, n_steps=n_steps, random_state=seed)
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model.fit(train)
                    fit_s = time.perf_counter() - t0
                    ll = model.score(test)
                rows.append(dict(dataset=name, seed=seed, solver=solver, n_steps=n_steps, test_ll=ll,
                                 label_s=model.fit_times_["labelling"], fit_s=fit_s))
                print(rows[-1], flush=True)
    return rows


def summarise(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """Mean test log-likelihood per (data set, setting), and paired differences to the first setting."""
    key = lambda r: f"{r['solver']}/{int(r['n_steps'])}"  # noqa: E731
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
        lab = [float(r["label_s"]) for r in rows if key(r) == s]
        diffs.append({"setting": s, "pairs": len(d), "mean_diff": float(np.mean(d)),
                      "se": float(np.std(d, ddof=1) / np.sqrt(len(d))), "min": float(np.min(d)),
                      "max": float(np.max(d)), "worse_in": int(np.sum(np.asarray(d) < 0)),
                      "label_s_median": float(np.median(lab))})
    diffs.insert(0, {"setting": ref, "label_s_median": float(np.median(
        [float(r["label_s"]) for r in rows if key(r) == ref]))})
    return means, diffs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default=DATASETS)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--settings", default=SETTINGS)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--from-csv", default=None)
    parser.add_argument("--note", default="", help="a line about the rows read by --from-csv")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    if args.from_csv:
        with open(args.from_csv, newline="") as f:
            rows = list(csv.DictReader(f))
    else:
        settings = [(s.split("/")[0], int(s.split("/")[1])) for s in args.settings.split(",")]
        rows = measure(args.datasets.split(","), [int(s) for s in args.seeds.split(",")], settings)
    elapsed = time.perf_counter() - start
    means, diffs = summarise(rows)
    command = "python benchmarks/solver_defaults.py " + " ".join(argv if argv is not None else sys.argv[1:])
    page = page_header("Solver defaults", command.strip(), None if args.from_csv else elapsed)
    page += __doc__.split("\n\n", 1)[1].split("\nRun:")[0] + "\n\n"
    if args.from_csv:
        page += f"Rows read from ``{args.from_csv}`` (the machine line above is the re-rendering one). {args.note}\n\n"
    page += "Mean test log-likelihood (nats, standardised units)\n" + "-" * 51 + "\n\n"
    page += rst_table(means, floatfmt="{:.4f}") + "\n\n"
    page += "Same-seed difference against the first setting (2-D sets and gaussian5)\n" + "-" * 71 + "\n\n"
    page += rst_table(diffs, floatfmt="{:.4g}") + "\n"
    publish("solver_defaults", page, rows, elapsed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
