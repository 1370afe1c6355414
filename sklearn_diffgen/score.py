"""Training-free denoiser and score of the diffused empirical distribution, chunked to a memory budget."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["denoise", "score", "chunk_rows", "logit_error_bound", "choose_precision", "minibatch"]

#: float32 is used for the logits when their worst-case rounding error stays below this many
#: nats; it perturbs each softmax weight by at most this relative amount.
FLOAT32_LOGIT_TOL = 1e-3


def chunk_rows(n_cols: int, budget_bytes: int, itemsize: int = 8, n_buffers: int = 3) -> int:
    """Rows of a (rows x n_cols) block such that ``n_buffers`` of them fit ``budget_bytes``.

    Examples
    --------
    >>> chunk_rows(1000, 8 * 1000 * 3 * 10)
    10
    """
    return max(1, int(budget_bytes) // max(1, n_cols * itemsize * n_buffers))


def logit_error_bound(a: float, b: float, z_max: float, x_max: float, eps: float, d: int = 1) -> float:
    r"""Bound on the absolute rounding error of the logits in a floating type with unit ``eps``.

    The logits :math:`(a\,z \cdot x_n - a^2 |x_n|^2 / 2) / b^2` hold length-d dot products,
    whose rounding error is at most :math:`d\,\epsilon\,\sum_i |z_i x_i|
    \le d\,\epsilon\,|z| |x|` (to first order in :math:`\epsilon`), plus one rounding for
    each of the scaling and the sum, so

    .. math:: (d + 2)\,\epsilon\,(a\,|z|_{\max} |x|_{\max} + a^2 |x|_{\max}^2 / 2) / b^2 .

    Examples
    --------
    >>> logit_error_bound(1.0, 0.1, 2.0, 2.0, 1e-7, d=2)  # 4e-7 * 6 / 0.01
    0.00024...
    """
    return (d + 2) * eps * (a * z_max * x_max + 0.5 * a * a * x_max * x_max) / (b * b)


def choose_precision(a: float, b: float, z_max: float, x_max: float, d: int = 1) -> str:
    """``"float32"`` when its logit error bound is below ``FLOAT32_LOGIT_TOL``, else ``"float64"``.

    Examples
    --------
    >>> choose_precision(0.5, 1.0, 3.0, 3.0, d=2), choose_precision(1.0, 0.001, 3.0, 3.0, d=2)
    ('float32', 'float64')
    """
    err = logit_error_bound(a, b, z_max, x_max, torch.finfo(torch.float32).eps, d)
    return "float32" if err < FLOAT32_LOGIT_TOL else "float64"


def minibatch(x: Tensor, size: int | None, generator: torch.Generator) -> Tensor:
    """A random subset of ``size`` rows of ``x`` drawn without replacement (all rows if None).

    The permutation is drawn on the CPU ``generator``, so the subset does not depend on the
    device ``x`` lives on.

    Examples
    --------
    >>> minibatch(torch.arange(10.0)[:, None], 3, torch.Generator().manual_seed(0)).shape
    torch.Size([3, 1])
    """
    if size is None or size >= x.shape[0]:
        return x
    idx = torch.randperm(x.shape[0], generator=generator)[:size]
    return x[idx.to(x.device)]


def denoise(
    z: Tensor,
    x: Tensor,
    a: float,
    b: float,
    *,
    x_sqnorm: Tensor | None = None,
    budget_bytes: int = 256 * 2**20,
    precision: str = "auto",
) -> Tensor:
    r"""Posterior mean :math:`D(z) = E[x \mid z_t = z]` under the empirical distribution of ``x``.

    For data points :math:`x_1, \dots, x_N` diffused as :math:`z_t = a x + b \epsilon`,

    .. math::

        D(z) = \sum_n w_n(z)\, x_n, \qquad
        w = \operatorname{softmax}_n\!\Big(\frac{a\, z \cdot x_n - a^2 |x_n|^2 / 2}{b^2}\Big),

    the softmax of :math:`-|z - a x_n|^2 / (2 b^2)` with the row constant :math:`|z|^2`
    dropped. It is two matrix products and a softmax that subtracts the row maximum, so it
    neither overflows nor underflows at small b or in high dimension. With a subset of the
    data in ``x`` it is the paper's Monte Carlo estimate.

    Parameters
    ----------
    z : Tensor of shape (m, d)
        Noisy points, in the units of :math:`z_t`.
    x : Tensor of shape (N, d)
        Data points (all of them, or a mini-batch).
    a, b : float
        Schedule coefficients at the current time; ``b > 0``.
    x_sqnorm : Tensor of shape (N,), optional
        Precomputed :math:`|x_n|^2`.
    budget_bytes : int
        Memory for the (queries x data) blocks; queries are processed in chunks that fit.
    precision : {"auto", "float32", "float64"}
        Arithmetic of the logits. ``auto`` applies :func:`choose_precision` to the largest
        norms in ``z`` and ``x``; callers that chunk should decide once for all chunks.

    Returns
    -------
    D : Tensor of shape (m, d), in the dtype of ``z``.

    Examples
    --------
    >>> x = torch.tensor([[-1.0], [1.0]], dtype=torch.float64)
    >>> denoise(torch.zeros(1, 1, dtype=torch.float64), x, 1.0, 0.5)
    tensor([[0.]], dtype=torch.float64)
    """
    if not b > 0:
        raise ValueError(f"b must be positive, got {b!r}")
    out_dtype = z.dtype
    if precision == "auto":
        z_max = float(z.norm(dim=1).max()) if z.numel() else 0.0
        x_max = float(x.norm(dim=1).max()) if x.numel() else 0.0
        precision = choose_precision(a, b, z_max, x_max, z.shape[1])
    dtype = {"float32": torch.float32, "float64": torch.float64}[precision]
    x = x.to(dtype)
    if x_sqnorm is None:
        x_sqnorm = (x * x).sum(dim=1)
    bias = (-0.5 * a * a / (b * b)) * x_sqnorm.to(dtype)
    scale = a / (b * b)
    rows = chunk_rows(x.shape[0], budget_bytes, x.element_size())
    out = torch.empty(z.shape, dtype=out_dtype, device=z.device)
    for i in range(0, z.shape[0], rows):
        zc = z[i : i + rows].to(dtype)
        logits = torch.addmm(bias, zc, x.T, alpha=scale)
        w = torch.softmax(logits, dim=1)
        out[i : i + rows] = (w @ x).to(out_dtype)
    return out


def score(z: Tensor, x: Tensor, a: float, b: float, **kwargs) -> Tensor:
    r"""Score :math:`\nabla_z \log p_t(z) = (a\,D(z) - z) / b^2` of the diffused empirical law.

    Keyword arguments go to :func:`denoise`.

    Examples
    --------
    >>> x = torch.zeros(3, 2, dtype=torch.float64)
    >>> score(torch.ones(1, 2, dtype=torch.float64), x, 0.5, 1.0)
    tensor([[-1., -1.]], dtype=torch.float64)
    """
    return (a * denoise(z, x, a, b, **kwargs) - z) / (b * b)

