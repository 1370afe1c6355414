"""Over-sampling an imbalanced table before a classifier: DiffusionOverSampler against SMOTE, SMOTENC and none.

Each table is split 70/30, stratified, by ``train_test_split(random_state=seed)``, for seeds
``seed .. seed+repeats-1``. Every method is one ``imblearn.pipeline.Pipeline`` fitted on the
training rows and scored on the test rows, with the same classifier at the end:
``LogisticRegression(max_iter=2000)`` on one-hot categories and standardised numbers
(``OneHotEncoder(handle_unknown="ignore")`` and ``StandardScaler`` in a ``ColumnTransformer``).
The samplers grow every class to the majority's count (``sampling_strategy="auto"``):

* **none** -- the classifier alone;
* **SMOTE** -- ``SMOTE(random_state=seed)`` after the encoding (it interpolates the one-hot
  columns too, as a user who puts it after an encoder gets);
* **SMOTENC** -- ``SMOTENC(categorical_features="auto", random_state=seed)`` on the raw table,
  then the encoding;
* **ours** -- ``DiffusionOverSampler(random_state=seed)`` (defaults: a ``TabularGenerator`` of
  ``DiffusionSupervisedGenerator()`` for each class it grows) on the raw table, then the
  encoding.

Metrics on the test rows: balanced accuracy and the F1 of the minority class (the rarest in
training), with the precision and recall that make it, and the pipeline's fit seconds (one
thread).

Tables (all install offline; none has missing values after the steps below):

* **default** -- ISLR's ``Default`` (``load_table``): ``default`` from ``student`` (categorical),
  ``balance`` and ``income``; a stratified subsample of 4,000 of its 10,000 rows (3.3 %
  defaults, so 93 in training);
* **credit_card** -- AER's ``CreditCard`` (``sklearn_diffgen.datasets.load_table``), with the
  rejected class (``card == "no"``) subsampled to 8 % of the rows, seeded by the split's seed;
* **penguins** -- palmerpenguins, rows with missing values dropped, Chinstrap subsampled to
  8 % of the rows the same way (three classes);
* **diamonds** -- ggplot2's diamonds, a stratified 7.5 % of its 53,940 rows (4,045), label
  ``cut`` (five classes, Fair 3 %);
* **chile** -- carData's ``Chile``, rows with missing values dropped (2,431), label ``vote``
  (four classes, abstain 7.3 %).

Run: ``python benchmarks/oversampling.py [--quick] [--repeats 3] [--seed 0] [--threads 1]
[--out DIR]``; ``--quick`` runs one seed. Writes ``doc/benchmarks/oversampling.rst`` and
``oversampling.csv``.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
from imblearn.over_sampling import SMOTE, SMOTENC
from imblearn.pipeline import Pipeline
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, f1_score, precision_score, recall_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from report import docstring_body, make_parser, page_header, parse_args, print_table, publish, rst_table, section
from sklearn_diffgen import DiffusionOverSampler
from sklearn_diffgen.datasets import load_table

METHODS = ("none", "SMOTE", "SMOTENC", "ours")
MINORITY_SHARE = 0.08
#: The stratified share of rows kept of the two large tables.
KEEP = {"default": 0.4, "diamonds": 0.075}


def _subsample_class(X, y, klass, share, seed):
    """Keep ``share`` of the rows as ``klass`` rows (the others all kept)."""
    rng = np.random.RandomState(seed)
    rows = np.flatnonzero(y == klass)
    n_keep = int(round(share * (len(y) - len(rows)) / (1 - share)))
    keep = np.sort(np.r_[np.flatnonzero(y != klass), rng.choice(rows, n_keep, replace=False)])
    return X.iloc[keep].reset_index(drop=True), y.iloc[keep].reset_index(drop=True)


def load(name: str, seed: int):
    """The table's features (DataFrame) and label (Series)."""
    data = load_table(name)
    X, y = data.frame, pd.Series(data.target).reset_index(drop=True)
    if name in ("default", "diamonds"):  # a stratified share of the rows, the same for every seed
        keep = np.sort(y.groupby(y, observed=True, group_keys=False).sample(frac=KEEP[name], random_state=0).index)
        return X.iloc[keep].reset_index(drop=True), y.iloc[keep].reset_index(drop=True)
    if name in ("penguins", "chile"):  # neither SMOTE nor SMOTENC takes missing values
        keep = ~X.isna().any(axis=1).to_numpy()
        X, y = X[keep].reset_index(drop=True), y[keep].reset_index(drop=True)
    if name == "chile":
        return X, y
    return _subsample_class(X, y, "Chinstrap" if name == "penguins" else "no", MINORITY_SHARE, seed)


def encoder():
    return ColumnTransformer([
        ("categories", OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_include="category")),
        ("numbers", StandardScaler(), make_column_selector(dtype_exclude="category"))])


def pipeline(method: str, seed: int) -> Pipeline:
    clf = ("classifier", LogisticRegression(max_iter=2000))
    if method == "none":
        return Pipeline([("encode", encoder()), clf])
    if method == "SMOTE":
        return Pipeline([("encode", encoder()), ("sampler", SMOTE(random_state=seed)), clf])
    sampler = (SMOTENC(categorical_features="auto", random_state=seed) if method == "SMOTENC"
               else DiffusionOverSampler(random_state=seed))
    return Pipeline([("sampler", sampler), ("encode", encoder()), clf])


def measure(name: str, seed: int) -> list[dict]:
    X, y = load(name, seed)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    minority = y_tr.value_counts().idxmin()
    rows = []
    for method in METHODS:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a ConvergenceWarning of any model is not what is measured
            pred = pipeline(method, seed).fit(X_tr, y_tr).predict(X_te)
        rows.append({"table": name, "seed": seed, "method": method, "train rows": len(y_tr),
                     "minority": f"{minority} ({(y_tr == minority).sum()} rows)",
                     "balanced accuracy": balanced_accuracy_score(y_te, pred),
                     "minority F1": f1_score(y_te, pred, labels=[minority], average="macro"),
                     "minority precision": precision_score(y_te, pred, labels=[minority], average="macro",
                                                           zero_division=0.0),
                     "minority recall": recall_score(y_te, pred, labels=[minority], average="macro"),
                     "fit s": time.perf_counter() - start})
        print(rows[-1], flush=True)
    return rows


def summary(rows: list[dict]) -> list[dict]:
    """Mean and standard error over seeds of each metric, per table and method."""
    out = []
    for table in dict.fromkeys(r["table"] for r in rows):
        for method in METHODS:
            sub = [r for r in rows if r["table"] == table and r["method"] == method]
            entry = {"table": table, "method": method, "seeds": len(sub), "minority": sub[0]["minority"]}
            for metric in ("balanced accuracy", "minority F1", "minority precision", "minority recall", "fit s"):
                v = np.array([r[metric] for r in sub])
                entry[metric] = v.mean()
                entry[f"{metric} se"] = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else None
            out.append(entry)
    return out


def main(argv=None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=3, help="seeds per table (default 3; --quick: 1)")
    parser.add_argument("--tables", default="default,credit_card,penguins,diamonds,chile")
    args = parse_args(parser, argv)
    repeats = 1 if args.quick else args.repeats
    start = time.perf_counter()
    rows = [r for name in args.tables.split(",") for s in range(args.seed, args.seed + repeats)
            for r in measure(name, s)]
    table = summary(rows)
    print_table(table)
    elapsed = time.perf_counter() - start
    lines = []
    for name in dict.fromkeys(r["table"] for r in table):
        by = {r["method"]: r for r in table if r["table"] == name}
        best = max(("SMOTE", "SMOTENC"), key=lambda m: by[m]["minority F1"])
        gap = by["ours"]["minority F1"] - by[best]["minority F1"]
        lines.append(f"* **{name}**: minority F1 ours {by['ours']['minority F1']:.3f} against {best} "
                     f"{by[best]['minority F1']:.3f} ({gap:+.3f}, {'we win' if gap > 0 else 'we lose' if gap < 0 else 'a tie'}; precision "
                     f"{by['ours']['minority precision']:.3f} against {by[best]['minority precision']:.3f}, recall "
                     f"{by['ours']['minority recall']:.3f} against {by[best]['minority recall']:.3f}); "
                     f"balanced accuracy {by['ours']['balanced accuracy']:.3f} against "
                     f"{by[best]['balanced accuracy']:.3f}; fit {by['ours']['fit s']:.1f} s against "
                     f"{by[best]['fit s']:.2f} s.")
    page = page_header("Over-sampling imbalanced tables", args.command, elapsed) + docstring_body(__doc__) + "\n\n"
    page += section("Headline") + "Ours against the better of SMOTE and SMOTENC on each table (mean over seeds):\n\n"
    page += "\n".join(lines) + "\n\n"
    page += section("Mean over seeds") + "``se``: standard error over the seeds.\n\n"
    page += rst_table(table, ["table", "method", "seeds", "minority", "balanced accuracy", "balanced accuracy se",
                              "minority F1", "minority F1 se"], floatfmt="{:.3f}") + "\n\n"
    page += rst_table(table, ["table", "method", "minority precision", "minority precision se", "minority recall",
                              "minority recall se"], floatfmt="{:.3f}") + "\n\n"
    page += rst_table(table, ["table", "method", "fit s", "fit s se"], floatfmt="{:.3g}") + "\n\n"
    page += section("Every run") + rst_table(rows, floatfmt="{:.3f}") + "\n"
    publish("oversampling", page, rows, elapsed, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
