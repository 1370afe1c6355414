"""Labelling: integrate the probability-flow ODE from Gaussian draws to make (z, x) training pairs."""

from __future__ import annotations

import inspect

import torch
from torch import Tensor
from tqdm.auto import tqdm

from .schedules import LinearSchedule
from .score import TruncatedDenoiser, Workspace, choose_precision, chunk_rows, denoise, minibatch
from .solvers import SOLVERS, gaussian_start as _gaussian_start

__all__ = ["make_labels", "LABELS_PER_MINIBATCH"]

#: With a Monte Carlo score, each block of this many labels draws its own mini-batch of the
#: data, so the labels do not depend on the memory budget.
LABELS_PER_MINIBATCH = 1024


def make_labels(
    x: Tensor,
    n_labels: int,
    schedule: LinearSchedule,
    ts: Tensor,
    *,
    solver: str = "dpmpp_2m",
    generator: torch.Generator,
    score_batch_size: int | None = None,
    budget_bytes: int = 256 * 2**20,
    precision: str = "auto",
    verbose: bool = False,
    topk: int | None = None,
    topk_tol: float = 1e-6,
    stats: dict | None = None,
    gaussian_start: bool | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Draw :math:`z \sim N(0, I)` and solve the probability-flow ODE from t = 1 to ``ts[-1]``.

    Each label is :math:`x = z_{t_{\mathrm{end}}} / a(t_{\mathrm{end}})`. With the exact score
    the labels are distributed as the data smoothed by a Gaussian of width
    :math:`h = b(t_{\mathrm{end}}) / a(t_{\mathrm{end}})`, and :math:`z \mapsto x` is the
    deterministic ODE map, which the generator then learns by regression.

    Labels are integrated in chunks sized so that each (chunk x data) block fits
    ``budget_bytes``. With ``score_batch_size`` each block of :data:`LABELS_PER_MINIBATCH`
    labels draws its own random mini-batch of the data and keeps it for all its steps (the
    paper's Monte Carlo score), so that each trajectory follows one consistent vector field.

    The cost is :math:`O(n_{\mathrm{labels}}\, N\, d)` per evaluation. For large N,
    ``score_batch_size`` = m cuts it by N / m: a block's labels then follow the data of its
    mini-batch smoothed by h, and since every data point is in a block's mini-batch with
    probability m / N, a label's law, averaged over the mini-batch draw, is still the whole
    data smoothed by h. Labels of one block are correlated through their shared mini-batch,
    and each block sees only m points, so pick h for m rows rather than N (a bandwidth for
    N rows leaves the labels clustered around the m points).

    Parameters
    ----------
    x : Tensor of shape (N, d)
        Standardised data, on the device the work should run on.
    n_labels : int
        Number of (z, x) pairs.
    schedule : LinearSchedule
        Noise schedule.
    ts : Tensor
        Decreasing time grid from 1 to t_end (see :func:`~sklearn_diffgen.schedules.time_grid`).
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
    topk : int or None
        Nearest-neighbour truncation: each chunk of trajectories is scored by a
        :class:`~sklearn_diffgen.score.TruncatedDenoiser` that keeps ``topk`` candidates per
        label and drops at most ``topk_tol`` of the weight mass per evaluation (rows where
        that cannot be guaranteed are scored exactly). None (the default) is the exact
        denoiser, or the Monte Carlo one with ``score_batch_size``.
    topk_tol : float
        Tolerance on the dropped weight mass for ``topk``; each evaluation is then within
        :math:`2\,\mathrm{topk\_tol} \max_n |x_n|` of the untruncated one.
    stats : dict or None
        When given, filled with the truncation's row counts (``rows``, ``cached``, ``topk``,
        ``exact``; see :class:`~sklearn_diffgen.score.TruncatedDenoiser`) and the number of
        denoiser ``evaluations`` per label.
    gaussian_start : bool or None
        Take the first interval of ``ts`` by :func:`~sklearn_diffgen.solvers.gaussian_start`
        with the mean and covariance of the data (of each mini-batch), at no denoiser cost,
        and hand the solver its Gaussian history. None follows the solver's registry entry
        (True for ``dpmpp_3m``, whose ``logsnr_end`` grid starts at
        :math:`b/a = 10`; False for the others).

    Returns
    -------
    z : Tensor of shape (n_labels, d), float64
        Gaussian inputs, on ``x.device``.
    labels : Tensor of shape (n_labels, d), float64
        ODE outputs in data units, on ``x.device``.

    Examples
    --------
    >>> from sklearn_diffgen.schedules import SCHEDULES, time_grid
    >>> s = SCHEDULES["paper"]
    >>> x = torch.randn(50, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> z, lab = make_labels(x, 8, s, time_grid(s, 0.01, 10), generator=torch.Generator().manual_seed(1))
    >>> z.shape, lab.shape
    (torch.Size([8, 2]), torch.Size([8, 2]))
    """
    step = SOLVERS[solver].fn
    if gaussian_start is None:
        gaussian_start = SOLVERS[solver].gaussian_start
    takes_history = "history" in inspect.signature(step).parameters
    n_data = x.shape[0] if score_batch_size is None else min(score_batch_size, x.shape[0])
    rows = chunk_rows(n_data, budget_bytes, itemsize=8)
    n_steps = len(ts) - 1
    z0 = torch.randn(n_labels, x.shape[1], generator=generator, dtype=torch.float64)
    z0 = z0.to(x.device)
    labels = torch.empty_like(z0)
    a_end = schedule.alpha(float(ts[-1]))
    x_max = float(x.norm(dim=1).max())
    z_max = float(z0.norm(dim=1).max()) if n_labels else 0.0
    block = max(1, n_labels) if score_batch_size is None else LABELS_PER_MINIBATCH
    workspace = Workspace()  # one (labels x data) block for every chunk and step
    with tqdm(total=n_labels * n_steps, disable=not verbose, desc="labelling", unit="step") as bar:
        for j in range(0, n_labels, block):
            xb = minibatch(x, score_batch_size, generator)
            xb64 = xb.to(torch.float64)
            sq = (xb64 * xb64).sum(dim=1)  # float64, as the logits' error bound assumes
            if gaussian_start:
                moments = (xb64.mean(dim=0), torch.cov(xb64.T, correction=0).reshape(x.shape[1], -1))

            end = min(j + block, n_labels)
            if topk is not None:
                sigma_first = TruncatedDenoiser.first_sigma(xb, topk, topk_tol, x_sqnorm=sq,
                                                            budget_bytes=budget_bytes)
            for i in range(j, end, rows):
                k = min(i + rows, end)
                trunc = None
                if topk is not None:  # its neighbour cache follows this chunk's trajectories
                    trunc = TruncatedDenoiser(xb, topk, topk_tol, x_sqnorm=sq, budget_bytes=budget_bytes,
                                              workspace=workspace, sigma_first=sigma_first)

                calls = [0]

                def denoiser(z, t, xb=xb, sq=sq, trunc=trunc, calls=calls):
                    calls[0] += 1
                    a, b = schedule.alpha(t), schedule.sigma(t)
                    prec = precision
                    if prec == "auto":
                        prec = choose_precision(a, b, a * x_max + b * z_max, x_max, x.shape[1])
                    if trunc is not None:
                        return trunc(z, a, b, prec)
                    return denoise(z, xb, a, b, x_sqnorm=sq, budget_bytes=budget_bytes, precision=prec,
                                   workspace=workspace)

                progress = lambda *_, n=k - i: bar.update(n)  # noqa: E731
                if gaussian_start:
                    zi, history = _gaussian_start(z0[i:k], *moments, schedule, ts)
                    progress()
                    kw = {"history": history} if takes_history else {}
                    zi = step(denoiser, zi, ts[1:], schedule, callback=progress, **kw)
                else:
                    zi = step(denoiser, z0[i:k], ts, schedule, callback=progress)
                labels[i:k] = zi / a_end
                if stats is not None:
                    stats["evaluations"] = calls[0]
                    for key, v in (trunc.stats.items() if trunc is not None else ()):
                        stats[key] = stats.get(key, 0) + v
    return z0, labels
