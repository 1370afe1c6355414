"""Over-sampling an imbalanced table before a classifier: DiffusionOverSampler against SMOTE, SMOTENC and none.

Each table is split 70/30, stratified, by ``train_test_split(random_state=seed)``, for seeds
``seed .. seed+repeats-1``. Each sampler grows every class of the training rows to the
majority's count (``sampling_strategy="auto"``) once, and each classifier is fitted on what it
returns and scored on the test rows: the same fit as an ``imblearn.pipeline.Pipeline`` of the
sampler, the encoding and the classifier, with the resampled rows shared by the classifiers.
The encoding is one-hot categories and standardised numbers (``OneHotEncoder(handle_unknown=
"ignore")`` and ``StandardScaler`` in a ``ColumnTransformer``). The samplers:

* **none** -- the classifier alone;
* **SMOTE** -- ``SMOTE(random_state=seed)`` after the encoding (it interpolates the one-hot
  columns too, as a user who puts it after an encoder gets);
* **SMOTENC** -- ``SMOTENC(categorical_features="auto", random_state=seed)`` on the raw table,
  then the encoding;
* **ours** -- ``DiffusionOverSampler(random_state=seed)`` (defaults: a ``TabularGenerator`` of
  ``DiffusionSupervisedGenerator()`` for each class it grows) on the raw table, then the
  encoding.

The classifiers (``--classifiers``, default all three):

* **logistic regression** -- ``LogisticRegression(max_iter=2000)``;
* **random forest** -- ``RandomForestClassifier(random_state=seed)``;
* **gradient boosting** -- ``HistGradientBoostingClassifier(random_state=seed)``, the
  classifier a tabular user reaches for first.

Metrics on the test rows: balanced accuracy and the F1 of the minority class (the rarest in
training), with the precision and recall that make it; the sampler's seconds (one thread) and
its seconds with the classifier's fit, as the pipeline's fit would take.

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
[--classifiers "logistic regression,random forest,gradient boosting"] [--out DIR]``;
``--quick`` runs one seed. Writes ``doc/benchmarks/oversampling.rst`` and ``oversampling.csv``.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
from imblearn.over_sampling import SMOTE, SMOTENC
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
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


#: Each classifier, made from the split's seed.
CLASSIFIERS = {
    "logistic regression": lambda seed: LogisticRegression(max_iter=2000),
    "random forest": lambda seed: RandomForestClassifier(random_state=seed),
    "gradient boosting": lambda seed: HistGradientBoostingClassifier(random_state=seed),
}
METRICS = ("balanced accuracy", "minority F1", "minority precision", "minority recall", "sampler s", "fit s")


def resample(method: str, seed: int, X, y):
    """The fitted encoding and the encoded rows that ``method`` hands the classifier.

    The steps of a ``Pipeline([sampler, encoding, classifier])`` up to the classifier (SMOTE:
    ``[encoding, sampler, classifier]``), so a classifier fitted on them is that pipeline.
    """
    if method in ("none", "SMOTE"):
        encoding = encoder().fit(X)
        A = encoding.transform(X)
        return (encoding, A, y) if method == "none" else (encoding, *SMOTE(random_state=seed).fit_resample(A, y))
    sampler = (SMOTENC(categorical_features="auto", random_state=seed) if method == "SMOTENC"
               else DiffusionOverSampler(random_state=seed))
    X_res, y_res = sampler.fit_resample(X, y)
    encoding = encoder().fit(X_res)
    return encoding, encoding.transform(X_res), y_res


def measure(name: str, seed: int, classifiers=tuple(CLASSIFIERS)) -> list[dict]:
    X, y = load(name, seed)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    minority = y_tr.value_counts().idxmin()
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a ConvergenceWarning of any model is not what is measured
        for method in METHODS:
            start = time.perf_counter()
            encoding, A, b = resample(method, seed, X_tr, y_tr)
            sampler_s = time.perf_counter() - start
            T = encoding.transform(X_te)
            for classifier in classifiers:
                start = time.perf_counter()
                pred = CLASSIFIERS[classifier](seed).fit(A, b).predict(T)
                rows.append({"table": name, "seed": seed, "classifier": classifier, "method": method,
                             "train rows": len(y_tr), "minority": f"{minority} ({(y_tr == minority).sum()} rows)",
                             "balanced accuracy": balanced_accuracy_score(y_te, pred),
                             "minority F1": f1_score(y_te, pred, labels=[minority], average="macro"),
                             "minority precision": precision_score(y_te, pred, labels=[minority], average="macro",
                                                                   zero_division=0.0),
                             "minority recall": recall_score(y_te, pred, labels=[minority], average="macro"),
                             "sampler s": sampler_s, "fit s": sampler_s + time.perf_counter() - start})
                print(rows[-1], flush=True)
    return rows


def summary(rows: list[dict]) -> list[dict]:
    """Mean and standard error over seeds of each metric, per table, classifier and method."""
    out = []
    for table in dict.fromkeys(r["table"] for r in rows):
        for classifier in dict.fromkeys(r["classifier"] for r in rows if r["table"] == table):
            for method in METHODS:
                sub = [r for r in rows if (r["table"], r["classifier"], r["method"]) == (table, classifier, method)]
                entry = {"table": table, "classifier": classifier, "method": method, "seeds": len(sub),
                         "minority": sub[0]["minority"]}
                for metric in METRICS:
                    v = np.array([r[metric] for r in sub])
                    entry[metric] = v.mean()
                    entry[f"{metric} se"] = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else None
                out.append(entry)
    return out


def _verdict(gap: float) -> str:
    return "we win" if gap > 0 else "we lose" if gap < 0 else "a tie"


def headline(table: list[dict]) -> str:
    """Per classifier: ours against the better of SMOTE and SMOTENC on each table, then the count.

    >>> rows = [{"table": t, "classifier": "c", "method": m, "minority F1": f, "minority precision": 0.5,
    ...          "minority recall": 0.5, "balanced accuracy": 0.5, "fit s": 1.0}
    ...         for t, fs in (("a", (0.4, 0.3, 0.5, 0.5)), ("b", (0.1, 0.2, 0.3, 0.1)))
    ...         for m, f in zip(("none", "SMOTE", "SMOTENC", "ours"), fs)]
    >>> print(headline(rows))  # doctest: +NORMALIZE_WHITESPACE
    **c**: ours at or above the better of SMOTE and SMOTENC on 1 of 2 tables; no resampling had the
    highest minority F1 of the four on 0 of 2.
    <BLANKLINE>
    * **a**: minority F1 ours 0.500 against SMOTENC 0.500 (+0.000, a tie; precision 0.500 against 0.500,
      recall 0.500 against 0.500), none 0.400; balanced accuracy 0.500 against 0.500; fit 1.0 s against 1.00 s.
    * **b**: minority F1 ours 0.100 against SMOTENC 0.300 (-0.200, we lose; precision 0.500 against 0.500,
      recall 0.500 against 0.500), none 0.100; balanced accuracy 0.500 against 0.500; fit 1.0 s against 1.00 s.
    """
    blocks = []
    for classifier in dict.fromkeys(r["classifier"] for r in table):
        lines, at_least, none_best = [], 0, 0
        names = list(dict.fromkeys(r["table"] for r in table if r["classifier"] == classifier))
        for name in names:
            by = {r["method"]: r for r in table if (r["table"], r["classifier"]) == (name, classifier)}
            best = max(("SMOTE", "SMOTENC"), key=lambda m: by[m]["minority F1"])
            ours, peer = by["ours"], by[best]
            gap = ours["minority F1"] - peer["minority F1"]
            at_least += gap >= 0
            none_best += by["none"]["minority F1"] > max(by[m]["minority F1"] for m in ("SMOTE", "SMOTENC", "ours"))
            lines.append(f"* **{name}**: minority F1 ours {ours['minority F1']:.3f} against {best} "
                         f"{peer['minority F1']:.3f} ({gap:+.3f}, {_verdict(gap)}; precision "
                         f"{ours['minority precision']:.3f} against {peer['minority precision']:.3f}, recall "
                         f"{ours['minority recall']:.3f} against {peer['minority recall']:.3f}), none "
                         f"{by['none']['minority F1']:.3f}; balanced accuracy {ours['balanced accuracy']:.3f} "
                         f"against {peer['balanced accuracy']:.3f}; fit {ours['fit s']:.1f} s against "
                         f"{peer['fit s']:.2f} s.")
        blocks.append(f"**{classifier}**: ours at or above the better of SMOTE and SMOTENC on {at_least} of "
                      f"{len(names)} tables; no resampling had the highest minority F1 of the four on {none_best} "
                      f"of {len(names)}.\n\n" + "\n".join(lines))
    return "\n\n".join(blocks)


def main(argv=None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=3, help="seeds per table (default 3; --quick: 1)")
    parser.add_argument("--tables", default="default,credit_card,penguins,diamonds,chile")
    parser.add_argument("--classifiers", default=",".join(CLASSIFIERS),
                        help=f"comma-separated, of: {', '.join(CLASSIFIERS)} (default all)")
    args = parse_args(parser, argv)
    classifiers = args.classifiers.split(",")
    unknown = sorted(set(classifiers) - set(CLASSIFIERS))
    if unknown:
        parser.error(f"unknown classifiers {unknown}; choose from {list(CLASSIFIERS)}")
    repeats = 1 if args.quick else args.repeats
    start = time.perf_counter()
    rows = [r for name in args.tables.split(",") for s in range(args.seed, args.seed + repeats)
            for r in measure(name, s, classifiers)]
    table = summary(rows)
    print_table(table)
    elapsed = time.perf_counter() - start
    page = page_header("Over-sampling imbalanced tables", args.command, elapsed) + docstring_body(__doc__) + "\n\n"
    page += section("Headline") + ("Ours against the better of SMOTE and SMOTENC on each table, with each "
                                   "classifier (mean over seeds):\n\n")
    page += headline(table) + "\n\n"
    page += section("Mean over seeds") + "``se``: standard error over the seeds.\n\n"
    page += rst_table(table, ["table", "classifier", "method", "seeds", "minority", "balanced accuracy",
                              "balanced accuracy se", "minority F1", "minority F1 se"], floatfmt="{:.3f}") + "\n\n"
    page += rst_table(table, ["table", "classifier", "method", "minority precision", "minority precision se",
                              "minority recall", "minority recall se"], floatfmt="{:.3f}") + "\n\n"
    page += rst_table(table, ["table", "classifier", "method", "sampler s", "fit s", "fit s se"],
                      floatfmt="{:.3g}") + "\n\n"
    page += section("Every run") + rst_table(rows, floatfmt="{:.3f}") + "\n"
    publish("oversampling", page, rows, elapsed, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
