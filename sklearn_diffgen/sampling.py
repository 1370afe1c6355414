"""Sampling a one-step generator: one forward pass x = F(z) + s e, in noise blocks that keep rows reproducible."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._validation import run_tasks

__all__ = ["draw", "CACHE_ROWS", "NOISE_BLOCK", "SAMPLE_TASK_ROWS"]

#: Rows of noise drawn per call of the random generator: torch's CPU normal sampler fills
#: blocks of 16 values and handles a short tail differently, and float32 matrix kernels
#: round differently for few rows, so whole blocks keep every row chunk-invariant.
NOISE_BLOCK = 64
#: :func:`draw` of more rows than this, on the CPU, pushes them through F as joblib tasks of
#: this many rows (a multiple of :data:`NOISE_BLOCK`).
SAMPLE_TASK_ROWS = 65_536
#: Rows that go through F at once on the CPU (a multiple of :data:`NOISE_BLOCK`): a block of
#: 2,048 rows keeps the hidden activations of the default widths in the core's cache, and
#: pushes about 3 times as many rows a second as blocks of 65,536.
CACHE_ROWS = 2048


def _noise(generator: torch.Generator, m: int, d: int) -> Tensor:
    """z and e for m rows, side by side, in whole blocks of :data:`NOISE_BLOCK` rows."""
    return torch.cat([torch.randn(NOISE_BLOCK, 2 * d, generator=generator, dtype=torch.float64)
                      for _ in range(0, m, NOISE_BLOCK)])


@torch.no_grad()
def _push(w: Tensor, *, F: nn.Module, d: int, noise: float, keep_z: bool = False) -> Tensor:
    """F(z) + s e for the rows of w = [z, e], F on its own device, on the CPU in float64
    (with z beside it when ``keep_z``)."""
    param = next(F.parameters())
    z = w[:, :d].to(param.device, param.dtype)
    if param.device.type == "cpu":
        y = torch.cat([F(z[i:i + CACHE_ROWS]) for i in range(0, len(z), CACHE_ROWS)])
    else:
        y = F(z)
    x = y.double().cpu() + noise * w[:, d:]
    return torch.cat([x, w[:, :d]], dim=1) if keep_z else x


@torch.no_grad()
def draw(F: nn.Module, n_samples: int, n_features: int, noise: float, generator: torch.Generator,
         rows: int, n_jobs: int | None = None, return_z: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    r"""``n_samples`` draws of :math:`x = F(z) + s e`, :math:`z, e \sim N(0, I)`, on the CPU in float64.

    F maps ``n_features`` inputs to as many outputs. z and e are drawn side by side on the CPU ``generator`` in blocks of :data:`NOISE_BLOCK`
    rows and pushed through F (on its device) in chunks of about ``rows`` rows, so that row i
    depends only on the generator's seed and i: ``draw(n)`` starts with ``draw(m)`` for
    m < n, whatever the chunk size and the device. On the CPU, more than
    :data:`SAMPLE_TASK_ROWS` rows go through F as joblib tasks of that many rows,
    ``joblib.Parallel(n_jobs=n_jobs)``, one thread each (in this process for None, in worker
    processes, or on Dask workers), with the same rows: the noise is still drawn here, in order.
    ``return_z`` also returns the z of each row.

    Examples
    --------
    >>> F = nn.Linear(2, 2)
    >>> a = draw(F, 100, 2, 0.1, torch.Generator().manual_seed(0), rows=64)
    >>> b = draw(F, 10, 2, 0.1, torch.Generator().manual_seed(0), rows=1000)
    >>> a.shape, bool(torch.equal(a[:10], b))
    (torch.Size([100, 2]), True)
    """
    param, d = next(F.parameters()), int(n_features)
    kw = dict(F=F, d=d, noise=noise, keep_z=return_z)
    if n_samples > SAMPLE_TASK_ROWS and param.device.type == "cpu":
        blocks = ((_noise(generator, min(SAMPLE_TASK_ROWS, n_samples - i), d),)
                  for i in range(0, n_samples, SAMPLE_TASK_ROWS))
        out = torch.cat(list(run_tasks(_push, blocks, n_jobs=n_jobs, shared=kw)))[:n_samples]
    else:
        rows = NOISE_BLOCK * max(1, rows // NOISE_BLOCK)
        out = torch.cat([_push(_noise(generator, min(rows, n_samples - i), d), **kw)[: n_samples - i]
                         for i in range(0, n_samples, rows)])
    return (out[:, :d], out[:, d:]) if return_z else out
