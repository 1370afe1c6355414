"""Training-free denoiser and score of the diffused empirical distribution, chunked to a memory budget."""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "denoise",
    "score",
    "chunk_rows",
    "logit_error_bound",
    "choose_precision",
    "minibatch",
    "Workspace",
    "MAX_BLOCK_BYTES",
    "denoise_topk",
    "TruncatedDenoiser",
]

#: float32 is used for the logits when their worst-case rounding error stays below this many
#: nats; it perturbs each softmax weight by at most this relative amount.
FLOAT32_LOGIT_TOL = 1e-3

#: Largest (queries x data) block that :func:`denoise` fills at once, whatever the budget.
#: On 2 CPU cores (AVX-512, MKL) blocks of 8 to 128 MiB ran within 20 % of each other and
#: blocks of 2 MiB or less up to twice as slow (``benchmarks/labelling.py``); a block this
#: size is written and read back while it is still partly in the last-level cache.
MAX_BLOCK_BYTES = 64 * 2**20


# ---------------------------------------------------------------------------- memory


class Workspace:
    """Scratch memory for the (queries x data) blocks, kept between calls.

    A fresh block of tens of MiB costs its page faults at every call (as much time as the
    softmax itself); :func:`denoise` takes its block from a workspace instead, so a solver
    that passes the same one to every step pays them once. One byte buffer serves both
    float32 and float64 blocks. It also keeps the data in each compute dtype, transposed
    (:meth:`data`). Not thread-safe: one workspace per concurrent caller.

    Examples
    --------
    >>> ws = Workspace()
    >>> ws.block(2, 3, torch.float64, "cpu").shape, ws.nbytes
    (torch.Size([2, 3]), 48)
    >>> ws.block(4, 3, torch.float32, "cpu").shape, ws.nbytes  # fits: no new allocation
    (torch.Size([4, 3]), 48)
    """

    def __init__(self):
        self._buf: Tensor | None = None
        self._data: dict = {}  # dtype -> (x, version, x in dtype, its transpose)

    @property
    def nbytes(self) -> int:
        """Bytes currently held."""
        return 0 if self._buf is None else self._buf.numel()

    def block(self, rows: int, cols: int, dtype: torch.dtype, device) -> Tensor:
        """A contiguous (rows x cols) tensor of ``dtype`` on ``device``, with arbitrary contents."""
        n = rows * cols * torch.empty((), dtype=dtype).element_size()
        device = torch.device(device)
        buf = self._buf
        if buf is None or buf.numel() < n or buf.device.type != device.type or (
            device.index is not None and buf.device.index != device.index
        ):
            buf = self._buf = torch.empty(max(n, 1), dtype=torch.uint8, device=device)
        return buf[:n].view(dtype).view(rows, cols)

    def data(self, x: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """``x`` in ``dtype`` and its contiguous transpose, cached while ``x`` is unchanged.

        Casting and transposing N x d data costs as much as a block of tens of queries at
        N = 1e6 (50 to 150 ms on one core), and a solver asks for it at every step of every
        chunk of labels. The cache holds a reference to ``x`` (so its memory cannot be
        reused by another tensor) and its version counter (so an in-place change of ``x``
        is seen); a new tensor replaces the entry of its dtype.

        Examples
        --------
        >>> ws, x = Workspace(), torch.ones(3, 2, dtype=torch.float64)
        >>> xc, xt = ws.data(x, torch.float32)
        >>> xt.shape, ws.data(x, torch.float32)[1] is xt
        (torch.Size([2, 3]), True)
        """
        hit = self._data.get(dtype)
        if hit is not None and hit[0] is x and hit[1] == x._version:
            return hit[2], hit[3]
        xc = x.to(dtype)
        # the second product runs as (d x N) @ (N x rows): for d up to ~64 MKL runs it 1.5 to
        # 3 times faster than (rows x N) @ (N x d) on one core
        xt = xc.T.contiguous()
        self._data[dtype] = (x, x._version, xc, xt)
        return xc, xt


def chunk_rows(n_cols: int, budget_bytes: int, itemsize: int = 8, n_buffers: int = 3) -> int:
    """Rows of a (rows x n_cols) block such that ``n_buffers`` of them fit ``budget_bytes``.

    Examples
    --------
    >>> chunk_rows(1000, 8 * 1000 * 3 * 10)
    10
    """
    return max(1, int(budget_bytes) // max(1, n_cols * itemsize * n_buffers))


def logit_error_bound(a: float, b: float, z_max: float, x_max: float, eps: float, d: int = 1) -> float:
    r"""Bound on the absolute rounding error of the logits computed in a type of machine epsilon ``eps``.

    The logits are :math:`\mathrm{fl}(\beta_n + \alpha\, z \cdot x_n)` with
    :math:`\alpha = a / b^2` and the bias :math:`\beta_n = -a^2 |x_n|^2 / (2 b^2)` computed in
    float64 and rounded once to the working type (as :func:`denoise` does). With the unit
    roundoff :math:`u = \epsilon / 2` of round-to-nearest, the product term collects at most
    d + 5 roundings (z and x cast to the working type, d in the length-d dot product in any
    order, one for :math:`\alpha`, one for the scaling, one for the sum), relative to
    :math:`\alpha \sum_i |z_i x_i| \le \alpha |z| |x|`; the bias collects its float64 error
    (at most :math:`(d + 3)\,u_{64}`), its cast and the sum. So, with
    :math:`\gamma_k = k u / (1 - k u)`,

    .. math::

        \gamma_{d+5}\, \frac{a\,|z|_{\max} |x|_{\max}}{b^2}
        + \big(\gamma_2 + (d + 3)\,u_{64}\big) \frac{a^2 |x|_{\max}^2}{2 b^2}.

    In float64 (:math:`u = u_{64}`) the bias term is :math:`\gamma_{d+5}` too. At d = 10 this
    is 1.6 times below the cruder :math:`(d + 2)\,\epsilon` on the product term and 12 times
    on the bias term, 2.3 times in all on the 10-D data of ``benchmarks/labelling.py``, where
    it lets two more of the last steps run in float32.

    Examples
    --------
    >>> logit_error_bound(1.0, 0.1, 2.0, 2.0, 2.0**-23, d=2)  # ~ (7 * 4 + 2 * 2) u / 0.01
    0.00019...
    """
    u, u64 = 0.5 * eps, 0.5 * torch.finfo(torch.float64).eps
    gamma = lambda k: k * u / (1.0 - k * u)  # noqa: E731
    bias = gamma(2) + (d + 3) * u64 if u > u64 else gamma(d + 5)
    return (gamma(d + 5) * a * z_max * x_max + bias * 0.5 * a * a * x_max * x_max) / (b * b)


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
    workspace: Workspace | None = None,
) -> Tensor:
    r"""Posterior mean :math:`D(z) = E[x \mid z_t = z]` under the empirical distribution of ``x``.

    For data points :math:`x_1, \dots, x_N` diffused as :math:`z_t = a x + b \epsilon`,

    .. math::

        D(z) = \sum_n w_n(z)\, x_n, \qquad
        w = \operatorname{softmax}_n\!\Big(\frac{a\, z \cdot x_n - a^2 |x_n|^2 / 2}{b^2}\Big),

    the softmax of :math:`-|z - a x_n|^2 / (2 b^2)` with the row constant :math:`|z|^2`
    dropped. It is two matrix products and a softmax that subtracts the row maximum, so it
    neither overflows nor underflows at small b or in high dimension. With a subset of the
    data in ``x`` it is the paper's Monte Carlo estimate. At a = 0 (t = 1 in the paper's
    schedule) the weights are uniform and D is the mean of ``x``, returned without a pass
    over the (queries x data) block.

    Each block of queries is written once by the first product (with the bias fused in),
    turned into weights in place, and read once by the second product (computed as
    :math:`(x^\top W^\top)^\top`, the faster layout for small d): one block of memory,
    taken from ``workspace``, and three passes over it. At small d the exponentials bound the
    speed; at large d the products do (``benchmarks/labelling.py`` measures both against
    :func:`torch.matmul` on the same shapes).

    Parameters
    ----------
    z : Tensor of shape (m, d)
        Noisy points, in the units of :math:`z_t`.
    x : Tensor of shape (N, d)
        Data points (all of them, or a mini-batch).
    a, b : float
        Schedule coefficients at the current time; ``b > 0``.
    x_sqnorm : Tensor of shape (N,), optional
        Precomputed :math:`|x_n|^2`, in float64 (which :func:`logit_error_bound` assumes).
    budget_bytes : int
        Memory for the (queries x data) block; queries are processed in chunks that fit it
        (and :data:`MAX_BLOCK_BYTES`).
    precision : {"auto", "float32", "float64"}
        Arithmetic of the logits. ``auto`` applies :func:`choose_precision` to the largest
        norms in ``z`` and ``x``; callers that chunk should decide once for all chunks.
    workspace : Workspace, optional
        Scratch memory, and the data cast to the compute dtype and transposed
        (:meth:`Workspace.data`), reused across calls; a private one is used when None.

    Returns
    -------
    D : Tensor of shape (m, d), in the dtype of ``z``.

    Examples
    --------
    >>> x = torch.tensor([[-1.0], [1.0]], dtype=torch.float64)
    >>> denoise(torch.zeros(1, 1, dtype=torch.float64), x, 1.0, 0.5)
    tensor([[0.]], dtype=torch.float64)
    """
    if a == 0 and b > 0:  # z carries no information on x: every weight is 1/N
        return x.to(torch.float64).mean(dim=0).to(z.dtype).expand(z.shape).clone()
    dtype = _resolve_dtype(z, x, a, b, precision)
    workspace = workspace if workspace is not None else Workspace()
    if x_sqnorm is None:
        x_sqnorm = _sqnorm(x)
    x, xt = workspace.data(x, dtype)
    out = torch.empty(z.shape, dtype=z.dtype, device=z.device)
    for i, w in _logit_blocks(z, x, a, b, x_sqnorm, budget_bytes, workspace):
        torch.softmax(w, dim=1, out=w)  # weights, in place
        out[i : i + w.shape[0]] = torch.mm(xt, w.T).T
    return out


def _resolve_dtype(z: Tensor, x: Tensor, a: float, b: float, precision: str) -> torch.dtype:
    if not b > 0:
        raise ValueError(f"b must be positive, got {b!r}")
    if precision == "auto":
        z_max = float(z.norm(dim=1).max()) if z.numel() else 0.0
        x_max = float(x.norm(dim=1).max()) if x.numel() else 0.0
        precision = choose_precision(a, b, z_max, x_max, z.shape[1])
    return {"float32": torch.float32, "float64": torch.float64}[precision]


def _sqnorm(x: Tensor) -> Tensor:
    """:math:`|x_n|^2` in float64, as :func:`logit_error_bound` assumes."""
    x64 = x.to(torch.float64)
    return (x64 * x64).sum(dim=1)


def _logit_blocks(z, x, a, b, x_sqnorm, budget_bytes, workspace):
    """Yield ``(start, logits)`` for row blocks of z; x is already in the compute dtype.

    Every block is a view of the same workspace memory: use it before taking the next.
    """
    dtype = x.dtype
    if x_sqnorm is None:
        x_sqnorm = _sqnorm(x)
    # in float64, rounded once (see logit_error_bound)
    bias = ((-0.5 * a * a / (b * b)) * x_sqnorm.to(torch.float64)).to(dtype)
    scale = a / (b * b)
    m, n = z.shape[0], x.shape[0]
    if m == 0:
        return
    rows = min(m, chunk_rows(n, min(budget_bytes, MAX_BLOCK_BYTES), x.element_size(), 1))
    block = (workspace if workspace is not None else Workspace()).block(rows, n, dtype, z.device)
    for i in range(0, m, rows):
        zc = z[i : i + rows].to(dtype)
        w = block[: zc.shape[0]]
        torch.addmm(bias, zc, x.T, alpha=scale, out=w)
        yield i, w


# --------------------------------------------------------- nearest-neighbour truncation


def _topk_denoise(z, x, a, b, k, log_tol, x_sqnorm, budget_bytes, precision, workspace):
    """Top-k denoiser with per-row fallback; returns (D, ok, idx, logit_err).

    ``ok[i]`` says that row i's top-k bound held (else its D is the exact softmax), ``idx``
    holds the top-k indices by decreasing logit, and ``logit_err`` bounds the rounding error
    of the logits in nats.
    """
    dtype = _resolve_dtype(z, x, a, b, precision)
    n, d = x.shape
    z_max = float(z.norm(dim=1).max()) if z.numel() else 0.0
    x_max = float(x.norm(dim=1).max()) if x.numel() else 0.0
    err = logit_error_bound(a, b, z_max, x_max, torch.finfo(dtype).eps, d)
    workspace = workspace if workspace is not None else Workspace()
    if x_sqnorm is None:
        x_sqnorm = _sqnorm(x)
    xc = workspace.data(x, dtype)[0]
    out = torch.empty(z.shape, dtype=z.dtype, device=z.device)
    ok = torch.zeros(z.shape[0], dtype=torch.bool, device=z.device)
    idx = torch.empty(z.shape[0], k, dtype=torch.long, device=z.device)
    log_n_out = math.log(n - k)
    for i, w in _logit_blocks(z, xc, a, b, x_sqnorm, budget_bytes, workspace):
        r = w.shape[0]
        vals, ix = torch.topk(w, k, dim=1)
        # discarded logits are <= the k-th (up to 2 err), so their mass relative to the kept
        # mass is at most (n - k) exp(l_k - logsumexp(top k) + 2 err)
        log_ratio = log_n_out + vals[:, -1] - torch.logsumexp(vals, dim=1) + 2.0 * err
        good = log_ratio <= log_tol
        dk = torch.bmm(torch.softmax(vals, dim=1).unsqueeze(1), xc[ix]).squeeze(1)
        bad = (~good).nonzero().squeeze(1)
        if bad.numel():
            dk[bad] = torch.softmax(w.index_select(0, bad), dim=1) @ xc
        out[i : i + r] = dk
        ok[i : i + r] = good
        idx[i : i + r] = ix
    return out, ok, idx, err


def denoise_topk(
    z: Tensor,
    x: Tensor,
    a: float,
    b: float,
    k: int,
    *,
    tol: float = 1e-6,
    x_sqnorm: Tensor | None = None,
    budget_bytes: int = 256 * 2**20,
    precision: str = "auto",
    workspace: Workspace | None = None,
    return_mask: bool = False,
):
    r""":func:`denoise` from the k largest weights of each row, to a tolerance, else exactly.

    The logits :math:`l_n` come from the same matrix product as in :func:`denoise`; a
    :func:`torch.topk` of each row keeps the k largest, and the discarded ones are each at
    most the k-th, so the fraction of the softmax mass that truncation drops is at most

    .. math::

        \varepsilon \le (N - k)\, \exp\!\big(l_{(k)} - \operatorname{logsumexp}_{j \le k} l_{(j)}\big),

    (times :math:`e^{2\delta}` for a logit rounding error :math:`\delta`). Rows where that bound
    is at most ``tol`` use the truncated weights, and their error is
    :math:`|D - D_k| = \varepsilon\, |\bar x_{\mathrm{out}} - D_k| \le 2\,\varepsilon \max_n |x_n|`;
    the other rows fall back to the full softmax of the logits already computed. It skips
    the exponentials and the second product, but :func:`torch.topk` costs two to three
    softmaxes on the CPU, so on its own it pays only at large d; :class:`TruncatedDenoiser`
    reuses the neighbours along a trajectory, which is where truncation wins.

    Parameters
    ----------
    z, x, a, b, x_sqnorm, budget_bytes, precision, workspace
        As in :func:`denoise`.
    k : int
        Weights kept per row; k >= N is the exact denoiser.
    tol : float
        Largest bound on the dropped fraction of the weight mass.
    return_mask : bool
        Also return the rows that were truncated.

    Returns
    -------
    D : Tensor of shape (m, d)
    truncated : Tensor of shape (m,), bool
        Only with ``return_mask``.

    Examples
    --------
    >>> x = torch.tensor([[0.0], [1.0], [1.2], [5.0]], dtype=torch.float64)
    >>> z = torch.tensor([[0.1], [1.1]], dtype=torch.float64)  # 2nd: 3 points hold the mass
    >>> d, mask = denoise_topk(z, x, 1.0, 0.1, 2, return_mask=True)
    >>> mask.tolist(), bool(torch.allclose(d, denoise(z, x, 1.0, 0.1), rtol=0, atol=1e-12))
    ([True, False], True)
    """
    n = x.shape[0]
    if k >= n:
        d = denoise(z, x, a, b, x_sqnorm=x_sqnorm, budget_bytes=budget_bytes, precision=precision,
                    workspace=workspace)
        return (d, torch.zeros(z.shape[0], dtype=torch.bool, device=z.device)) if return_mask else d
    d, ok, _, _ = _topk_denoise(z, x, a, b, int(k), math.log(tol), x_sqnorm, budget_bytes, precision,
                                workspace)
    return (d, ok) if return_mask else d


class TruncatedDenoiser:
    r"""Exact-to-tolerance denoiser for a fixed batch of ODE trajectories that reuses neighbours.

    Called with the same m rows at each time (one row per trajectory), it keeps for each row
    the indices of its k nearest data points :math:`C` (in :math:`y = z / a`, where the
    logits are :math:`-|y - x_n|^2 / (2\sigma^2)` up to a row constant, :math:`\sigma = b/a`),
    found by :func:`denoise_topk` at an anchor :math:`y_0`, and the radius :math:`R_0` within
    which no other data point lies. At a later call, every discarded point is at least
    :math:`R_0 - |y - y_0|` from y (triangle inequality), so the dropped fraction of the
    weight mass is at most

    .. math::

        \varepsilon \le (N - k)\, \exp\!\Big(-\frac{(R_0 - |y - y_0|)_+^2}{2 \sigma^2}
        - \operatorname{logsumexp}_{n \in C} \frac{-|y - x_n|^2}{2 \sigma^2}\Big),

    computed in float64 from the k candidates alone: O(k d) per row instead of O(N d). Rows
    where it exceeds ``tol`` are scored exactly (:func:`denoise`), or, when :math:`\sigma`
    has fallen below the width at which their top-k bound is predicted to hold, by
    :func:`denoise_topk`, which refreshes their candidates. The first attempt waits until
    :math:`\sigma` reaches ``sigma_first``: by default the 90 % quantile, over up to 128 data
    points, of :math:`r_k / \sqrt{2 \log((N - k)/\mathrm{tol})}` with :math:`r_k` the
    distance to their k-th neighbour. These choices only decide speed; every returned row is
    within :math:`2\,\mathrm{tol}\,\max_n |x_n|` of the exact denoiser.

    Truncation wins when :math:`\sigma` at the late steps is small against the spacing of the
    k nearest data points (large N, small bandwidth, low d). When the bandwidth is as wide as
    a cross-validated KDE's, the k nearest points rarely hold all but ``tol`` of the mass,
    no attempt is made, and the cost is that of :func:`denoise` (``benchmarks/labelling.py``).

    Parameters
    ----------
    x : Tensor of shape (N, d)
        Data points.
    k : int
        Candidates per row.
    tol : float, default=1e-6
        Largest bound on the dropped fraction of the weight mass, per call and row.
    x_sqnorm, budget_bytes, workspace
        As in :func:`denoise`.
    sigma_first : float or None
        Largest :math:`\sigma` at which top-k candidates are first looked for (see above).

    Attributes
    ----------
    stats : dict
        Row counts over all calls: ``rows``, ``cached`` (truncated with reused candidates),
        ``topk`` (truncated with fresh ones), ``exact`` (full softmax).

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(2000, 2, generator=g, dtype=torch.float64)
    >>> z = x[:5] + 1e-3 * torch.randn(5, 2, generator=g, dtype=torch.float64)
    >>> den = TruncatedDenoiser(x, 16)
    >>> d1, d2 = den(z, 1.0, 1e-3), den(z, 1.0, 1e-3)  # 2nd call: cached candidates
    >>> bool((d2 - denoise(z, x, 1.0, 1e-3)).abs().max() < 1e-9), den.stats["cached"]
    (True, 5)
    """

    def __init__(
        self,
        x: Tensor,
        k: int,
        tol: float = 1e-6,
        *,
        x_sqnorm: Tensor | None = None,
        budget_bytes: int = 256 * 2**20,
        workspace: Workspace | None = None,
        sigma_first: float | None = None,
    ):
        if not (0.0 < tol < 1.0):
            raise ValueError(f"tol must be in (0, 1), got {tol!r}")
        if int(k) < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        self.x = x
        self.k = int(k)
        self.tol = float(tol)
        self.x_sqnorm = _sqnorm(x) if x_sqnorm is None else x_sqnorm
        self.budget_bytes = int(budget_bytes)
        self.workspace = workspace if workspace is not None else Workspace()
        self._x64 = x.to(torch.float64)
        n = x.shape[0]
        self._log_margin = math.log(max(n - self.k, 1) / self.tol)
        if sigma_first is None:
            sigma_first = self.first_sigma(x, self.k, self.tol, x_sqnorm=self.x_sqnorm,
                                           budget_bytes=budget_bytes)
        self.sigma_first = float(sigma_first)
        self.stats = {"rows": 0, "cached": 0, "topk": 0, "exact": 0}
        self._idx = self._anchor = self._radius = self._sigma_try = None

    @staticmethod
    def first_sigma(x: Tensor, k: int, tol: float = 1e-6, *, x_sqnorm: Tensor | None = None,
                    budget_bytes: int = 256 * 2**20) -> float:
        """Default ``sigma_first``: compute it once and pass it to every instance on the same x."""
        n = x.shape[0]
        if k >= n:
            return 0.0
        x64 = x.to(torch.float64)
        sq = (x64 * x64).sum(1) if x_sqnorm is None else x_sqnorm.to(torch.float64)
        pick = torch.linspace(0, n - 1, min(128, n), dtype=torch.float64).round().long().to(x.device)
        step = chunk_rows(n, budget_bytes, 8, 2)
        r_k = torch.cat([
            (sq[p][:, None] - 2.0 * x64[p] @ x64.T + sq).topk(k, dim=1, largest=False).values[:, -1]
            for p in pick.split(step)
        ]).clamp_min(0.0).sqrt()
        return float(torch.quantile(r_k, 0.9)) / math.sqrt(2.0 * math.log(max(n - k, 1) / tol))

    def _reset(self, m: int, d: int, device) -> None:
        self._idx = torch.zeros(m, self.k, dtype=torch.long, device=device)
        self._anchor = torch.zeros(m, d, dtype=torch.float64, device=device)
        self._radius = torch.full((m,), -1.0, dtype=torch.float64, device=device)  # < 0: none
        self._sigma_try = torch.full((m,), self.sigma_first, dtype=torch.float64, device=device)

    def _cached(self, y: Tensor, rows: Tensor, sigma: float):
        """Truncated D from the stored candidates of ``rows`` and whether their bound holds."""
        m, d = y.shape
        chunk = chunk_rows(self.k * d, self.budget_bytes, 8, 3)
        out = torch.empty(m, d, dtype=torch.float64, device=y.device)
        ok = torch.empty(m, dtype=torch.bool, device=y.device)
        log_n_out, log_tol = math.log(self.x.shape[0] - self.k), math.log(self.tol)
        for i in range(0, m, chunk):
            r = rows[i : i + chunk]
            yc = y[i : i + chunk]
            xc = self._x64[self._idx[r]]  # (rows, k, d)
            logits = ((yc[:, None, :] - xc) ** 2).sum(-1) / (-2.0 * sigma * sigma)
            reach = (self._radius[r] - (yc - self._anchor[r]).norm(dim=1)).clamp_min(0.0)
            log_ratio = log_n_out - reach * reach / (2.0 * sigma * sigma) - torch.logsumexp(logits, dim=1)
            ok[i : i + chunk] = log_ratio <= log_tol
            out[i : i + chunk] = torch.bmm(torch.softmax(logits, dim=1).unsqueeze(1), xc).squeeze(1)
        return out, ok

    def __call__(self, z: Tensor, a: float, b: float, precision: str = "auto") -> Tensor:
        """Denoise the m trajectories' current points z at schedule coefficients a, b."""
        m, d = z.shape
        n = self.x.shape[0]
        self.stats["rows"] += m
        kw = dict(x_sqnorm=self.x_sqnorm, budget_bytes=self.budget_bytes, precision=precision,
                  workspace=self.workspace)
        if self._idx is None or self._idx.shape[0] != m:
            self._reset(m, d, z.device)
        if a <= 0 or self.k >= n:
            self.stats["exact"] += m
            return denoise(z, self.x, a, b, **kw)
        sigma = b / a
        if not bool((self._radius >= 0).any()) and sigma > float(self._sigma_try.max()):
            self.stats["exact"] += m  # nothing cached and nothing to try yet: plain denoise
            return denoise(z, self.x, a, b, **kw)
        y = z.to(torch.float64) / a
        out = torch.empty_like(z)
        todo = torch.ones(m, dtype=torch.bool, device=z.device)
        rows = (self._radius >= 0).nonzero().squeeze(1)
        if rows.numel():
            d_c, ok = self._cached(y[rows], rows, sigma)
            out[rows[ok]] = d_c[ok].to(z.dtype)
            todo[rows[ok]] = False
            self._radius[rows[~ok]] = -1.0  # stale: drop them
            self.stats["cached"] += int(ok.sum())
        rest = todo.nonzero().squeeze(1)
        attempt = self._sigma_try[rest] >= sigma
        exact, fresh = rest[~attempt], rest[attempt]
        if exact.numel():
            out[exact] = denoise(z[exact], self.x, a, b, **kw)
            self.stats["exact"] += exact.numel()
        if fresh.numel():
            d_t, ok, idx, err = _topk_denoise(z[fresh], self.x, a, b, self.k, math.log(self.tol), **kw)
            out[fresh] = d_t
            yf = y[fresh]
            r_1 = (yf - self._x64[idx[:, 0]]).norm(dim=1)
            r_k = (yf - self._x64[idx[:, -1]]).norm(dim=1)
            # logits rounded by up to err nats: other points are at least this far from y
            radius = (r_k * r_k - 4.0 * sigma * sigma * err).clamp_min(0.0).sqrt()
            good, bad = fresh[ok], fresh[~ok]
            self._idx[good], self._anchor[good], self._radius[good] = idx[ok], yf[ok], radius[ok]
            # retry once sigma is small enough for the top-k bound to hold at this point
            predicted = ((r_k * r_k - r_1 * r_1).clamp_min(0.0) / (2 * self._log_margin)).sqrt()
            self._sigma_try[bad] = torch.minimum(predicted[~ok], torch.full_like(predicted[~ok], sigma / 1.5))
            self.stats["topk"] += int(ok.sum())
            self.stats["exact"] += bad.numel()
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
