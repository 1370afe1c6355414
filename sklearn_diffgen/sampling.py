"""Sampling a one-step generator: one forward pass x = F(z) + s e, in noise blocks that keep rows reproducible."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["draw", "NOISE_BLOCK"]

#: Rows of noise drawn per call of the random generator: torch's CPU normal sampler fills
#: blocks of 16 values and handles a short tail differently, and float32 matrix kernels
#: round differently for few rows, so whole blocks keep every row chunk-invariant.
NOISE_BLOCK = 64


@torch.no_grad()
def draw(F: nn.Module, n_samples: int, n_features: int, noise: float, generator: torch.Generator,
         rows: int) -> Tensor:
    r"""``n_samples`` draws of :math:`x = F(z) + s e`, :math:`z, e \sim N(0, I)`, on the CPU in float64.

    F maps ``n_features`` inputs to as many outputs. z and e are drawn side by side on the CPU ``generator`` in blocks of :data:`NOISE_BLOCK`
    rows and pushed through F (on its device) in chunks of about ``rows`` rows, so that row i
    depends only on the generator's seed and i: ``draw(n)`` starts with ``draw(m)`` for
    m < n, whatever the chunk size and the device.

    Examples
    --------
    >>> F = nn.Linear(2, 2)
    >>> a = draw(F, 100, 2, 0.1, torch.Generator().manual_seed(0), rows=64)
    >>> b = draw(F, 10, 2, 0.1, torch.Generator().manual_seed(0), rows=1000)
    >>> a.shape, bool(torch.equal(a[:10], b))
    (torch.Size([100, 2]), True)
    """
    param, d = next(F.parameters()), int(n_features)
    rows = NOISE_BLOCK * max(1, rows // NOISE_BLOCK)
    out = []
    for i in range(0, n_samples, rows):
        m = min(rows, n_samples - i)
        w = torch.cat([torch.randn(NOISE_BLOCK, 2 * d, generator=generator, dtype=torch.float64)
                       for _ in range(0, m, NOISE_BLOCK)])
        fz = F(w[:, :d].to(param.device, param.dtype)).double().cpu()
        out.append((fz + noise * w[:, d:])[:m])
    return torch.cat(out)
