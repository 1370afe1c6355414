"""Teachers: the plain, adaptive and local kernels, each fitted at our defaults, on the quality page's splits.

For each data set the script fits ``DiffusionSupervisedGenerator(teacher=kind, random_state=seed,
keep_training_data=True)`` with every other parameter at its default, for ``kind`` in ``kde``
(one width), ``adaptive`` (Abramson's widths) and ``local`` (manifold Parzen windows, rank
chosen by cross-validation among 1, 4, 16 and 32 below the dimension). The default,
``teacher="auto"``, picks the one of ``kde`` and ``adaptive`` with the higher cross-validated
likelihood, and gives the same fit as that one (the quality page's "ours (defaults)" row
says which it picked). The data are the quality page's
(``sklearn_diffgen.datasets.load_split``, seed 0, 80/10/10, standardised by the training
split), and the scores are on its scored test rows (at most 1,000):

* **model**: mean ``score_samples`` (the density of what ``sample`` draws);
* **teacher**: mean ``score_samples(method="teacher")`` (the law the labels follow);
* **fit s**: the fit's wall-clock seconds, and its labelling seconds (``fit_times_``).

``--hidden`` gives every fit that generator network instead of the default (128, 128, 128).

The best peer of each set (the best of a tuned KDE, GMM and NSF) is read from the quality
page's ``quality.csv`` of the same split, so it is the quality page's run, not this one.

Run: ``python benchmarks/teachers.py [--quick] [--datasets a,b] [--kinds kde,adaptive,local,gmm]
[--threads 1] [--hidden 256,256,256] [--page NAME] [--out DIR]`` (``--quick``: moons and wine, 3,000 rows of moons). Writes
``doc/benchmarks/teachers.rst`` and ``teachers.csv`` (``NAME.rst`` and ``NAME.csv`` with ``--page``).
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.preprocessing import StandardScaler

from report import DOC_DIR, docstring_body, make_parser, page_header, parse_args, print_table, publish, read_csv
from report import rst_table, section
from sklearn_diffgen import DiffusionSupervisedGenerator, datasets

DATASETS = ("moons", "8gaussians", "pinwheel", "rings", "wine", "breast_cancer", "digits")
KINDS = ("kde", "adaptive", "local")
MAX_SCORE = 1000


def best_peers(out) -> dict:
    """Data set -> (peer, test log-likelihood) of the best of KDE, GMM and NSF on the quality page."""
    best = {}
    for row in read_csv("quality", out if (out / "quality.csv").exists() else DOC_DIR):
        if row["model"] in ("KDE", "GMM", "NSF"):
            ll = float(row["test loglik"])
            if row["dataset"] not in best or ll > best[row["dataset"]][1]:
                best[row["dataset"]] = (row["model"], ll)
    return best


HEADLINE = ("Each teacher's model log-likelihood and fit seconds; the best of the three on the test rows (picked "
            "after the fact, on the test rows, so an upper bound of what a choice by validation gets) and its margin "
            "over the quality page's best peer (above 0: we win). The default, ``teacher=\"auto\"``, chooses between "
            "``kde`` and ``adaptive`` by the teacher's cross-validated likelihood; the quality page's \"ours "
            "(defaults)\" row is that choice.")


def headline(rows: list[dict]) -> list[dict]:
    """One row per data set: each teacher's model log-likelihood and fit seconds, and the best one's margin."""
    out = []
    for name in dict.fromkeys(r["dataset"] for r in rows):
        fits = {r["teacher"]: r for r in rows if r["dataset"] == name}
        best = max(fits.values(), key=lambda r: r["model"])
        out.append({"dataset": name, **{f"{k} model": r["model"] for k, r in fits.items()},
                    **{f"{k} fit s": r["fit s"] for k, r in fits.items()}, "best teacher": best["chosen"],
                    "best peer": best["best peer"], "best peer loglik": best["best peer loglik"],
                    "best - peer": best["model"] - best["best peer loglik"]})
    return out


def main(argv=None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--datasets", default=None, help="comma-separated data set names")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated teachers")
    parser.add_argument("--page", default="teachers", help="name of the page and csv written")
    parser.add_argument("--hidden", default=None,
                        help="comma-separated hidden_layer_sizes of every fit (default: the estimator's)")
    args = parse_args(parser, argv)
    if args.hidden:
        args.ours_params["hidden_layer_sizes"] = tuple(int(h) for h in args.hidden.split(","))
    names = args.datasets.split(",") if args.datasets else (["moons", "wine"] if args.quick else list(DATASETS))
    kinds = args.kinds.split(",")
    peers = best_peers(args.out)
    start, rows = time.perf_counter(), []
    for name in names:
        split = datasets.load_split(name, n_samples=3000 if args.quick and name in datasets.TOY_DATASETS else None,
                                    random_state=args.seed)
        scaler = StandardScaler().fit(split.train)
        train, test = scaler.transform(split.train), scaler.transform(split.test)[:MAX_SCORE]
        peer, peer_ll = peers.get(name, ("", np.nan))
        for kind in kinds:
            t0 = time.perf_counter()
            est = DiffusionSupervisedGenerator(teacher=kind, random_state=args.seed, keep_training_data=True,
                                               verbose=0, **args.ours_params).fit(train)
            fit_s = time.perf_counter() - t0
            t = est.teacher_
            model = float(np.mean(est.score_samples(test)))
            rows.append({"dataset": name, "teacher": kind,
                         "chosen": (f"local r={t.rank}" if t.kind == "local" else
                                    f"gmm K={t.data.shape[0]}" if t.kind == "gmm" else t.kind),
                         "bandwidth": est.bandwidth_, "whiten": est.whiten_,
                         "variance correction": est.variance_correction_, "model": model,
                         "teacher loglik": float(np.mean(est.score_samples(test, method="teacher"))),
                         "best peer": peer, "best peer loglik": peer_ll, "model - best peer": model - peer_ll,
                         "fit s": fit_s, "labelling s": est.fit_times_["labelling"],
                         "n_train": len(train), "d": train.shape[1]})
            print_table(rows[-1:], floatfmt="{:.4g}")
    elapsed = time.perf_counter() - start
    page = page_header("Teachers", args.command, elapsed) + docstring_body(__doc__) + "\n\n"
    if args.hidden:
        page += f"Every fit on this page has ``hidden_layer_sizes={args.ours_params['hidden_layer_sizes']}``.\n\n"
    page += section("Headline") + HEADLINE + "\n\n" + rst_table(headline(rows), floatfmt="{:.4g}") + "\n\n"
    page += section("Every fit") + rst_table(rows, floatfmt="{:.4g}") + "\n"
    publish(args.page, page, rows, elapsed, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
