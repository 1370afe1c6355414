"""Fine-tuning: maximum-likelihood fine-tuning of the generator against a sharper teacher, with fit times.

For each data set the script fits ``DiffusionSupervisedGenerator(random_state=seed, **variant)``
for each variant of ``VARIANTS``:

* **defaults**: the regression alone (ReLU network);
* **fine-tuned**: then at most ``fine_tune_iter=50`` epochs of maximum-likelihood fine-tuning
  (:mod:`sklearn_diffgen.likelihood`, step ``fine_tune_learning_rate=1e-4``, early stopping on
  a tenth of the training rows);
* **silu** and **silu fine-tuned**: the same with a smooth activation, where the
  fine-tuning's gradient is exact up to the Gauss-Newton Hessian (with ReLU it misses the
  mass that moves between linear pieces);
* **silu 256x3 fine-tuned**: the same on three hidden layers of 256 (the quality page's tuning
  tries that width);
* **local teacher**: the teacher route instead, ``teacher="local"`` (manifold Parzen windows),
  the sharpest teacher of :doc:`teachers` on digits.

The data are the quality page's (``sklearn_diffgen.datasets.load_split``, seed 0, 80/10/10,
standardised by the training split; 10,000 rows of the 2-D sets), and the scores are the mean
``score_samples`` of its scored test rows (at most 1,000). The best peer of each set (the best
of a tuned KDE, GMM and NSF) is read from the quality page's ``quality.csv``.

Run: ``python benchmarks/fine_tuning.py [--quick] [--datasets a,b] [--variants a,b] [--threads 1]
[--out DIR]`` (``--quick``: moons with 3,000 rows and wine). Writes
``doc/benchmarks/fine_tuning.rst`` and ``fine_tuning.csv``.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from report import (docstring_body, make_parser, page_header, parse_args, print_table, publish, rst_table,
                    section)
from quality import prepare
from sklearn_diffgen import DiffusionSupervisedGenerator, datasets
from teachers import best_peers

DATASETS = ("moons", "8gaussians", "gaussian5", "wine", "breast_cancer", "digits")
#: Variant name -> estimator parameters (the rest at their defaults).
VARIANTS = {
    "defaults": {},
    "fine-tuned": {"fine_tune_iter": 50},
    "silu": {"activation": "silu"},
    "silu fine-tuned": {"activation": "silu", "fine_tune_iter": 50},
    "silu 256x3 fine-tuned": {"activation": "silu", "hidden_layer_sizes": (256, 256, 256),
                              "fine_tune_iter": 50},
    "local teacher": {"teacher": "local"},
}
MAX_SCORE = 1000


def headline(rows: list[dict]) -> list[dict]:
    """Per data set, each variant's test log-likelihood minus the defaults', and its fit time over theirs.

    Examples
    --------
    >>> rows = [{"dataset": "a", "variant": "defaults", "test loglik": -2.0, "fit s": 10.0},
    ...         {"dataset": "a", "variant": "fine-tuned", "test loglik": -1.5, "fit s": 15.0}]
    >>> headline(rows)
    [{'dataset': 'a', 'fine-tuned gain': 0.5, 'fine-tuned time x': 1.5}]
    """
    out = []
    for name in dict.fromkeys(r["dataset"] for r in rows):
        fits = {r["variant"]: r for r in rows if r["dataset"] == name}
        base = fits["defaults"]
        row = {"dataset": name}
        for variant, r in fits.items():
            if variant != "defaults":
                row[f"{variant} gain"] = r["test loglik"] - base["test loglik"]
                row[f"{variant} time x"] = r["fit s"] / base["fit s"]
        out.append(row)
    return out


def main(argv=None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--datasets", default=None, help="comma-separated data set names")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated variants")
    args = parse_args(parser, argv)
    quick = ["moons", "wine"]
    names = args.datasets.split(",") if args.datasets else (quick if args.quick else list(DATASETS))
    variants = args.variants.split(",")
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    if "defaults" not in variants:
        variants.insert(0, "defaults")
    peers = best_peers(args.out)
    start, rows = time.perf_counter(), []
    cfg = {"n_samples": {toy: 3000 if args.quick else 10000 for toy in datasets.TOY_DATASETS}}
    for name in names:
        _, split = prepare(name, cfg, args.seed, MAX_SCORE)  # the quality page's split and scored rows
        train, test = split["train"], split["scored"]
        peer, peer_ll = peers.get(name, ("", np.nan))
        for variant in variants:
            t0 = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                est = DiffusionSupervisedGenerator(random_state=args.seed, verbose=0, **VARIANTS[variant],
                                                   **args.ours_params).fit(train)
            fit_s = time.perf_counter() - t0
            scores = est.fine_tune_scores_
            ll = float(np.mean(est.score_samples(test)))
            rows.append({"dataset": name, "variant": variant, "test loglik": ll, "best peer": peer,
                         "best peer loglik": peer_ll, "ours - best peer": ll - peer_ll, "fit s": fit_s,
                         "fine-tuning s": est.fit_times_["fine_tuning"],
                         "fine-tuning epochs": max(0, len(scores) - 1),
                         "best epoch": int(np.argmin(scores)) if scores else 0,
                         "held-out gain": (scores[0] - min(scores)) if scores else 0.0,
                         "teacher": est.teacher_kind_, "fit warnings": len(caught),
                         "n_train": len(train), "d": train.shape[1]})
            print_table(rows[-1:], floatfmt="{:.4g}")
    elapsed = time.perf_counter() - start
    page = page_header("Fine-tuning", args.command, elapsed) + docstring_body(__doc__) + "\n\n"
    page += section("Headline") + HEADLINE + "\n\n" + rst_table(headline(rows), floatfmt="{:.3g}") + "\n\n"
    page += section("Every fit") + COLUMNS_TEXT + "\n\n" + rst_table(rows, floatfmt="{:.4g}") + "\n"
    publish("fine_tuning", page, rows, elapsed, args.out)
    return 0


HEADLINE = ("Each variant's test log-likelihood minus the defaults' (``gain``, nats; above 0: better) and "
            "its fit time over the defaults' (``time x``), per data set.")
COLUMNS_TEXT = ("``fine-tuning epochs``: epochs run; ``best epoch``: the epoch kept (0: the regression's "
                "weights, which scored the held-out tenth best); ``held-out gain``: the kept epoch's mean "
                "log-likelihood on the held-out tenth of the training rows minus the regression's (model "
                "units); ``fit warnings``: ``ConvergenceWarning`` raised by the regression (it stopped at "
                "``max_iter``) or the fine-tuning (at ``fine_tune_iter``).")

if __name__ == "__main__":
    raise SystemExit(main())
