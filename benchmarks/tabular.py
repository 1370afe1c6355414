"""Tabular data augmentation: synthetic rows of mixed-type tables, judged by what they are used for.

For each table of ``sklearn_diffgen.datasets.load_table`` (penguins, credit_card and a subset of
diamonds), a stratified split gives 70 % training and 30 % test rows. Each model is fitted
on the training rows with their class label and measured by:

* **ML efficiency** (train on synthetic, test on real): a
  ``HistGradientBoostingClassifier`` (native categorical and missing-value support,
  ``min_samples_leaf=5`` so that it can split the small subsets below) trained
  on as many synthetic rows as there are training rows, in the training class proportions,
  and scored on the real test rows; the row "real data" trains on the real training rows.
  Balanced accuracy, so that a model that drops a small class is seen.
* **Augmentation gain**: a small stratified subset of the training rows (``--small``
  fraction) fits the generator; the classifier trained on the subset plus four times as many
  synthetic rows in balanced classes is compared with the one trained on the subset alone,
  both on the real test rows; mean over ``--repeats`` subsets.
* **Fidelity** against the real test rows: mean per-column KS statistic of the numeric
  columns (``metrics.column_ks``), mean total-variation distance between the category
  frequencies of the categorical columns, the gap between the numeric Pearson correlation
  matrices (``metrics.correlation_gap``), and the TV distance of the joint
  (class, category) frequencies, which shows whether the class was learned.
* **Privacy**: ``metrics.dcr_ratio`` in a one-hot, standardised, median-imputed encoding
  fitted on the training rows (below 1: rows copied from the training set).
* fit time (s) and sampling time of 10,000 rows (s).

Models, all fitted with the class label:

* **ours (one-hot, separate)** -- ``TabularGenerator(DiffusionSupervisedGenerator())``, the
  defaults; **ours (one-hot, joint)**, **ours (ordinal, separate)**: the other encoding and
  conditioning choices, to measure which is better.
* **GMM (one-hot, separate)** -- ``TabularGenerator`` around a full-covariance
  ``GaussianMixture`` with ``n_components`` chosen by BIC per class (``peers_sklearn.BICGaussianMixture``):
  the same encoding and decoding, another density.
* **GaussianCopula**, **CTGAN** -- SDV's synthesizers (``sdv.single_table``), fitted on the
  table with the label as one more column (metadata detected from the data), and sampled
  unconditionally, as SDV users would; CTGAN with ``--ctgan-epochs`` epochs. Skipped, and
  said so on the page, when SDV does not import.

Run: ``python benchmarks/tabular.py [--quick] [--seed 0] [--threads N] [--tables a,b] [--out DIR]``.
``--quick``: penguins only, one augmentation repeat, CTGAN 50 epochs, no ordinal-encoding row.
Writes ``tabular.rst`` and ``tabular.csv`` to ``--out`` (``doc/benchmarks`` by default); every
row is published, losing ones included.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import peers_sklearn
from report import docstring_body, grouped_tables, make_parser, page_header, parse_args, print_table, publish
from sklearn_diffgen import DiffusionSupervisedGenerator, TabularGenerator, metrics
from sklearn_diffgen.datasets import load_table

#: Rows of diamonds used (of 53,940), so that every model, CTGAN included, fits in minutes.
DIAMONDS_ROWS = 4000
AUG_FACTOR = 4


# --------------------------------------------------------------------------- models
class SDVModel:
    """An SDV single-table synthesizer on the table with the label as a column."""

    def __init__(self, kind: str, seed: int, epochs: int):
        self.kind, self.seed, self.epochs = kind, seed, epochs

    def fit(self, X, y):
        from sdv.metadata import Metadata
        from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer

        self.label_, self.dtypes_ = y.name, X.dtypes
        table = X.assign(**{y.name: y})
        for col in table.columns:  # SDV refuses the category dtype
            if isinstance(table[col].dtype, pd.CategoricalDtype):
                table[col] = table[col].astype(object)
        meta = Metadata.detect_from_dataframes({"table": table})
        torch_seed(self.seed)
        if self.kind == "ctgan":
            self.model_ = CTGANSynthesizer(meta, epochs=self.epochs)
        else:
            self.model_ = GaussianCopulaSynthesizer(meta)
        self.model_.fit({"table": table})
        self.y_dtype_ = y.dtype
        return self

    def sample_labeled(self, n, class_proportions="train", random_state=None):
        torch_seed(random_state)
        np.random.seed(random_state)
        out = self.model_.sample(n)
        out = out["table"] if isinstance(out, dict) else out
        if class_proportions == "balanced":  # SDV's conditional sampling, class by class
            from sdv.sampling import Condition

            classes = list(self.y_dtype_.categories)
            counts = np.full(len(classes), n // len(classes))
            counts[: n - counts.sum()] += 1
            conds = [Condition(num_rows=int(k), column_values={self.label_: c}) for c, k in zip(classes, counts)]
            out = self.model_.sample_from_conditions(conds)
            out = out["table"] if isinstance(out, dict) else out
        y = out.pop(self.label_).astype(self.y_dtype_)
        return conform(out.reset_index(drop=True), self.dtypes_), y.reset_index(drop=True).to_numpy()


def torch_seed(seed):
    import torch

    torch.manual_seed(0 if seed is None else int(seed))


def conform(X: pd.DataFrame, dtypes) -> pd.DataFrame:
    """Cast synthetic columns to the training dtypes (unknown categories become NaN)."""
    X = X.copy()
    for col, dt in dtypes.items():
        if isinstance(dt, pd.CategoricalDtype):
            X[col] = X[col].astype(object).astype(dt)
        elif pd.api.types.is_integer_dtype(dt) and X[col].isna().any():
            X[col] = X[col].astype(np.float64)
        else:
            X[col] = X[col].astype(dt)
    return X


class Ours:
    """``TabularGenerator`` with a given row generator, returning numpy labels."""

    def __init__(self, estimator, seed, **params):
        self.gen = TabularGenerator(estimator, random_state=seed, **params)

    def fit(self, X, y):
        self.gen.fit(X, y.to_numpy())
        return self

    def sample_labeled(self, n, class_proportions="train", random_state=None):
        return self.gen.sample_labeled(n, class_proportions=class_proportions, random_state=random_state)


def model_factories(args, have_sdv: bool) -> dict:
    ours = lambda: DiffusionSupervisedGenerator(random_state=0, **args.ours_params)  # noqa: E731
    f = {
        "ours (one-hot, separate)": lambda s: Ours(ours(), s),
        "ours (one-hot, joint)": lambda s: Ours(ours(), s, conditional="joint"),
        "ours (ordinal, separate)": lambda s: Ours(ours(), s, categorical_encoding="ordinal"),
        "GMM (one-hot, separate)": lambda s: Ours(peers_sklearn.BICGaussianMixture(random_state=0), s),
    }
    if args.quick:  # the encoding comparison is left to the full run
        del f["ours (ordinal, separate)"]
    if have_sdv:
        f["GaussianCopula (SDV)"] = lambda s: SDVModel("copula", s, args.ctgan_epochs)
        f["CTGAN (SDV)"] = lambda s: SDVModel("ctgan", s, args.ctgan_epochs)
    return f


# -------------------------------------------------------------------------- metrics
def classifier_score(X_train, y_train, X_test, y_test, seed=0) -> float:
    if len(np.unique(y_train)) < 2:
        return float("nan")
    # min_samples_leaf=5 instead of 20, so that the small subsets (a few dozen rows) can split too
    clf = HistGradientBoostingClassifier(categorical_features="from_dtype", min_samples_leaf=5, random_state=seed)
    clf.fit(X_train, y_train)
    return float(balanced_accuracy_score(y_test, clf.predict(X_test)))


def categorical_columns(X):
    return [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]


def tv_distance(a: pd.Series, b: pd.Series) -> float:
    p = a.astype(object).fillna("<NA>").value_counts(normalize=True)
    q = b.astype(object).fillna("<NA>").value_counts(normalize=True)
    return 0.5 * float(p.subtract(q, fill_value=0).abs().sum())


def fidelity(Xs, ys, Xt, yt) -> dict:
    cats = categorical_columns(Xt)
    num = [c for c in Xt.columns if c not in cats]
    a, b = Xs[num].dropna().to_numpy(float), Xt[num].dropna().to_numpy(float)
    joint = [tv_distance(pd.Series(list(zip(ys, Xs[c].astype(object)))),
                         pd.Series(list(zip(np.asarray(yt), Xt[c].astype(object))))) for c in cats]
    return {
        "col_KS": float(np.mean(metrics.column_ks(a, b))),
        "cat_TV": float(np.mean([tv_distance(Xs[c], Xt[c]) for c in cats])) if cats else float("nan"),
        "corr_gap": float(metrics.correlation_gap(a, b)) if len(num) > 1 else float("nan"),
        "class_cat_TV": float(np.mean(joint)) if joint else float("nan"),
    }


class Encoding:
    """One-hot categories (missing as a category) and standardised, median-imputed numbers."""

    def __init__(self, X):
        self.cats = categorical_columns(X)
        self.num = [c for c in X.columns if c not in self.cats]
        self.median = X[self.num].median()
        self.onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(self._cat(X))
        self.scaler = StandardScaler().fit(X[self.num].fillna(self.median))

    def _cat(self, X):
        return X[self.cats].astype(object).fillna("<NA>").astype(str)

    def __call__(self, X):
        return np.hstack([self.scaler.transform(X[self.num].fillna(self.median)), self.onehot.transform(self._cat(X))])


# ---------------------------------------------------------------------------- run
def run_table(name: str, args, factories: dict) -> list[dict]:
    data = load_table(name, n_samples=DIAMONDS_ROWS if name == "diamonds" else None, random_state=args.seed)
    X, y = data.frame, data.target
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=args.seed)
    X_tr, X_te = X_tr.reset_index(drop=True), X_te.reset_index(drop=True)
    y_tr, y_te = y_tr.reset_index(drop=True), y_te.reset_index(drop=True)
    enc = Encoding(X_tr)
    smalls = []
    for r in range(args.repeats):
        idx, _ = train_test_split(np.arange(len(X_tr)), train_size=args.small, stratify=y_tr,
                                  random_state=args.seed + 100 + r)
        smalls.append(idx)
    real_small = [classifier_score(X_tr.iloc[i], y_tr.iloc[i], X_te, y_te) for i in smalls]
    rows = [dict(table=name, model="real data", n_train=len(X_tr),
                 TSTR_bal_acc=classifier_score(X_tr, y_tr, X_te, y_te),
                 small_real=float(np.mean(real_small)),
                 **fidelity(X_tr, y_tr.to_numpy(), X_te, y_te))]
    print(f"{name}: {len(X_tr)} train / {len(X_te)} test rows, {X.shape[1]} columns, classes "
          f"{y.value_counts().to_dict()}", flush=True)
    for model_name, make in factories.items():
        row = dict(table=name, model=model_name, n_train=len(X_tr))
        try:
            t0 = time.perf_counter()
            model = make(args.seed).fit(X_tr, y_tr)
            row["fit_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            model.sample_labeled(10000, random_state=args.seed)
            row["sample_10k_s"] = time.perf_counter() - t0
            Xs, ys = model.sample_labeled(len(X_tr), random_state=args.seed + 1)
            row["TSTR_bal_acc"] = classifier_score(Xs, ys, X_te, y_te)
            row.update(fidelity(Xs, np.asarray(ys), X_te, y_te))
            row["DCR_ratio"] = float(metrics.dcr_ratio(enc(Xs), enc(X_tr), enc(X_te)))
            gains = []
            for r, idx in enumerate(smalls):
                m = make(args.seed + r).fit(X_tr.iloc[idx].reset_index(drop=True), y_tr.iloc[idx].reset_index(drop=True))
                Xa, ya = m.sample_labeled(AUG_FACTOR * len(idx), class_proportions="balanced",
                                          random_state=args.seed + r)
                Xc = pd.concat([X_tr.iloc[idx], conform(Xa, X_tr.dtypes)], ignore_index=True)
                yc = np.concatenate([y_tr.iloc[idx].to_numpy(), np.asarray(ya)])
                gains.append(classifier_score(Xc, yc, X_te, y_te))
            row["small_real"] = float(np.mean(real_small))
            row["small_aug"] = float(np.mean(gains))
            row["aug_gain"] = row["small_aug"] - row["small_real"]
        except Exception as exc:  # a peer that fails is reported, not hidden
            row["error"] = f"{type(exc).__name__}: {exc}"[:200]
        print_table([row], COLUMNS + (["error"] if "error" in row else []), title=None)
        rows.append(row)
    return rows


COLUMNS = ["table", "model", "TSTR_bal_acc", "small_real", "small_aug", "aug_gain", "col_KS", "cat_TV",
           "class_cat_TV", "corr_gap", "DCR_ratio", "fit_s", "sample_10k_s"]
#: The page's two tables per data table: what the rows are good for, then fidelity, privacy and cost.
TABLES = [COLUMNS[1:6], COLUMNS[1:2] + COLUMNS[6:] + ["error"]]


def main(argv=None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=None, help="augmentation subsets (3; 1 with --quick)")
    parser.add_argument("--small", type=float, default=0.1, help="fraction of training rows in the small subset")
    parser.add_argument("--ctgan-epochs", type=int, default=None, help="CTGAN epochs (300; 50 with --quick)")
    parser.add_argument("--tables", default=None, help="comma-separated subset of load_table's names")
    args = parse_args(parser, argv)
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.ctgan_epochs = args.ctgan_epochs or (50 if args.quick else 300)
    tables = args.tables.split(",") if args.tables else (
        ["penguins"] if args.quick else ["penguins", "credit_card", "diamonds"])
    try:
        import sdv  # noqa: F401

        have_sdv, sdv_note = True, f"SDV {sdv.__version__}"
    except ImportError as exc:
        have_sdv, sdv_note = False, f"SDV not importable ({exc}): GaussianCopula and CTGAN rows are missing"
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    start = time.perf_counter()
    rows = []
    for name in tables:
        rows += run_table(name, args, model_factories(args, have_sdv))
    elapsed = time.perf_counter() - start

    intro = (docstring_body(__doc__) + "\n\n"
             f"This run: {sdv_note}; pandas {pd.__version__}; CTGAN {args.ctgan_epochs} epochs; "
             f"{args.repeats} augmentation subset(s) of {args.small:.0%} of the training rows; "
             f"diamonds subsampled to {DIAMONDS_ROWS} rows.\n\n"
             "Columns: ``TSTR_bal_acc`` balanced accuracy on real test rows of a classifier trained "
             "on synthetic rows (higher is better; the *real data* row trains on real rows); "
             "``small_real`` / ``small_aug`` the classifier on the small real subset alone / plus "
             "synthetic rows, ``aug_gain`` their difference; ``col_KS``, ``cat_TV``, "
             "``class_cat_TV``, ``corr_gap``: lower is better; ``DCR_ratio`` near 1 is "
             "good, below 1 is copying.\n")
    page = page_header("Tabular augmentation", args.command, elapsed) + intro + "\n"
    publish("tabular", page + grouped_tables(rows, "table", TABLES, "{:.3g}"), rows, elapsed,
            args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
