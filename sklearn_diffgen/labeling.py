"""Labelling: integrate the probability-flow ODE from Gaussian draws to make (z, x) training pairs."""

from __future__ import annotations

import torch
from torch import Tensor
from tqdm.auto import tqdm

from .schedules import LinearSchedule
from .score import choose_precision, chunk_rows
from .solvers import SOLVERS, solve
from .teacher import Teacher

__all__ = ["make_labels", "LABELS_PER_MINIBATCH"]

#: With a Monte Carlo score, each block of this many labels draws its own mini-batch of the
#: data, so the labels do not depend on the memory budget.
LABELS_PER_MINIBATCH = 1024


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
    verbose: bool = False,
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
    verbose : bool
        Show a progress bar over chunks and steps.

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
    t_end = schedule.t_from_ratio(teacher.bandwidth)
    n_data = n if score_batch_size is None else min(score_batch_size, n)
    rows = chunk_rows(n_data, budget_bytes, itemsize=8)
    z0 = torch.randn(n_labels, d, generator=generator, dtype=torch.float64).to(teacher.data.device)
    labels = torch.empty_like(z0)
    a_end = schedule.alpha(t_end)
    x_max = kernel.x_max
    z_max = float(z0.norm(dim=1).max()) if n_labels else 0.0
    block = max(1, n_labels) if score_batch_size is None else LABELS_PER_MINIBATCH
    with tqdm(total=n_labels * n_steps, disable=not verbose, desc="labelling", unit="step") as bar:
        for j in range(0, n_labels, block):
            kb = kernel.minibatch(score_batch_size, generator)
            moments = kb.moments() if SOLVERS[solver].gaussian_start else None

            def denoiser(z, t, kb=kb):
                a, b = schedule.alpha(t), schedule.sigma(t)
                prec = precision
                if prec == "auto":
                    prec = choose_precision(a, b, a * x_max + b * z_max, x_max, d)
                return kb.denoise(z, a, b, prec)

            for i in range(j, min(j + block, n_labels), rows):
                k = min(i + rows, j + block, n_labels)
                zi = solve(solver, denoiser, z0[i:k], schedule, t_end, n_steps, moments=moments,
                           callback=lambda *_, n=k - i: bar.update(n))
                labels[i:k] = zi / a_end
    return z0, teacher.scale * labels
