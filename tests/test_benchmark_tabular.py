"""The tabular page's summary against ForestFlow (benchmarks/tabular.py): means over the seeds both ran."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import tabular  # noqa: E402  (its imports are all in the test extra)


def _row(model, seed, w1, fit=1.0, table="t"):
    return {"table": table, "model": model, "seed": seed, "W1_test": w1, "TSTR_bal_acc4": 0.5 + (seed or 0) / 10,
            "coverage": 0.9, "fit_s": fit, "DCR_ratio": 1.0}


def test_summary_averages_each_table_over_the_seeds_both_models_ran():
    rng = np.random.default_rng(0)
    w1 = rng.uniform(0.5, 1.5, (2, 3))  # ours, ForestFlow by seed; ForestFlow lacks seed 2
    rows = [_row("ours", s, w1[0, s]) for s in range(3)] + [_row("ForestFlow", s, w1[1, s], fit=10.0) for s in range(2)]
    rows.append(_row("ours", 0, 0.1, table="alone"))  # no ForestFlow row: not in the summary
    pairs, text = tabular.summary(rows)
    assert [p["table"] for p in pairs] == ["t"] and pairs[0]["seeds"] == 2
    assert pairs[0]["W1_test ours"] == pytest.approx(w1[0, :2].mean())
    assert pairs[0]["W1_test ForestFlow"] == pytest.approx(w1[1, :2].mean())
    assert pairs[0]["fit ratio"] == pytest.approx(0.1)
    wins = int(w1[0, :2].mean() <= w1[1, :2].mean())
    assert f"on {wins} of 1" in text and "the 2 seed(s)" in text


def test_join_runs_keeps_the_last_row_of_each_seed_and_the_time_of_the_runs_kept():
    old = [dict(_row("ours", None, 0.9), command="python tabular.py --tables t", elapsed_s="30"),
           dict(_row("ours", None, 0.8, table="u"), command="python tabular.py --tables u", elapsed_s="5")]
    new = [dict(_row("ours", 0, 0.7), command="python tabular.py --seed 0 --tables t", elapsed_s="20"),
           dict(_row("ours", 1, 0.6), command="python tabular.py --seed 1 --tables t", elapsed_s="10")]
    rows, runs = tabular.join_runs([old, new])
    by = {(r["table"], r["seed"]): r["W1_test"] for r in rows}
    assert by == {("t", 0): 0.7, ("u", 0): 0.8, ("t", 1): 0.6}  # the older seed-0 row of t is replaced
    assert sum(runs.values()) == 35  # the replaced run's 30 s no longer count


def test_variants_swap_only_the_teacher_of_ours():
    from types import SimpleNamespace

    args = SimpleNamespace(ours_params={"max_iter": 7}, variants=True, ff_jobs=1, epochs=1,
                           models="ours,ours (gmm teacher),ours (local teacher)")
    factories, _ = tabular.model_factories(args)
    assert list(factories) == ["ours", "ours (gmm teacher)", "ours (local teacher)"]
    params = {name: f(0).gen.estimator.get_params() for name, f in factories.items()}
    assert params["ours"]["teacher"] == "auto"
    for kind in ("gmm", "local"):
        got = params[f"ours ({kind} teacher)"]
        assert got["teacher"] == kind and got["max_iter"] == 7
        assert {k: v for k, v in got.items() if k != "teacher"} == \
            {k: v for k, v in params["ours"].items() if k != "teacher"}
