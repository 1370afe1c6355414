"""Labelling benchmark: score kernel against matmul, label error against evaluations, paper against ours.

Four measurements, in one run:

1. **Score kernel throughput.** :meth:`sklearn_diffgen.score.Kernel.denoise` on m queries against N
   data points, counted as the two matrix products it holds (4 m N d flops), divided by the
   throughput of ``torch.matmul`` on the same shapes (``(z @ x.T) @ x``, the whole m x N
   product at once), for d in {2, 10, 64}, float32 and float64. Also given: the ratio to the
   same two products run on our blocks (what is left is the softmax), and the speed-up over
   the implementation before this benchmark (a fresh m x N logits tensor per chunk, and a
   fresh softmax output). Medians of interleaved repeats.
2. **Label error against denoiser evaluations per label**, for every solver of
   ``SOLVERS`` on every grid of ``GRIDS`` (and EDM's rho = 7 grid in b/a, as a comparison),
   on two moons (2,000 rows, standardised, bandwidth h = 0.1) and on a 10-D set of two
   clusters (2,000 rows, a random linear map of N(0, I) with half the rows shifted by 3,
   standardised, h = 0.3). Error: root mean square over labels of the Euclidean distance to
   a 1,000-step Heun reference on the log-SNR grid from the same z (standardised units);
   its own accuracy is given by its distance to a 1,000-step ``dpmpp_3m``. The labels are
   those of ``make_labels`` (exact score), on each grid instead of the solver's own.
3. **The paper's settings against ours at equal label error.** Euler, 500 steps, uniform
   grid, Monte Carlo score over mini-batches of 1,000 points (as the authors' code), against
   the fewest ``dpmpp_3m`` steps whose exact-score labels are at least as accurate, on two
   moons with 2,000 rows; wall-clock time of the labelling alone.
4. ``--full`` or ``--million`` only: **labelling 1e6 rows x 10 columns** (the 10-D
   two-cluster law, bandwidth 0.2): time and peak resident memory in a fresh process, default
   budget (scikit-learn's working_memory, 1,024 MiB), the estimator's default solver and
   steps, ``--million-labels`` labels (default 10,000, what the estimator's ``n_labels="auto"`` takes at 1e6 rows; the time
   is linear in it). ``--million-fit`` adds a whole default ``fit`` on the same rows.

``--seed`` seeds the data and the Gaussian draws (0 by default).

Run: ``python benchmarks/labelling.py --quick`` (N = 1e4 in section 1, 300 labels in 2,
1,000 in 3: 24 s measured with ``--threads 1`` on 2 shared cores),
``python benchmarks/labelling.py`` (more sizes and labels: several minutes) or ``--full``
(adds N = 1e5 and section 4; 1,000 labels of section 4 took 38 s on one thread of a
shared machine, and a whole default fit of the 1e6 rows 318 s, 303 of them labelling).
``--quick --million --million-labels 1000 --million-fit --threads 1`` is what the
published page ran. Writes ``labelling.rst``, ``labelling_error.png`` and ``labelling.csv``
to ``--out`` (``doc/benchmarks`` by default). On a machine shared with other jobs, pass
``--threads 1`` (see ``benchmarks/speed.py``).
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch
from sklearn.datasets import make_moons

from report import (make_parser, page_header, parse_args, print_table, publish, rst_table, run_fresh,
                    save_figure, section)
from sklearn_diffgen import DiffusionSupervisedGenerator
from sklearn_diffgen.labeling import make_labels
from sklearn_diffgen.schedules import GRIDS, SCHEDULES, time_grid
from sklearn_diffgen.score import Kernel, choose_precision, chunk_rows
from sklearn_diffgen.solvers import SOLVERS, gaussian_start, integrate
from sklearn_diffgen.teacher import Teacher

SCHED = SCHEDULES["paper"]
BUDGET = 1024 * 2**20  # the estimator's default: scikit-learn's working_memory
MODES = {
    "quick": dict(kernel_n=(10_000,), kernel_m=512, kernel_rep=3, err_labels=300, err_evals=(10, 15, 20, 30),
                  paper_labels=1000, paper_rep=3),
    "standard": dict(kernel_n=(10_000, 30_000), kernel_m=1024, kernel_rep=5, err_labels=1000,
                     err_evals=(8, 10, 12, 15, 20, 30, 50), paper_labels=10_000, paper_rep=3),
    "full": dict(kernel_n=(10_000, 100_000), kernel_m=1024, kernel_rep=5, err_labels=2000,
                 err_evals=(8, 10, 12, 15, 20, 30, 50, 100), paper_labels=10_000, paper_rep=3),
}


# ------------------------------------------------------------------------------ data
def moons(n: int, seed: int = 0) -> torch.Tensor:
    X, _ = make_moons(n, noise=0.1, random_state=seed)
    return torch.as_tensor((X - X.mean(0)) / X.std(0))


def two_clusters(n: int, d: int = 10, seed: int = 0) -> torch.Tensor:
    """A random linear map of N(0, I_d), half the rows shifted by 3 in every column, standardised."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((d, d))
    X = rng.standard_normal((n, d)) @ A
    X[: n // 2] += 3.0
    return torch.as_tensor((X - X.mean(0)) / X.std(0))


# ------------------------------------------------------------------ 1. kernel speed
def denoise_before(z, x, a, b, budget_bytes=256 * 2**20):
    """The kernel as it was before this benchmark: fresh tensors for the logits and the weights."""
    bias = (-0.5 * a * a / (b * b)) * (x * x).sum(dim=1)
    rows = chunk_rows(x.shape[0], budget_bytes, x.element_size())
    out = torch.empty_like(z)
    for i in range(0, z.shape[0], rows):
        w = torch.softmax(torch.addmm(bias, z[i : i + rows], x.T, alpha=a / (b * b)), dim=1)
        out[i : i + rows] = w @ x
    return out


def blocked_gemms(z, kernel, xt, a, b):
    """``Kernel.denoise``'s two products on its blocks (:meth:`Kernel.logits`), without the softmax."""
    out = torch.empty_like(z)
    for i, w in kernel.logits(z, a, b, z.dtype):
        out[i : i + w.shape[0]] = torch.mm(xt, w.T).T
    return out


def interleaved(fns: dict, repeats: int) -> dict:
    """Median seconds of each function, calling them in turn so that load drifts hit all alike."""
    times = {k: [] for k in fns}
    for f in fns.values():  # warm-up
        f()
    for _ in range(repeats):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def kernel_section(cfg) -> list[dict]:
    rows = []
    g = torch.Generator().manual_seed(cfg["seed"])
    m = cfg["kernel_m"]
    for dtype in (torch.float32, torch.float64):
        prec = str(dtype).split(".")[1]
        for d in (2, 10, 64):
            for n in cfg["kernel_n"]:
                x = torch.randn(n, d, generator=g, dtype=dtype)
                z = 0.9 * x[:m] + 0.5 * torch.randn(m, d, generator=g, dtype=dtype)
                kernel, kernel2 = Kernel(x), Kernel(x)  # each with its own scratch block
                xt = x.T.contiguous()
                t = interleaved({
                    "matmul": lambda: torch.matmul(torch.matmul(z, xt), x),
                    "blocked": lambda: blocked_gemms(z, kernel2, xt, 0.9, 0.5),
                    "denoise": lambda: kernel.denoise(z, 0.9, 0.5, prec),
                    "before": lambda: denoise_before(z, x, 0.9, 0.5),
                }, cfg["kernel_rep"])
                gf = 4 * m * n * d / 1e9
                rows.append({
                    "dtype": prec, "d": d, "N": n, "m": m,
                    "denoise GFLOP/s": gf / t["denoise"], "matmul GFLOP/s": gf / t["matmul"],
                    "ratio to matmul": t["matmul"] / t["denoise"],
                    "ratio to blocked GEMMs": t["blocked"] / t["denoise"],
                    "speed-up over before": t["before"] / t["denoise"],
                    "denoise ms": 1e3 * t["denoise"],
                })
    return rows


# -------------------------------------------------------- 2. error against evaluations
def edm_grid(schedule, t_end, n_steps, sigma_max=80.0, rho=7.0):
    """EDM's grid (Karras et al. 2022), rho = 7 in b/a from sigma_max, after a jump from t = 1."""
    r_end = schedule.ratio(t_end)
    u = torch.linspace(0, 1, n_steps, dtype=torch.float64)  # n_steps - 1 intervals + the jump
    s = (sigma_max ** (1 / rho) + u * (r_end ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    ts = [1.0] + [schedule.t_from_ratio(float(v)) for v in s]
    ts[-1] = t_end
    return torch.tensor(ts, dtype=torch.float64)


def labels_on_grid(x, n_labels, solver, ts, seed=0, precision="auto"):
    """The exact-score labels of ``make_labels(Teacher(x, h), ...)`` on the grid ``ts`` instead
    of the solver's own (h is where ``ts`` ends), and the denoiser evaluations per label.

    The same Gaussian draws, the solver's registered Gaussian start on the first interval,
    and the same choice of precision at each time, from bounds over all labels.
    """
    kernel = Kernel(x, BUDGET)
    z = torch.randn(n_labels, x.shape[1], generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    bound, calls = float(z.norm(dim=1).max()), [0]

    def denoiser(zt, t):
        calls[0] += 1
        a, b = SCHED.alpha(t), SCHED.sigma(t)
        prec = choose_precision(a, b, a * kernel.x_max + b * bound, kernel.x_max, x.shape[1])
        return kernel.denoise(zt, a, b, prec if precision == "auto" else precision)

    history = None
    if SOLVERS[solver].gaussian_start:
        z, history = gaussian_start(z, *kernel.moments(), SCHED, ts)
        ts = ts[1:]
    z = integrate(solver, denoiser, z, ts, SCHED, history=history)
    return z / SCHED.alpha(float(ts[-1])), calls[0]


def evals_per_label(solver: str, n_steps: int) -> int:
    """Denoiser evaluations per label of ``solver`` on ``n_steps`` intervals of its grid."""
    entry = SOLVERS[solver]
    return entry.evals_per_step * (n_steps - int(entry.gaussian_start))


def rms(a, b) -> float:
    return float((a - b).pow(2).sum(1).mean().sqrt())


def error_section(cfg) -> tuple[list[dict], dict]:
    rows, refs = [], {}
    grids = {g: (lambda g: lambda s, t, n: time_grid(s, t, n, g))(g) for g in GRIDS}
    grids["edm (rho=7)"] = edm_grid
    seed = cfg["seed"]
    for name, x, h in (("two moons", moons(2000, seed), 0.1),
                       ("10-D two clusters", two_clusters(2000, 10, seed), 0.3)):
        t_end = SCHED.t_from_ratio(h)
        n = cfg["err_labels"]
        ref, _ = labels_on_grid(x, n, "heun", time_grid(SCHED, t_end, 1000, "logsnr"), seed, "float64")
        ts3 = time_grid(SCHED, t_end, 1000, "logsnr_end")
        ref3, _ = labels_on_grid(x, n, "dpmpp_3m", ts3, seed, "float64")
        refs[name] = rms(ref3, ref)
        for solver, entry in SOLVERS.items():
            for gname, grid in grids.items():
                row, made = {"data": name, "solver": solver, "grid": gname}, []
                for ev in cfg["err_evals"]:
                    n_steps = max(2, round(ev / entry.evals_per_step) + int(entry.gaussian_start))
                    lab, evals = labels_on_grid(x, n, solver, grid(SCHED, t_end, n_steps), seed)
                    row[str(ev)] = rms(lab, ref)
                    made.append(str(evals))
                rows.append({**row, "evals": "/".join(made)})
    return rows, refs


def error_figure(rows, cfg, out) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    evs = [str(e) for e in cfg["err_evals"]]
    for ax, data in zip(axes, ("two moons", "10-D two clusters")):
        for r in rows:
            if r["data"] != data or r["grid"] not in (SOLVERS[r["solver"]].spacing, "uniform"):
                continue
            if r["grid"] == "uniform" and r["solver"] != "euler":
                continue
            ev = [int(e) for e in r["evals"].split("/")]
            ax.loglog(ev, [r[e] for e in evs], "o-", label=f"{r['solver']} ({r['grid']})")
        ax.axhline(1e-2, color="grey", ls=":")
        ax.axvline(20, color="grey", ls=":")
        ax.set_title(data)
        ax.set_xlabel("denoiser evaluations per label")
    axes[0].set_ylabel("RMS label error (standardised)")
    axes[1].legend(fontsize=8)
    return save_figure(fig, "labelling_error", "label error against evaluations per label", out)


# ------------------------------------------------------------ 3. paper against ours
def timed_labels(teacher, n, solver, n_steps, repeats=1, seed=0, **kw):
    """Median seconds of ``make_labels`` over ``repeats`` runs, its labels and evaluations per label."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        _, lab = make_labels(teacher, n, SCHED, n_steps, solver=solver,
                             generator=torch.Generator().manual_seed(seed), budget_bytes=BUDGET, **kw)
        times.append(time.perf_counter() - t)
    return statistics.median(times), lab, evals_per_label(solver, n_steps)


def paper_section(cfg) -> list[dict]:
    seed, n, rep = cfg["seed"], cfg["paper_labels"], max(3, cfg["paper_rep"])
    teacher = Teacher(moons(2000, seed), 0.1)
    # heun with 600 evaluations: about 1e-4 from the exact map (section 2's error table)
    _, ref, _ = timed_labels(teacher, n, "heun", 300, seed=seed, precision="float64")
    rows = []
    t_p, lab_p, ev_p = timed_labels(teacher, n, "euler", 500, cfg["paper_rep"], seed, score_batch_size=1000)
    e_p = rms(lab_p, ref)
    rows.append({"setting": "paper: euler, 500 steps, uniform, mini-batch 1000", "evals": ev_p,
                 "RMS error": e_p, "seconds": t_p, "speed-up": 1.0})
    t_e, lab_e, ev_e = timed_labels(teacher, n, "euler", 500, cfg["paper_rep"], seed)
    rows.append({"setting": "euler, 500 steps, uniform, exact score", "evals": ev_e,
                 "RMS error": rms(lab_e, ref), "seconds": t_e, "speed-up": t_p / t_e})
    for label, target in (("at the paper's error", e_p), ("at RMS 1e-2", 1e-2)):
        for steps in range(3, 60):
            _, lab, _ = timed_labels(teacher, n, "dpmpp_3m", steps, seed=seed)
            if rms(lab, ref) <= target:
                t, lab, ev = timed_labels(teacher, n, "dpmpp_3m", steps, rep, seed)
                rows.append({"setting": f"ours {label}: dpmpp_3m, {steps} steps, logsnr_end, exact",
                             "evals": ev, "RMS error": rms(lab, ref), "seconds": t, "speed-up": t_p / t})
                break
    default = DiffusionSupervisedGenerator()
    for name, solver, steps in (("default", default.solver, default.n_steps),
                                ("previous default", "dpmpp_2m", 20)):
        t_d, lab_d, ev_d = timed_labels(teacher, n, solver, steps, rep, seed)
        rows.append({"setting": f"{name}: {solver}, {steps} steps, {SOLVERS[solver].spacing}, exact",
                     "evals": ev_d, "RMS error": rms(lab_d, ref), "seconds": t_d, "speed-up": t_p / t_d})
    return rows


# ------------------------------------------------------------------ 4. a million rows
def million_section(n_labels: int, threads: int | None, fit: bool = False, seed: int = 0,
                    ours=None) -> list[dict]:
    """Label (and with ``fit``, fit the estimator, with parameters ``ours``, on) 1e6 x 10 rows in
    fresh processes."""
    setup = f"""
import time, torch
from report import limit_threads
limit_threads({threads!r})
from labelling import two_clusters, SCHED, BUDGET
from sklearn_diffgen import DiffusionSupervisedGenerator
from sklearn_diffgen.labeling import make_labels
from sklearn_diffgen.teacher import Teacher
x = two_clusters(1_000_000, 10, {seed!r}).to(torch.float64)
"""
    default = DiffusionSupervisedGenerator()
    solver, steps = default.solver, default.n_steps
    common = {"threads": threads or torch.get_num_threads(), "rows x cols": "1e6 x 10"}
    code = f"""
t0 = time.perf_counter()
make_labels(Teacher(x, 0.2), {n_labels}, SCHED, {steps}, solver={solver!r},
            generator=torch.Generator().manual_seed({seed!r}), budget_bytes=BUDGET)
seconds = time.perf_counter() - t0
"""
    out = run_fresh(code, setup=setup, result="seconds")
    rows = [{"job": f"labelling, h = 0.2, {solver}, {steps} steps", "labels": n_labels, **common,
             "seconds": out["result"], "peak RSS MiB": out["peak_mib"],
             "RSS above data MiB": out["peak_mib"] - out["setup_mib"]}]
    if fit:
        code = f"""
X = x.numpy()
t0 = time.perf_counter()
est = DiffusionSupervisedGenerator(random_state={seed!r}, **{ours or {}!r}).fit(X)
res = dict(est.fit_times_, total=time.perf_counter() - t0, bandwidth_=est.bandwidth_, n_labels_=est.n_labels_)
"""
        out = run_fresh(code, setup=setup, result="res")
        r = out["result"]
        rows.append({"job": f"fit, default parameters (``bandwidth_`` {r['bandwidth_']:.3g}; labelling "
                            f"{r['labelling']:.0f} s, training {r['training']:.0f} s)",
                     "labels": r["n_labels_"], **common, "seconds": r["total"],
                     "peak RSS MiB": out["peak_mib"],
                     "RSS above data MiB": out["peak_mib"] - out["setup_mib"]})
    return rows


# ----------------------------------------------------------------------------- main
def main(argv=None):
    parser = make_parser(__doc__)
    parser.add_argument("--full", action="store_true", help="more sizes, labels and section 4")
    parser.add_argument("--million", action="store_true", help="run section 4 (implied by --full)")
    parser.add_argument("--million-labels", type=int, default=10_000)
    parser.add_argument("--million-fit", action="store_true",
                        help="in section 4, also fit the estimator with default parameters")
    args = parse_args(parser, argv)
    if args.quick and args.full:
        parser.error("--quick and --full exclude each other")
    mode = "quick" if args.quick else "full" if args.full else "standard"
    cfg = dict(MODES[mode], seed=args.seed)
    start = time.perf_counter()
    csv_rows, parts = [], []

    kern = kernel_section(cfg)
    cols = ["dtype", "d", "N", "m", "denoise GFLOP/s", "matmul GFLOP/s", "ratio to matmul",
            "ratio to blocked GEMMs", "speed-up over before", "denoise ms"]
    print_table(kern, cols, "{:.3g}", "1. score kernel throughput (4 m N d flops) against torch.matmul")
    parts.append(("Score kernel throughput", KERNEL_TEXT, rst_table(kern, cols, "{:.3g}")))
    csv_rows += [{"table": "kernel", **r} for r in kern]

    err, refs = error_section(cfg)
    evs = [str(e) for e in cfg["err_evals"]]
    cols = ["data", "solver", "grid", "evals"] + evs
    print_table(err, cols, "{:.2e}", "2. RMS label error (standardised) against evaluations per label "
                f"(columns: target evaluations; 'evals' gives the counts made); reference error {refs}")
    fig = error_figure(err, cfg, args.out)
    ref_text = ", ".join(f"{k}: {v:.1e}" for k, v in refs.items())
    parts.append(("Label error against evaluations per label",
                  ERROR_TEXT + f"\nDistance between the two 1,000-step references: {ref_text}.\n",
                  rst_table(err, cols, "{:.2e}") + "\n" + (fig or "")))
    csv_rows += [{"table": "error", **r} for r in err]

    pap = paper_section(cfg)
    cols = ["setting", "evals", "RMS error", "seconds", "speed-up"]
    print_table(pap, cols, "{:.3g}", f"3. labelling {cfg['paper_labels']} labels of two moons (2,000 rows): "
                "the paper's settings against ours")
    parts.append(("The paper's settings against ours", PAPER_TEXT.format(n=cfg["paper_labels"]),
                  rst_table(pap, cols, "{:.3g}")))
    csv_rows += [{"table": "paper", **r} for r in pap]

    if mode == "full" or args.million:
        mil = million_section(args.million_labels, args.threads, args.million_fit, args.seed,
                              args.ours_params)
        cols = ["job", "labels", "threads", "rows x cols", "seconds", "peak RSS MiB", "RSS above data MiB"]
        print_table(mil, cols, "{:.4g}", "4. labelling 1e6 rows x 10 columns")
        parts.append(("A million rows", MILLION_TEXT, rst_table(mil, cols, "{:.4g}")))
        csv_rows += [{"table": "million", **r} for r in mil]

    elapsed = time.perf_counter() - start
    text = page_header("Labelling", args.command, elapsed) + INTRO
    for title, prose, table in parts:
        text += f"\n{section(title)}{prose}\n{table}"
    publish("labelling", text, csv_rows, elapsed, args.out)


INTRO = """Labelling is the expensive part of ``fit``: ``n_labels`` trajectories of the
probability-flow ODE, each step one evaluation of the training-free denoiser, a softmax over
all N data points. ``benchmarks/labelling.py`` measures the kernel against the hardware's
matrix product, the solvers' error against the number of evaluations, and the time the
paper's settings take against ours at equal error. A nearest-neighbour (top-k) truncation of
the score was removed after it measured slower than the exact kernel in every row of its table.
"""

KERNEL_TEXT = """The kernel writes the logits of a block of queries with one ``addmm`` (the bias
fused in), turns them into weights in place (``torch.softmax(..., out=)``) and reduces with a
second product, on one block of at most 64 MiB reused from step to step. The ratio to
``torch.matmul`` compares with the two products on the whole m x N shape; above 1 the
blocked kernel beats a plain matmul that streams the whole m x N product through memory.
The ratio to blocked GEMMs is the share of the time spent in the products: the rest is the
softmax, which bounds the kernel at small d.
"""

ERROR_TEXT = """Columns give the target number of denoiser evaluations per label (``evals`` lists
the counts actually made: ``heun`` makes two per step, ``dpmpp_3m`` none for the first interval,
which it takes by the Gaussian flow of the data's moments). Each solver runs with its
registered Gaussian start on every grid. The issue's target is an RMS error of 1e-2 with at
most 20 evaluations.
"""

PAPER_TEXT = """{n} labels, two moons with 2,000 rows (standardised), bandwidth 0.1, the
``paper`` schedule, scikit-learn's default working memory. The paper's Monte Carlo score
makes its labels follow a different, random smoothing of the data, so its error against the
exact map does not shrink with more steps; ours at equal error needs a handful of steps.
"""

MILLION_TEXT = """Labelling of the 10-D two-cluster law at 1e6 rows, bandwidth 0.2, with the
estimator's default solver and steps, in a fresh process: peak resident memory of the whole
process, and above the interpreter, the libraries and the data (80 MB in float64). The
(labels x data) blocks follow the budget, not N x n_labels. The time is linear in the number
of labels; at small b/a the logits need float64 (``choose_precision``), which costs two to
three times float32 there. With ``--million-fit``, also the whole ``fit`` with default
parameters (cross-validated bandwidth, 10,000 labels, both networks).
"""


if __name__ == "__main__":
    main()
