"""Speed of DiffusionSupervisedGenerator against its peers, measured in one run: fit, sampling, scoring, memory.

Four measurements, each reported next to the peers timed in the same run and as a ratio to them:

1. **Fit time** of ``DiffusionSupervisedGenerator()`` (defaults) with its ``fit_times_``
   breakdown (bandwidth cross-validation, labelling, generator training),
   against ``KernelDensity`` tuned by ``GridSearchCV`` over 20 bandwidths, ``GaussianMixture``
   tuned by ``GridSearchCV`` over 6 sizes and zuko's NSF (one fit, early stopping), on two
   moons (2,000 training rows) and wine (13-D; plus 8,000 rows of diamonds in full mode).
   Every fit runs in a fresh Python process, which also gives its **peak memory** (4).
2. **Sampling throughput** (rows/s, 10,000 and 100,000 rows) of the fitted two-moons models:
   ours, ``GaussianMixture.sample``, ``KernelDensity.sample``, NSF, and the *teacher sampler*:
   the same training-free score and ODE run at sample time (``make_labels`` on the fitted
   estimator's ``teacher_``, with its schedule, solver and steps, mapped back to data units by
   its ``preprocessing_``, so whitening and the variance correction apply as in ``fit``), i.e.
   the diffusion model that the one-step generator replaces; also the authors' teacher
   (Euler, 500 steps, 1,000-point Monte Carlo score).
3. **score_samples throughput** (rows/s) against ``KernelDensity.score_samples`` as the
   training set grows (N = 1e3, 1e4, 1e5, a correlated 5-D Gaussian) and at d = 8 and 32
   (N = 10,000). Ours has the default network there, trained for 20 epochs on a Monte Carlo
   score over 1,000 points: only scoring speed is measured, and our scoring cost does not
   depend on N. The scoring
   rates of the fully fitted two-moons models are given too.
4. **Peak memory** (MiB, peak RSS of the fresh process of each fit in 1), in total and on
   top of the interpreter, the imported libraries and the data.

Fit times are medians over ``--repeats`` fits (seeds ``seed .. seed+repeats-1`` for ours).
Sampling and scoring make one warm-up call, then take the median of 3 calls, or the warm-up's
time when that call took 2 s or more. Every library runs with its default thread count unless
``--threads`` is given, which then applies to every model alike. Without zuko the NSF rows
are left out, and the page says so.

Run: ``python benchmarks/speed.py --quick`` (1 fit per model, wine as the only real set, NSF
training capped at 15 s, teachers timed on fewer rows): 139 s measured on 2 cores with
``--threads 1`` while other jobs shared the machine; or ``python benchmarks/speed.py`` (full
mode: 3 fits per model, diamonds added, teachers timed up to 100,000 rows): about 15 minutes
on 2 cores, estimated from the quick run. Writes ``doc/benchmarks/speed.rst`` and
``speed.csv`` (every table's rows, full precision).

On a machine shared with other jobs, pass ``--threads 1``: torch's default of one thread per
core made our training about 20 times slower there (OpenMP threads waiting on each other),
and the peers' BLAS threads suffer likewise, which distorts every ratio.
"""

from __future__ import annotations

import pickle
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn import get_config
from sklearn.neighbors import KernelDensity
from sklearn.preprocessing import StandardScaler

from peers_flow import zuko_missing
from peers_sklearn import gmm_grid, score_counting
from report import (docstring_body, make_parser, median_time, page_header, parse_args, print_table, publish,
                    rst_table, run_fresh, section)
from sklearn_diffgen import DiffusionSupervisedGenerator
from sklearn_diffgen.datasets import load_split, make_correlated_gaussian
from sklearn_diffgen.labeling import make_labels
from sklearn_diffgen.schedules import SCHEDULES
from sklearn_diffgen.teacher import Teacher, variance_scale

#: Rows of each data set passed to load_split (80 % of them train). None: the whole set.
DATASETS = {"moons": 2500, "wine": None, "diamonds": 10000}
SAMPLE_SIZES = (10_000, 100_000)
SCORE_TRAIN_SIZES = (1_000, 10_000, 100_000)
#: Dimensions and training rows of the wide scoring rows (the issue-14 targets at d = 8 and 32).
SCORE_WIDE_DIMS, SCORE_WIDE_N = (8, 32), 10_000
#: Calls per timing of sampling and scoring (median).
CALLS = 3

# ------------------------------------------------------------------------------------ fits
# Each fit runs in a fresh process (report.run_fresh). Its setup imports only what that model
# needs (torch for ours and NSF, scikit-learn alone for KDE and GMM, as a user's process would)
# and loads the standardised split that the parent saved; FITS[model] fits and pickles the
# model; the child times the fit itself, imports excluded.
SETUP = """
import pickle, time, warnings
import numpy as np
{imports}
warnings.simplefilter("ignore")
{threads}
data = np.load({path!r})
Xtr, Xva = data["train"], data["validation"]
n, d = Xtr.shape
parts = {{}}
"""
IMPORTS = {
    "ours": "from sklearn_diffgen import DiffusionSupervisedGenerator",
    "KernelDensity": "from sklearn.model_selection import GridSearchCV, KFold\n"
                     "from sklearn.neighbors import KernelDensity",
    "GaussianMixture": "from sklearn.model_selection import GridSearchCV, KFold\n"
                       "from sklearn.mixture import GaussianMixture",
    "NSF": "import peers_flow, zuko",
}
FITS = {
    "ours": """
model = DiffusionSupervisedGenerator(random_state={seed}, keep_training_data=True, **{ours!r}).fit(Xtr)
parts = dict(model.fit_times_, epochs=model.n_iter_)
""",
    "KernelDensity": """
grid = {{"bandwidth": n ** (-1 / (d + 4)) * np.logspace(-1.3, 0.3, 20)}}
cv = KFold(5, shuffle=True, random_state={seed})
model = GridSearchCV(KernelDensity(), grid, cv=cv).fit(Xtr).best_estimator_
""",
    "GaussianMixture": """
grid = {{"n_components": {gmm_grid!r}}}
cv = KFold(5, shuffle=True, random_state={seed})
est = GaussianMixture(covariance_type="full", random_state={seed})
model = GridSearchCV(est, grid, cv=cv).fit(Xtr).best_estimator_
""",
    "NSF": """
model = peers_flow.NSF(random_state={seed}, max_seconds={nsf_seconds!r}).fit(Xtr, Xva)
parts = dict(epochs=model.n_epochs_)
""",
}
FIT_LABELS = {
    "ours": "ours (defaults)",
    "KernelDensity": "KernelDensity, GridSearchCV 20 bandwidths",
    "GaussianMixture": "GaussianMixture, GridSearchCV 6 sizes",
    "NSF": "NSF (zuko), early stopping",
}


def fit_fresh(model: str, data_path: Path, seed: int, path: Path, nsf_seconds=None, threads=None,
              ours=None) -> dict:
    """Fit one model in a fresh process; return its fit seconds, parts and peak memory."""
    n_train = int(np.load(data_path)["train"].shape[0])
    # the same limit for every model: BLAS and OpenMP pools, and torch's own where it is used
    uses_torch = model in ("ours", "NSF")
    limit = f"from report import limit_threads; limit_threads({threads!r}, with_torch={uses_torch})"
    setup = SETUP.format(imports=IMPORTS[model], path=str(data_path), threads=limit)
    # 6 component counts, at least 10 rows per component in a CV fold (4/5 of the rows)
    grid = gmm_grid(6, int(0.8 * n_train))
    code = ("start = time.perf_counter()\n"
            + FITS[model].format(seed=seed, nsf_seconds=nsf_seconds, gmm_grid=grid, ours=ours or {})
            + "fit_s = time.perf_counter() - start\n"
            + f"pickle.dump(model, open({str(path)!r}, 'wb'))\n")
    out = run_fresh(code, setup=setup, result="dict(fit_s=fit_s, parts=parts, n=n, d=d)")
    return dict(out["result"], peak_mib=out["peak_mib"], setup_mib=out["setup_mib"])


def load_standardised(name: str, seed: int) -> dict:
    """The split of ``name``, standardised with the training split's StandardScaler."""
    split = load_split(name, n_samples=DATASETS[name], random_state=seed)
    scaler = StandardScaler().fit(split.train)
    return {part: scaler.transform(getattr(split, part)) for part in ("train", "validation", "test")}


def measure_fits(splits, repeats, seed, tmp: Path, nsf_seconds, threads, flow=True, ours=None):
    """Fit every model on every data set ``repeats`` times (NSF once, on two moons only, with
    ``flow``); ours with the parameters ``ours`` on top of the defaults."""
    fits, models = [], {}
    for name, split in splits.items():
        data_path = tmp / f"{name}.npz"
        np.savez(data_path, **split)
        for model in FITS:
            if model == "NSF" and (name != "moons" or not flow):
                continue
            runs = []
            for r in range(1 if model == "NSF" else repeats):
                path = tmp / f"{model}-{name}.pkl"
                runs.append(fit_fresh(model, data_path, seed + r, path, nsf_seconds, threads, ours))
                print(f"  fitted {model} on {name} (run {r + 1}): {runs[-1]['fit_s']:.1f} s, "
                      f"peak {runs[-1]['peak_mib']:.0f} MiB", flush=True)
            with open(path, "rb") as f:
                models[model, name] = pickle.load(f)
            fits.append(dict(model=model, data=name, runs=runs))
    return fits, models


def _median(runs, key):
    return float(np.median([r[key] for r in runs]))


def fit_tables(fits, logliks):
    """Rows of the fit-time and memory tables; ratios are ours / peer on the same data."""
    ours = {f["data"]: f for f in fits if f["model"] == "ours"}
    time_rows, mem_rows = [], []
    for f in fits:
        runs, o = f["runs"], ours[f["data"]]["runs"]
        t, t_ours = _median(runs, "fit_s"), _median(o, "fit_s")
        row = {"data": f"{f['data']} ({runs[0]['n']}x{runs[0]['d']})", "model": FIT_LABELS[f["model"]],
               "fits": len(runs), "fit s": t}
        if f["model"] == "ours":
            for part in ("bandwidth", "labelling", "training", "epochs"):
                row[part] = float(np.median([r["parts"][part] for r in runs]))
        elif f["model"] == "NSF":
            row["epochs"] = runs[0]["parts"]["epochs"]
        row["ours / peer"] = t_ours / t
        row["test log-lik"] = logliks[f["model"], f["data"]]
        time_rows.append(row)
        peak, added = _median(runs, "peak_mib"), float(np.median([r["peak_mib"] - r["setup_mib"] for r in runs]))
        o_peak = _median(o, "peak_mib")
        o_added = float(np.median([r["peak_mib"] - r["setup_mib"] for r in o]))
        mem_rows.append({"data": row["data"], "model": row["model"], "peak RSS MiB": peak,
                         "ours / peer": o_peak / peak, "added by fit MiB": added,
                         "ours / peer (added)": o_added / added if added >= 1 else None})
    return time_rows, mem_rows


# ------------------------------------------------------------------------------- sampling
def timed_calls(fn, slow_s=2.0):
    """Seconds of ``fn()``: one warm-up call, then the median of :data:`CALLS` calls when the
    warm-up took less than ``slow_s`` seconds (else the warm-up's own time, to bound the cost)."""
    t, result = median_time(fn, 1)
    return (t, result) if t >= slow_s else median_time(fn, CALLS)


class TeacherSampler:
    """The training-free teacher of a fitted estimator, run at sample time: each row solves the ODE.

    ``sample(n)`` labels n draws :math:`z \\sim N(0, I)` with
    :func:`sklearn_diffgen.labeling.make_labels` on the estimator's ``teacher_`` (fitted with
    ``keep_training_data=True``: its data in model coordinates, bandwidth and variance scale), as its ``fit`` does, and maps the labels
    back to data units with its ``preprocessing_``, so whitening and the variance correction
    apply as in the fit. The schedule, solver, steps and Monte Carlo batch are the
    estimator's unless given; another ``bandwidth`` keeps the estimator's choice of variance
    correction, with the scale of the new width.
    """

    def __init__(self, est: DiffusionSupervisedGenerator, *, bandwidth=None, schedule=None, solver=None,
                 n_steps=None, score_batch_size=None):
        teacher = est.teacher_
        if bandwidth is not None and bandwidth != teacher.bandwidth:
            scale = variance_scale(bandwidth) if est.variance_correction_ else 1.0
            teacher = Teacher(teacher.data, float(bandwidth), scale)
        self.teacher, self.preprocessing = teacher, est.preprocessing_
        self.schedule = SCHEDULES[schedule or est.schedule]
        self.solver, self.n_steps = solver or est.solver, n_steps or est.n_steps
        self.score_batch_size = score_batch_size or est.score_batch_size

    def sample(self, n_samples, random_state=0):
        _, labels = make_labels(self.teacher, n_samples, self.schedule, self.n_steps, solver=self.solver,
                                generator=torch.Generator().manual_seed(int(random_state)),
                                score_batch_size=self.score_batch_size,
                                budget_bytes=int(get_config()["working_memory"] * 2**20))
        return self.preprocessing.from_model(labels.cpu().numpy())


class GMMSampler:
    """``GaussianMixture.sample`` behind the ``sample(n, random_state)`` signature: the seed is
    set as the estimator's ``random_state`` (which its ``sample`` draws from) and the rows
    are returned without their component labels, so only sklearn's own sampling is timed."""

    def __init__(self, gmm):
        self.gmm = gmm

    def sample(self, n_samples, random_state=0):
        return self.gmm.set_params(random_state=random_state).sample(n_samples)[0]


def measure_sampling(models, seed, quick):
    """Rows/s of every sampler at each size; ours / peer ratios of the rates."""
    est = models["ours", "moons"]
    authors = dict(bandwidth=max(est.bandwidth_, SCHEDULES["authors"].min_ratio), schedule="authors",
                   solver="euler", n_steps=500, score_batch_size=1000)
    samplers = {
        "ours (one forward pass)": (est, SAMPLE_SIZES),
        "GaussianMixture.sample": (GMMSampler(models["GaussianMixture", "moons"]), SAMPLE_SIZES),
        "KernelDensity.sample": (models["KernelDensity", "moons"], SAMPLE_SIZES),
        "NSF (zuko) sample": (models.get(("NSF", "moons")), SAMPLE_SIZES),  # None without zuko
        # the teachers cost O(rows x N x steps): timed on fewer rows where that takes too long
        f"teacher: {est.solver}, {est.n_steps} steps, exact score": (
            TeacherSampler(est), (10_000,) if quick else SAMPLE_SIZES),
        "teacher: authors' (euler, 500 steps, 1,000-point batch)": (
            TeacherSampler(est, **authors), (1_000,) if quick else (10_000,)),
    }
    samplers = {label: entry for label, entry in samplers.items() if entry[0] is not None}
    rates = {}
    for label, (model, sizes) in samplers.items():
        for n in sizes:
            t, X = timed_calls(lambda: model.sample(n, random_state=seed))
            assert X.shape == (n, 2), X.shape
            rates[label, n] = n / t
        print(f"  sampled {label}: " + ", ".join(f"{rates[label, n]:.3g} rows/s at {n}" for n in sizes),
              flush=True)
    ours = {n: rates["ours (one forward pass)", n] for n in SAMPLE_SIZES}
    rows = []
    for label, (_, sizes) in samplers.items():
        row = {"sampler": label}
        for n in SAMPLE_SIZES:
            # a teacher timed on fewer rows: its rate at the nearest size it was timed at
            m = min(sizes, key=lambda s: abs(np.log(s / n)))
            row[f"rows/s ({n:,})"] = rates[label, m]
            row[f"ours / peer ({n:,})"] = ours[n] / rates[label, m]
        row["rows timed"] = ", ".join(f"{s:,}" for s in sizes)
        rows.append(row)
    return rows


# -------------------------------------------------------------------------------- scoring
def measure_scoring(models, X_test, seed, quick):
    """Rows/s of score_samples: the fitted two-moons models, and against KDE as N grows."""
    n_rows = 300 if quick else 1000
    X_moons = X_test[:n_rows]
    moons = []
    for model in [m for m in FITS if (m, "moons") in models]:
        m = models[model, "moons"]  # score_counting: ours' non-converged rows are counted, not printed
        t, _ = timed_calls(lambda: score_counting(m, X_moons))
        moons.append({"model": FIT_LABELS[model], "rows/s": len(X_moons) / t})
    for row in moons:
        row["ours / peer"] = moons[0]["rows/s"] / row["rows/s"]

    growth = []
    for d, n_train in [(5, n) for n in SCORE_TRAIN_SIZES] + [(d, SCORE_WIDE_N) for d in SCORE_WIDE_DIMS]:
        X = make_correlated_gaussian(n_train + n_rows, d, random_state=seed)
        X_train, X_eval = X[:n_train], X[n_train:]
        scott = n_train ** (-1 / (d + 4))  # data are standardised below: Scott's factor
        mean, std = X_train.mean(0), X_train.std(0)
        X_train, X_eval = (X_train - mean) / std, (X_eval - mean) / std
        kde = KernelDensity(bandwidth=scott).fit(X_train)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = DiffusionSupervisedGenerator(bandwidth=scott, max_iter=20, score_batch_size=1000,
                                                random_state=seed).fit(X_train)
        t_kde, _ = timed_calls(lambda: kde.score_samples(X_eval))
        t_ours, (_, n_failed) = timed_calls(lambda: score_counting(ours, X_eval))
        growth.append({"d": d, "N train": n_train, "KernelDensity rows/s": n_rows / t_kde,
                       "ours rows/s": n_rows / t_ours, "ours / KDE": t_kde / t_ours,
                       "unconverged": n_failed})
        print(f"  scored d={d}, N={n_train}: KDE {n_rows / t_kde:.3g} rows/s, ours {n_rows / t_ours:.3g} rows/s",
              flush=True)
    return moons, growth, len(X_moons), n_rows


# ----------------------------------------------------------------------------------- main
def main(argv=None):
    parser = make_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=None,
                        help="fits per model and data set (default 3; 1 with --quick)")
    args = parse_args(parser, argv)  # --threads: this process and its children, every model alike
    repeats = args.repeats or (1 if args.quick else 3)
    names = ["moons", "wine"] if args.quick else ["moons", "wine", "diamonds"]
    nsf_seconds = 15.0 if args.quick else None
    no_flow = zuko_missing()
    start = time.perf_counter()

    print(f"1. fits ({repeats} per model, each in a fresh process)", flush=True)
    if no_flow:
        print(f"  NSF skipped: {no_flow}", flush=True)
    splits = {name: load_standardised(name, args.seed) for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        fits, models = measure_fits(splits, repeats, args.seed, Path(tmp), nsf_seconds, args.threads,
                                    flow=not no_flow, ours=args.ours_params)
    print("2. sampling", flush=True)
    sampling = measure_sampling(models, args.seed, args.quick)
    print("3. scoring", flush=True)
    X_test = splits["moons"]["test"]
    scoring_moons, scoring_growth, n_moons, n_rows = measure_scoring(models, X_test, args.seed, args.quick)
    logliks = {key: float(np.mean(score_counting(m, splits[key[1]]["test"])[0]))
               for key, m in models.items()}
    time_rows, mem_rows = fit_tables(fits, logliks)
    elapsed = time.perf_counter() - start

    fmt = "{:.3g}"
    nsf_note = (f"NSF is left out: {no_flow}" if no_flow else "NSF is fitted once" + (
        ", its training capped at 15 s in --quick mode" if args.quick else ""))
    sections = [
        ("Fit time", "Seconds, median of the fits; ``ours / peer`` above 1 means our fit takes "
         "longer. Our columns ``bandwidth`` (cross-validation of the teacher KDE), "
         "``labelling`` and ``training`` (generator) are its ``fit_times_``; "
         "``epochs`` is the generator's. " + nsf_note + ". Each fit runs in a fresh process and is timed "
         "there, imports excluded. "
         "``test log-lik`` is the mean log-likelihood of the test split under the last fit "
         "(nats, standardised units), for context; ``benchmarks/quality.py`` measures quality.",
         time_rows, None),
        ("Sampling throughput", "Rows per second drawn from the two-moons models (median of "
         f"{CALLS} calls after a warm-up; the warm-up alone when it took 2 s or more). "
         "``ours / peer`` above 1 "
         "means ours is faster. The teachers integrate the probability-flow ODE of the "
         "training-free score at sample time: first with our fitted estimator's own settings "
         "(the model our generator distils), then with the authors' released settings at our "
         "fitted bandwidth (at least 0.1, the smallest their schedule reaches). Where a teacher "
         "was timed on fewer rows than a column names (``rows timed``), that column and its "
         "ratio give the rate measured on those rows.", sampling, None),
        ("Scoring throughput of the fitted two-moons models", f"score_samples on the {n_moons} "
         "test rows, rows per second (timed as sampling); ``ours / peer`` above 1 means ours "
         "is faster. Our cost per row is d forward-mode passes and a d x d solve per "
         "Levenberg-Marquardt iteration, and the number of iterations depends on the fitted "
         "map and the rows (compare the 5-D Gaussian below).", scoring_moons, None),
        ("Scoring throughput as the training set and the dimension grow", f"score_samples on "
         f"{n_rows} rows of a correlated d-dimensional Gaussian, both models with Scott's "
         "bandwidth on standardised data. KernelDensity's cost grows with N (tree search over "
         "the training rows); ours is a fixed network inversion whose cost does not depend on "
         "N, and grows with d. Ours has the default network and labels, trained for 20 epochs "
         "only on a Monte Carlo score over 1,000 points: only the scoring speed is measured. "
         "``ours / KDE`` above 1 means ours is faster; ``unconverged`` counts our rows whose "
         "inversion did not converge.",
         scoring_growth, None),
        ("Peak memory of fit", "Peak resident memory (MiB) of the fresh process of each fit "
         "in the first table (median over fits), and what the fit added on top of the "
         "interpreter, the imported libraries and the data. Each process imports only what its "
         "model needs: torch for ours and NSF, scikit-learn alone for KernelDensity and "
         "GaussianMixture, so the totals include torch's own footprint where a user pays it. "
         "``ours / peer`` above 1 means ours uses more; the ratio of the added memory is left "
         "empty where the peer added less than 1 MiB.", mem_rows, None),
    ]
    page = page_header("Speed and memory", args.command, elapsed) + docstring_body(__doc__) + "\n"
    for title, text, rows, cols in sections:
        print_table(rows, cols, fmt, title=title)
        page += f"{section(title)}{text}\n\n{rst_table(rows, cols, fmt)}\n"
    publish("speed", page, [dict(table=title, **row) for title, _, rows, _ in sections for row in rows],
            elapsed, args.out)


if __name__ == "__main__":
    sys.exit(main())
