"""Labelling: integrate the probability-flow ODE from Gaussian draws to make (z, x) training pairs.

:func:`make_labels` labels one batch of draws in this process. :func:`make_labels_parallel`
splits the labels into tasks of :data:`LABEL_CHUNK`, each seeded by its index, and runs them
through :class:`joblib.Parallel`: in this process by default, in worker processes with
``n_jobs``, and on a cluster's workers under ``joblib.parallel_config(backend="dask")``, with
the same labels, bit for bit, everywhere.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from ._progress import progress_bar
from ._validation import run_tasks
from .schedules import LinearSchedule
from .score import chunk_rows
from .solvers import SOLVERS, solve
from .teacher import Teacher

__all__ = ["make_labels", "make_labels_parallel", "label_tasks", "LABELS_PER_MINIBATCH", "LABEL_CHUNK"]

#: With a Monte Carlo score, each block of this many labels draws its own mini-batch of the
#: data, so the labels do not depend on the memory budget.
LABELS_PER_MINIBATCH = 1024
#: Labels per task of :func:`make_labels_parallel` (a multiple of :data:`LABELS_PER_MINIBATCH`).
LABEL_CHUNK = 4096


def make_labels(
    teacher: Teacher,
    n_labels: int,
    schedule: LinearSchedule,
    n_steps: int,
    *,
    solver: str = "dpmpp_3m",
    generator: torch.Generator,
    score_batch_size: int | None = None,
    budget_bytes: int = 256 * 2**20,
    precision: str = "auto",
    verbose: bool | str = False,
) -> tuple[Tensor, Tensor]:
    r"""Draw :math:`z \sim N(0, I)` and carry each by the probability-flow ODE to a label of the teacher.

    The ODE runs on the teacher's data from t = 1 to :math:`t_{\mathrm{end}}`, where
    :math:`b/a` equals the teacher's bandwidth h (:func:`~sklearn_diffgen.solvers.solve`, on
    the solver's own grid). Each label is :math:`x = c\, z_{t_{\mathrm{end}}} / a(t_{\mathrm{end}})`
    with the teacher's scale c. With the exact score the labels follow the teacher
    (:class:`~sklearn_diffgen.teacher.Teacher`), and :math:`z \mapsto x` is the
    deterministic ODE map, which the generator then learns by regression.

    Labels are integrated in chunks sized so that each (chunk x data) block fits
    ``budget_bytes``. With ``score_batch_size`` each block of :data:`LABELS_PER_MINIBATCH`
    labels draws its own random mini-batch of the data and keeps it for all its steps (the
    paper's Monte Carlo score), so that each trajectory follows one consistent vector field.

    The cost is :math:`O(n_{\mathrm{labels}}\, N\, d)` per evaluation. For large N,
    ``score_batch_size`` = m cuts it by N / m: a block's labels then follow the data of its
    mini-batch smoothed by h, and since every data point is in a block's mini-batch with
    probability m / N, a label's law, averaged over the mini-batch draw, is still the
    teacher. Labels of one block are correlated through their shared mini-batch, and each
    block sees only m points, so pick h for m rows rather than N.

    Parameters
    ----------
    teacher : Teacher
        The data (on the device the work should run on), bandwidth and scale.
    n_labels : int
        Number of (z, x) pairs.
    schedule : LinearSchedule
        Noise schedule.
    n_steps : int
        Intervals of the solver's time grid.
    solver : str
        A key of :data:`~sklearn_diffgen.solvers.SOLVERS`.
    generator : torch.Generator
        CPU generator for the Gaussian draws and mini-batches, so that the labels do not
        depend on the device.
    score_batch_size : int or None
        Data points per Monte Carlo mini-batch; None uses all of them (exact score).
    budget_bytes : int
        Memory budget for the (labels x data) blocks.
    precision : {"auto", "float32", "float64"}
        Arithmetic of the score's logits. ``auto`` decides at each time from bounds over all
        labels (:math:`|z_t| \le a |x|_{\max} + b |z_1|_{\max}`, nearly), so the choice does not
        depend on the chunking (see :func:`~sklearn_diffgen.score.choose_precision`). The ODE
        state itself is kept in float64.
    verbose : bool or "auto"
        Show a progress bar over chunks and steps (``"auto"``: only once it has run 2 s).

    Returns
    -------
    z : Tensor of shape (n_labels, d), float64
        Gaussian inputs, on the teacher's device.
    labels : Tensor of shape (n_labels, d), float64
        ODE outputs in the teacher's coordinates, on its device.

    Examples
    --------
    >>> from sklearn_diffgen.schedules import SCHEDULES
    >>> x = torch.randn(50, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> z, lab = make_labels(Teacher(x, 0.1), 8, SCHEDULES["paper"], 10,
    ...                      generator=torch.Generator().manual_seed(1))
    >>> z.shape, lab.shape
    (torch.Size([8, 2]), torch.Size([8, 2]))
    """
    kernel = teacher.kernel(budget_bytes)
    n, d = teacher.data.shape
    t_end = schedule.t_from_ratio(teacher.ode_bandwidth)
    n_data = n if score_batch_size is None else min(score_batch_size, n)
    rows = chunk_rows(n_data, budget_bytes, itemsize=8)
    z0 = torch.randn(n_labels, d, generator=generator, dtype=torch.float64).to(teacher.data.device)
    labels = torch.empty_like(z0)
    a_end = schedule.alpha(t_end)
    x_max = kernel.x_max
    k_max = 0.0 if kernel.variances is None else float(kernel.variances.max())
    z_max = float(z0.norm(dim=1).max()) if n_labels else 0.0
    block = max(1, n_labels) if score_batch_size is None else LABELS_PER_MINIBATCH
    with progress_bar(verbose, total=n_labels * n_steps, desc="labelling", unit="step") as bar:
        for j in range(0, n_labels, block):
            kb = kernel.minibatch(score_batch_size, generator)
            moments = kb.moments() if SOLVERS[solver].gaussian_start else None

            def denoiser(z, t, kb=kb):
                a, b = schedule.alpha(t), schedule.sigma(t)
                s = math.sqrt(a * a * k_max + b * b)  # the widest component's noise
                prec = kb.precision(a, b, a * x_max + s * z_max, x_max) if precision == "auto" else precision
                return kb.denoise(z, a, b, prec)

            for i in range(j, min(j + block, n_labels), rows):
                k = min(i + rows, j + block, n_labels)
                zi = solve(solver, denoiser, z0[i:k], schedule, t_end, n_steps, moments=moments,
                           callback=lambda *_, n=k - i: bar.update(n))
                labels[i:k] = zi / a_end
    return z0, teacher.scale * labels


def label_tasks(n_labels: int, seed: int) -> list[tuple[int, int]]:
    """The (size, seed) of each labelling task: :data:`LABEL_CHUNK` labels a task, the last one
    shorter, with seeds drawn from ``numpy.random.SeedSequence(seed)``.

    Examples
    --------
    >>> [size for size, _ in label_tasks(10_000, seed=0)]
    [4096, 4096, 1808]
    >>> [s for _, s in label_tasks(10_000, 0)][:2] == [s for _, s in label_tasks(5_000, 0)]  # fixed by index
    True
    """
    sizes = [min(LABEL_CHUNK, n_labels - i) for i in range(0, n_labels, LABEL_CHUNK)]
    seeds = np.random.SeedSequence(int(seed)).generate_state(len(sizes)) if sizes else []
    return [(size, int(s)) for size, s in zip(sizes, seeds)]


def _label_task(size: int, seed: int, *, data, bandwidth: float, scale: float, log_weights=None, widths=None,
                bases=None, local_variances=None, **kw):
    """One task of :func:`make_labels_parallel`: (z, labels) as CPU arrays."""
    tensor = lambda a: None if a is None else torch.as_tensor(a)  # noqa: E731
    teacher = Teacher(torch.as_tensor(data), bandwidth, scale, tensor(log_weights), tensor(widths), tensor(bases),
                      tensor(local_variances))
    z, x = make_labels(teacher, size, generator=torch.Generator().manual_seed(seed), **kw)
    return z.cpu().numpy(), x.cpu().numpy()


def make_labels_parallel(
    teacher: Teacher,
    n_labels: int,
    schedule: LinearSchedule,
    n_steps: int,
    *,
    seed: int,
    n_jobs: int | None = None,
    solver: str = "dpmpp_3m",
    score_batch_size: int | None = None,
    budget_bytes: int = 256 * 2**20,
    verbose: bool | str = False,
) -> tuple[Tensor, Tensor]:
    r""":func:`make_labels` in tasks that run anywhere joblib runs them, with the same labels.

    Task k labels the draws of its own seed (:func:`label_tasks`) on one thread, so the labels
    depend on ``seed`` and ``n_labels`` only: not on ``n_jobs``, the joblib backend, or a
    task that a cluster reruns after a worker died. On the CPU the tasks go through
    ``joblib.Parallel(n_jobs=n_jobs)``: in this process for None (unless a
    :func:`joblib.parallel_config` context says otherwise), in worker processes otherwise,
    and on a Dask cluster's workers under ``parallel_config(backend="dask")``. The data are
    passed as one array, which is scattered to every Dask worker once (so that a worker that
    dies takes no data with it) and which joblib's default backend memory-maps. Each running
    task uses ``budget_bytes``. On another device the tasks run in this process, on that
    device.

    Parameters
    ----------
    teacher, n_labels, schedule, n_steps, solver, score_batch_size, budget_bytes
        As for :func:`make_labels`.
    seed : int
        Seeds the tasks' draws.
    n_jobs : int or None
        Tasks run at once, with joblib's meaning.
    verbose : bool or "auto"
        Show a progress bar over the labels (``"auto"``: only once it has run 2 s).

    Returns
    -------
    z, labels : Tensor of shape (n_labels, d), float64
        On the teacher's device.

    Examples
    --------
    >>> from sklearn_diffgen.schedules import SCHEDULES
    >>> x = torch.randn(50, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> z, lab = make_labels_parallel(Teacher(x, 0.1), 5000, SCHEDULES["paper"], 10, seed=1)
    >>> tuple(lab.shape)  # two tasks: 4096 and 904 labels
    (5000, 2)
    """
    device = teacher.data.device
    on_cpu = device.type == "cpu"
    host = (lambda t: None if t is None else t.numpy()) if on_cpu else (lambda t: t)  # arrays: memory-mapped by loky
    shared = dict(data=host(teacher.data), log_weights=host(teacher.log_weights), widths=host(teacher.widths),
                  bases=host(teacher.bases), local_variances=host(teacher.local_variances), bandwidth=teacher.bandwidth,
                  scale=teacher.scale, schedule=schedule, n_steps=n_steps, solver=solver,
                  score_batch_size=score_batch_size, budget_bytes=budget_bytes)
    results = run_tasks(_label_task, label_tasks(n_labels, seed), n_jobs=n_jobs, shared=shared,
                        in_process=not on_cpu)
    z, x = [], []
    with progress_bar(verbose, total=n_labels, desc="labelling", unit="label") as bar:
        for zi, xi in results:
            z.append(torch.from_numpy(zi))
            x.append(torch.from_numpy(xi))
            bar.update(len(zi))
    return torch.cat(z).to(device), torch.cat(x).to(device)
