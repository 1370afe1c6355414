"""What a fitted model reveals about its training rows: pickle size, copying and membership inference.

For each data set the rows are split (``load_split(name, random_state=seed)``, its three parts
joined, in their shuffled order) into **members** (45%), a validation slice (10%, used only to
tune the peers) and **non-members** (45%), standardised with the members' ``StandardScaler``.
Every model is fitted on the members only, and then:

* **pickle KiB** -- ``len(pickle.dumps(model))``;
* **DCR ratio** -- :func:`sklearn_diffgen.metrics.dcr_ratio` of 5,000 sampled rows: median
  distance to the closest member, over that of the non-members (below 1: samples sit closer to
  the training rows than new data does);
* **MIA (density)** -- :func:`sklearn_diffgen.metrics.membership_advantage` of the model's
  log-density, members against non-members: an attacker who holds the model and calls a row
  a member when its score is above the best threshold, and its p-value;
* **MIA (samples)** -- the same with minus the distance from each row to its closest sampled
  row: an attacker who holds only the 5,000 published samples.

A model that reveals nothing reads an advantage of about :math:`\\sqrt{(n + m)/(n m)}` for n
members and m non-members (given in ``chance``), and a DCR ratio near 1. The models:

* **ours** -- ``DiffusionSupervisedGenerator(random_state=seed)``, the defaults (it keeps no
  training row);
* **ours, kept rows** -- the same with ``keep_training_data=True``, the only difference;
  its density row is the teacher's (``score_samples(method="teacher")``, the kernel
  estimate the labels follow) and its samples are the generator's;
* **KDE** -- ``KernelDensity`` with its bandwidth tuned on the validation slice
  (``peers_sklearn.fit_kde_tuned``, 20 values), which stores every training row;
* **GMM** -- full-covariance ``GaussianMixture`` with 1..64 components tuned on the
  validation slice (``peers_sklearn.fit_gmm_tuned``, 6 sizes), which stores none.

A second table gives the pickle size of ours and of the peers fitted on 500 and on 5,000 rows
of two moons (``--quick``: the same).

Run: ``python benchmarks/privacy.py [--quick] [--datasets a,b] [--seed 0] [--threads 1]
[--out DIR]``. Full: moons (2,000 rows), wine and breast_cancer; ``--quick``: moons and wine.
Writes ``doc/benchmarks/privacy.rst`` and ``privacy.csv``.
"""

from __future__ import annotations

import pickle
import sys
import time
import warnings

import numpy as np
from sklearn.preprocessing import StandardScaler

from peers_sklearn import fit_gmm_tuned, fit_kde_tuned
from report import docstring_body, make_parser, page_header, parse_args, print_table, publish, rst_table, section
from sklearn_diffgen import DiffusionSupervisedGenerator
from sklearn_diffgen.datasets import TOY_DATASETS, load_split
from sklearn_diffgen.metrics import dcr_ratio, distance_to_closest_record, membership_advantage

TOY_ROWS, N_SYNTH = 2000, 5000
SIZE_ROWS = (500, 5000)
#: The two tables of the copying and membership section: what the samples and the density
#: reveal, then the data sets' sizes and the pickles'.
TABLES = (["dataset", "model", "DCR ratio", "MIA (density)", "p (density)", "MIA (samples)", "p (samples)",
           "chance"],
          ["dataset", "members", "d", "model", "pickle KiB"])


def split(name: str, seed: int) -> dict:
    data = load_split(name, random_state=seed, **({"n_samples": TOY_ROWS} if name in TOY_DATASETS else {}))
    X = np.vstack([data.train, data.validation, data.test])
    n_mem = n_non = int(0.45 * len(X))
    sc = StandardScaler().fit(X[:n_mem])
    return {"members": sc.transform(X[:n_mem]), "val": sc.transform(X[n_mem:-n_non]),
            "non_members": sc.transform(X[-n_non:])}


def fit_models(s: dict, seed: int, ours_params: dict) -> dict:
    """Each model fitted on the members: (model, its log-density function, its sampler)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a ConvergenceWarning of ours (on the page's fit_s) is not the point
        ours = DiffusionSupervisedGenerator(random_state=seed, **ours_params).fit(s["members"])
        kept = DiffusionSupervisedGenerator(random_state=seed, keep_training_data=True,
                                            **ours_params).fit(s["members"])
    kde = fit_kde_tuned(s["members"], s["val"], 20)[0]
    gmm = fit_gmm_tuned(s["members"], s["val"], 6, random_state=seed)[0]
    return {"ours": (ours, ours.score_samples),
            "ours, kept rows": (kept, lambda X: kept.score_samples(X, method="teacher")),
            "KDE": (kde, kde.score_samples), "GMM": (gmm, gmm.score_samples)}


def measure(name: str, s: dict, seed: int, ours_params: dict) -> list[dict]:
    rows = []
    n, m = len(s["members"]), len(s["non_members"])
    for label, (model, log_density) in fit_models(s, seed, ours_params).items():
        synth = model.sample(N_SYNTH, random_state=seed)
        synth = synth[0] if isinstance(synth, tuple) else synth
        by_density = membership_advantage(log_density(s["members"]), log_density(s["non_members"]))
        by_samples = membership_advantage(-distance_to_closest_record(s["members"], synth),
                                          -distance_to_closest_record(s["non_members"], synth))
        rows.append({"dataset": name, "members": n, "d": s["members"].shape[1], "model": label,
                     "pickle KiB": len(pickle.dumps(model)) / 1024,
                     "DCR ratio": dcr_ratio(synth, s["members"], s["non_members"]),
                     "MIA (density)": by_density.advantage, "p (density)": by_density.pvalue,
                     "MIA (samples)": by_samples.advantage, "p (samples)": by_samples.pvalue,
                     "chance": float(np.sqrt((n + m) / (n * m)))})
        print(rows[-1], flush=True)
    return rows


def pickle_sizes(seed: int, ours_params: dict) -> list[dict]:
    out = []
    X = load_split("moons", n_samples=max(SIZE_ROWS) * 2, random_state=seed).train
    for n in SIZE_ROWS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits = {"ours": DiffusionSupervisedGenerator(random_state=seed, **ours_params).fit(X[:n]),
                    "ours, kept rows": DiffusionSupervisedGenerator(random_state=seed, keep_training_data=True,
                                                                    **ours_params).fit(X[:n])}
        fits["KDE"] = fit_kde_tuned(X[:n], X[-500:], 20)[0]
        fits["GMM"] = fit_gmm_tuned(X[:n], X[-500:], 6, random_state=seed)[0]
        out += [{"training rows": n, "model": k, "pickle KiB": len(pickle.dumps(v)) / 1024} for k, v in fits.items()]
    by = {(r["model"], r["training rows"]): r["pickle KiB"] for r in out}
    return [{"model": k, **{f"{n} rows": by[k, n] for n in SIZE_ROWS},
             "ratio": by[k, SIZE_ROWS[1]] / by[k, SIZE_ROWS[0]]} for k in dict.fromkeys(r["model"] for r in out)]


def main(argv=None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--datasets", default=None, help="comma-separated (default: moons, wine, breast_cancer)")
    args = parse_args(parser, argv)
    names = args.datasets.split(",") if args.datasets else (
        ["moons", "wine"] if args.quick else ["moons", "wine", "breast_cancer"])
    start = time.perf_counter()
    rows = []
    for name in names:
        rows += measure(name, split(name, args.seed), args.seed, args.ours_params)
    sizes = pickle_sizes(args.seed, args.ours_params)
    print_table(sizes, floatfmt="{:.4g}")
    elapsed = time.perf_counter() - start
    page = page_header("What a fitted model reveals", args.command, elapsed) + docstring_body(__doc__) + "\n\n"
    page += section("Copying and membership") + (
        "``p``: the p-value of the advantage (one-sided two-sample Kolmogorov-Smirnov); ``chance``: "
        "the advantage a model that reveals nothing reads, about.\n\n")
    page += "\n".join(rst_table(rows, cols, floatfmt="{:.3g}") for cols in TABLES) + "\n"
    page += section("Pickle size against training rows") + (
        "Two moons, the defaults; ``ratio``: size at 5,000 rows over size at 500.\n\n")
    page += rst_table(sizes, floatfmt="{:.4g}") + "\n"
    publish("privacy", page, rows, elapsed, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
