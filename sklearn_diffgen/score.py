r"""The Gaussian kernel sums over the data: training-free denoiser, diffused log-density, chunked to a memory budget.

For data points :math:`x_1, \dots, x_N` diffused as :math:`z_t = a x + b \epsilon`, everything
the package computes from the data is a sum over n of the Gaussian kernel
:math:`N(z; a x_n, b^2 I)`, through the logits

.. math::

    l_n(z) = \frac{a\, z \cdot x_n - a^2 |x_n|^2 / 2}{b^2}
           = -\frac{|z - a x_n|^2}{2 b^2} + \frac{|z|^2}{2 b^2}:

the denoiser :math:`D(z) = \sum_n \operatorname{softmax}_n(l(z))\, x_n` (the paper's
training-free score is :math:`(a D - z) / b^2`), and the diffused density
:math:`\log \frac1N \sum_n N(z; a x_n, b^2 I)`, which at a = 1 is a Gaussian kernel density
estimate. With weights :math:`w_n` (summing to 1) the empirical law puts mass :math:`w_n` on
:math:`x_n`: :math:`\log w_n` joins each logit, and the density is
:math:`\log \sum_n w_n N(z; a x_n, b^2 I)`. :class:`Kernel` owns the data side of these sums
(the data cast and transposed, the squared norms in float64, the weights, one scratch block
and the memory budget) and evaluates them in blocks of queries, in log space.

A point may also carry its own spread: with variances :math:`k_n^2` the data are the
mixture :math:`\sum_n w_n N(x; x_n, k_n^2 I)` (an adaptive kernel density estimate), whose
diffusion is :math:`\sum_n w_n N(z; a x_n, s_n^2 I)` with :math:`s_n^2 = a^2 k_n^2 + b^2`.
The logits are then :math:`\log w_n - \tfrac d2 \log s_n^2 - |z - a x_n|^2 / (2 s_n^2)`, one
product with z augmented by :math:`-|z|^2/2`, and the denoiser is the posterior mean of x
under each component, :math:`\sum_n r_n \big(x_n b^2 / s_n^2 + z\, a k_n^2 / s_n^2\big)`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["Kernel", "denoise", "score", "chunk_rows", "logit_error_bound", "choose_precision",
           "FLOAT32_LOGIT_TOL", "MAX_BLOCK_BYTES"]

#: float32 is used for the logits when their worst-case rounding error stays below this many
#: nats; it perturbs each softmax weight by at most this relative amount.
FLOAT32_LOGIT_TOL = 1e-3

#: Largest (queries x data) block that :meth:`Kernel.denoise` fills at once, whatever the
#: budget: larger blocks no longer run faster, and one this size is written and read back
#: while it is still partly in the last-level cache (``benchmarks/labelling.py``).
MAX_BLOCK_BYTES = 64 * 2**20

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def chunk_rows(n_cols: int, budget_bytes: int, itemsize: int = 8, n_buffers: int = 3) -> int:
    """Rows of a (rows x n_cols) block such that ``n_buffers`` of them fit ``budget_bytes``.

    Examples
    --------
    >>> chunk_rows(1000, 8 * 1000 * 3 * 10)
    10
    """
    return max(1, int(budget_bytes) // max(1, n_cols * itemsize * n_buffers))


def logit_error_bound(a: float, b: float, z_max: float, x_max: float, eps: float, d: int = 1,
                      log_weight_max: float = 0.0, quadratic: bool = False) -> float:
    r"""Bound on the absolute rounding error of the logits computed in a type of machine epsilon ``eps``.

    The logits are :math:`\mathrm{fl}(\beta_n + \alpha\, z \cdot x_n)` with
    :math:`\alpha = a / b^2` and the bias :math:`\beta_n = -a^2 |x_n|^2 / (2 b^2)` computed in
    float64 and rounded once to the working type (as :meth:`Kernel.logits` does). With the unit
    roundoff :math:`u = \epsilon / 2` of round-to-nearest, the product term collects at most
    d + 5 roundings (z and x cast to the working type, d in the length-d dot product in any
    order, one for :math:`\alpha`, one for the scaling, one for the sum), relative to
    :math:`\alpha \sum_i |z_i x_i| \le \alpha |z| |x|`; the bias collects its float64 error
    (at most :math:`(d + 3)\,u_{64}`), its cast and the sum. So, with
    :math:`\gamma_k = k u / (1 - k u)`,

    .. math::

        \gamma_{d+5}\, \frac{a\,|z|_{\max} |x|_{\max}}{b^2}
        + \big(\gamma_2 + (d + 3)\,u_{64}\big) \frac{a^2 |x|_{\max}^2}{2 b^2}.

    In float64 (:math:`u = u_{64}`) the bias term is :math:`\gamma_{d+5}` too. Weights add
    :math:`\log w_n` to the bias in float64, which adds at most
    :math:`(\gamma_2 + 2 u_{64})\, |\log w|_{\max}` (``log_weight_max``). At d = 10 this
    is 1.6 times below the cruder :math:`(d + 2)\,\epsilon` on the product term and 12 times
    on the bias term, 2.3 times in all on the 10-D data of ``benchmarks/labelling.py``, where
    it lets two more of the last steps run in float32.

    With per-point spreads (``quadratic``, :class:`Kernel` with ``variances``) the product has
    one more term, :math:`-|z|^2 / (2 s_n^2) \le |z|^2 / (2 b^2)` in size: the product's
    length is d + 1 and its error :math:`\gamma_{d+6}` relative to
    :math:`(a |z| |x| + |z|^2 / 2) / b^2`, since every :math:`s_n \ge b`. The bias's
    :math:`\tfrac d2 \log s_n^2` is passed in ``log_weight_max``.

    Examples
    --------
    >>> logit_error_bound(1.0, 0.1, 2.0, 2.0, 2.0**-23, d=2)  # ~ (7 * 4 + 2 * 2) u / 0.01
    0.00019...
    """
    u, u64 = 0.5 * eps, 0.5 * torch.finfo(torch.float64).eps
    gamma = lambda k: k * u / (1.0 - k * u)  # noqa: E731
    k = d + 6 if quadratic else d + 5
    bias = gamma(2) + (d + 3) * u64 if u > u64 else gamma(k)
    product = a * z_max * x_max + (0.5 * z_max * z_max if quadratic else 0.0)
    return ((gamma(k) * product + bias * 0.5 * a * a * x_max * x_max) / (b * b)
            + (gamma(2) + 2 * u64) * log_weight_max)


def choose_precision(a: float, b: float, z_max: float, x_max: float, d: int = 1,
                     log_weight_max: float = 0.0, quadratic: bool = False) -> str:
    """``"float32"`` when its logit error bound is below ``FLOAT32_LOGIT_TOL``, else ``"float64"``.

    Examples
    --------
    >>> choose_precision(0.5, 1.0, 3.0, 3.0, d=2), choose_precision(1.0, 0.001, 3.0, 3.0, d=2)
    ('float32', 'float64')
    """
    err = logit_error_bound(a, b, z_max, x_max, torch.finfo(torch.float32).eps, d, log_weight_max, quadratic)
    return "float32" if err < FLOAT32_LOGIT_TOL else "float64"


class Kernel:
    r"""The data side of the Gaussian kernel sums, evaluated in blocks that fit a memory budget.

    It holds the data, their squared norms in float64 (as :func:`logit_error_bound`
    assumes), the data cast to each compute dtype and transposed (cached: casting N x d data
    costs as much as a block of tens of queries at N = 1e6), and one scratch block reused by
    every call (a fresh block of tens of MiB costs its page faults each time). Not
    thread-safe: one kernel per concurrent caller. See the module docstring for the maths.

    Parameters
    ----------
    x : Tensor of shape (N, d)
        Data points, on the device the work runs on. Not copied: do not change it in place.
    budget_bytes : int, default=256 MiB
        Memory for the (queries x data) blocks; queries are processed in chunks that fit it.
    log_weights : Tensor of shape (N,) or None, default=None
        Log of the points' weights, float64, on x's device; they need not be normalised
        (:attr:`log_weights` holds them normalised). None gives every point 1/N.
    variances : Tensor of shape (N,) or None, default=None
        Each point's own variance :math:`k_n^2 \ge 0`: the data are then the mixture
        :math:`\sum_n w_n N(x_n, k_n^2 I)` (see the module docstring). None is the empirical
        law (every :math:`k_n = 0`), computed without the extra column.

    Examples
    --------
    >>> x = torch.tensor([[-1.0], [1.0]], dtype=torch.float64)
    >>> k = Kernel(x)
    >>> k.denoise(torch.zeros(1, 1, dtype=torch.float64), 1.0, 0.5)
    tensor([[0.]], dtype=torch.float64)
    >>> k.log_density(torch.zeros(1, 1, dtype=torch.float64), 1.0, 1.0)  # log N(0; 1, 1)
    tensor([-1.4189], dtype=torch.float64)
    """

    def __init__(self, x: Tensor, budget_bytes: int = 256 * 2**20, *, log_weights: Tensor | None = None,
                 variances: Tensor | None = None, _buffer: list | None = None):
        self.x = x
        self.budget_bytes = int(budget_bytes)
        x64 = x.to(torch.float64)
        self.sqnorm = (x64 * x64).sum(dim=1)
        if log_weights is not None:
            log_weights = log_weights.to(device=x.device, dtype=torch.float64)
            log_weights = log_weights - torch.logsumexp(log_weights, dim=0)
        self.log_weights = log_weights
        self._weights = None if log_weights is None else log_weights.exp()
        if variances is not None:
            variances = variances.to(device=x.device, dtype=torch.float64)
            if variances.shape != (x.shape[0],) or not bool((variances >= 0).all()):
                raise ValueError("variances must be one non-negative value per data point")
        self.variances = variances
        self._cast: dict = {}  # dtype -> (x in dtype, its contiguous transpose)
        self._buffer = [None] if _buffer is None else _buffer  # shared with subsets

    # ------------------------------------------------------------------ data side
    @property
    def x_max(self) -> float:
        """Largest norm of a data point."""
        return float(self.sqnorm.max().sqrt()) if self.x.numel() else 0.0

    @property
    def log_weight_max(self) -> float:
        r"""Largest :math:`|\log w_n|` (0 without weights), for :func:`logit_error_bound`."""
        lw = self.log_weights
        return 0.0 if lw is None or not lw.numel() else float(lw.abs().max())

    def subset(self, rows: Tensor) -> "Kernel":
        """The kernel of ``x[rows]`` (their weights renormalised, their variances kept), sharing
        this one's scratch block and budget."""
        rows = rows.to(self.x.device)
        lw = None if self.log_weights is None else self.log_weights[rows]
        var = None if self.variances is None else self.variances[rows]
        return Kernel(self.x[rows], self.budget_bytes, log_weights=lw, variances=var, _buffer=self._buffer)

    def minibatch(self, size: int | None, generator: torch.Generator) -> "Kernel":
        """The kernel of ``size`` rows drawn without replacement (itself when None or >= N).

        The permutation is drawn on the CPU ``generator``, so the subset does not depend on
        the device.

        Examples
        --------
        >>> k = Kernel(torch.arange(10.0)[:, None])
        >>> k.minibatch(3, torch.Generator().manual_seed(0)).x.shape, k.minibatch(None, None) is k
        (torch.Size([3, 1]), True)
        """
        if size is None or size >= self.x.shape[0]:
            return self
        return self.subset(torch.randperm(self.x.shape[0], generator=generator)[:size])

    def mean(self) -> Tensor:
        """The (weighted) mean of the data, in float64."""
        x64 = self.x.to(torch.float64)
        return x64.mean(dim=0) if self._weights is None else self._weights @ x64

    def moments(self) -> tuple[Tensor, Tensor]:
        """Mean and covariance (divided by N, or weighted) of the data, in float64.

        With ``variances``, those of the mixture: the points' covariance plus the mean
        variance times the identity.

        Examples
        --------
        >>> x = torch.tensor([[0.0], [2.0], [2.0]], dtype=torch.float64)
        >>> w = Kernel(x[:2], log_weights=torch.tensor([1.0, 2.0]).log()).moments()
        >>> bool(torch.allclose(w[0], Kernel(x).moments()[0]) and torch.allclose(w[1], Kernel(x).moments()[1]))
        True
        """
        x64 = self.x.to(torch.float64)
        # a copy: torch.cov with aweights centres a single row's storage in place (torch 2.13)
        cov = torch.cov(x64.T.clone(), correction=0, aweights=self._weights).reshape(x64.shape[1], -1)
        if self.variances is not None:
            v = self.variances
            spread = v.mean() if self._weights is None else self._weights @ v
            cov = cov + spread * torch.eye(x64.shape[1], dtype=torch.float64, device=x64.device)
        return self.mean(), cov

    def _data(self, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        if dtype not in self._cast:
            xc = self.x.to(dtype)
            # the second product of denoise runs as (d x N) @ (N x rows): for d up to ~64 MKL
            # runs it 1.5 to 3 times faster than (rows x N) @ (N x d) on one core
            self._cast[dtype] = (xc, xc.T.contiguous())
        return self._cast[dtype]

    def _block(self, rows: int, dtype: torch.dtype) -> Tensor:
        """A (rows x N) tensor of ``dtype`` with arbitrary contents, from the scratch memory."""
        n = rows * self.x.shape[0] * torch.empty((), dtype=dtype).element_size()
        buf, device = self._buffer[0], self.x.device
        if buf is None or buf.numel() < n or buf.device != device:
            buf = self._buffer[0] = torch.empty(max(n, 1), dtype=torch.uint8, device=device)
        return buf[:n].view(dtype).view(rows, self.x.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes of scratch memory held."""
        return 0 if self._buffer[0] is None else self._buffer[0].numel()

    # ---------------------------------------------------------------------- sums
    def spreads(self, a: float, b: float) -> Tensor | None:
        r"""The components' variances :math:`s_n^2 = a^2 k_n^2 + b^2` at (a, b), float64; None without ``variances``."""
        return None if self.variances is None else (a * a) * self.variances + b * b

    def precision(self, a: float, b: float, z_max: float, x_max: float | None = None) -> str:
        """The logits' arithmetic at (a, b) for queries of norm at most ``z_max`` (:func:`choose_precision`).

        ``x_max`` bounds the data's norms (default: :attr:`x_max`; a mini-batch passes its
        whole data's, so that every mini-batch decides alike).

        Examples
        --------
        >>> k = Kernel(torch.ones(3, 2, dtype=torch.float64), variances=torch.full((3,), 0.5, dtype=torch.float64))
        >>> k.precision(0.5, 1.0, 3.0), k.precision(1.0, 0.001, 3.0)
        ('float32', 'float64')
        """
        d, lw = self.x.shape[1], self.log_weight_max
        s2 = self.spreads(a, b)
        if s2 is not None:
            lw += 0.5 * d * float(s2.log().abs().max())
        x_max = self.x_max if x_max is None else x_max
        return choose_precision(a, b, z_max, x_max, d, lw, quadratic=s2 is not None)

    def logits(self, z: Tensor, a: float, b: float, dtype: torch.dtype = torch.float64):
        r"""Yield ``(start, block)``: the logits :math:`l_n` of consecutive rows of z, in ``dtype``.

        The bias :math:`-a^2 |x_n|^2 / (2 b^2)` (plus :math:`\log w_n`) is computed in float64
        and rounded once, then fused into one matrix product (see :func:`logit_error_bound`).
        With ``variances`` the logits are
        :math:`\log w_n - \tfrac d2 \log s_n^2 - |z - a x_n|^2 / (2 s_n^2)` up to a constant of
        the row, from z augmented by :math:`-|z|^2/2` (in float64, rounded once) and the data
        side :math:`(a x_n / s_n^2, 1 / s_n^2)`, recomputed for each (a, b). Every block is a
        view of the same scratch memory: use it before taking the next.
        """
        if not b > 0:
            raise ValueError(f"b must be positive, got {b!r}")
        s2 = self.spreads(a, b)
        if s2 is None:
            x, alpha = self._data(dtype)[0], a / (b * b)
            bias = (-0.5 * a * a / (b * b)) * self.sqnorm
        else:
            x64 = self.x.to(torch.float64)
            x = torch.cat([x64 * (a / s2)[:, None], (1.0 / s2)[:, None]], dim=1).to(dtype)
            alpha = 1.0
            bias = (-0.5 * a * a) * self.sqnorm / s2 - (0.5 * self.x.shape[1]) * s2.log()
        if self.log_weights is not None:
            bias = bias + self.log_weights
        bias = bias.to(dtype)
        m, n = z.shape[0], x.shape[0]
        if m == 0:
            return
        rows = min(m, chunk_rows(n, min(self.budget_bytes, MAX_BLOCK_BYTES), x.element_size(), 1))
        block = self._block(rows, dtype)
        for i in range(0, m, rows):
            zc = z[i : i + rows]
            if s2 is not None:
                z64 = zc.to(torch.float64)
                zc = torch.cat([z64, -0.5 * (z64 * z64).sum(dim=1, keepdim=True)], dim=1)
            zc = zc.to(dtype)
            w = block[: zc.shape[0]]
            torch.addmm(bias, zc, x.T, alpha=alpha, out=w)
            yield i, w

    def denoise(self, z: Tensor, a: float, b: float, precision: str = "auto") -> Tensor:
        r"""Posterior mean :math:`D(z) = E[x \mid z_t = z]` under the law of the data.

        :math:`D(z) = \sum_n w_n x_n` with :math:`w = \operatorname{softmax}(l(z))`: two
        matrix products and a softmax that subtracts the row maximum, so it neither
        overflows nor underflows at small b or in high dimension. Each block is written once
        by the first product, turned into weights in place and read once by the second. At
        a = 0 the weights are uniform and D is the data mean, returned without a block. With
        ``variances`` each component's posterior mean
        :math:`x_n b^2 / s_n^2 + z\, a k_n^2 / s_n^2` takes the place of :math:`x_n`, from the
        same second product with one more row.

        Parameters
        ----------
        z : Tensor of shape (m, d)
            Noisy points, in the units of :math:`z_t`.
        a, b : float
            Schedule coefficients at the current time; ``b > 0``.
        precision : {"auto", "float32", "float64"}
            Arithmetic of the logits. ``auto`` applies :meth:`precision` to the largest norm
            in ``z``; callers that chunk should decide once for all chunks.

        Returns
        -------
        D : Tensor of shape (m, d), in the dtype of ``z``.
        """
        if not b > 0:
            raise ValueError(f"b must be positive, got {b!r}")
        if a == 0:  # z carries no information on x: the weights are the data's
            return self.mean().to(z.dtype).expand(z.shape).clone()
        if precision == "auto":
            precision = self.precision(a, b, float(z.norm(dim=1).max()) if z.numel() else 0.0)
        dtype = _DTYPES[precision]
        s2 = self.spreads(a, b)
        if s2 is None:
            xt = self._data(dtype)[1]
        else:
            x64 = self.x.to(torch.float64)
            xt = torch.cat([x64 * (b * b / s2)[:, None], (a * self.variances / s2)[:, None]], dim=1)
            xt = xt.to(dtype).T.contiguous()
        out = torch.empty(z.shape, dtype=z.dtype, device=z.device)
        for i, w in self.logits(z, a, b, dtype):
            torch.softmax(w, dim=1, out=w)  # weights, in place
            mean = torch.mm(xt, w.T).T
            if s2 is None:
                out[i : i + w.shape[0]] = mean
            else:
                out[i : i + w.shape[0]] = mean[:, :-1] + z[i : i + w.shape[0]] * mean[:, -1:]
        return out

    def log_density(self, q: Tensor, a: float, b: float) -> Tensor:
        r""":math:`\log \frac1N \sum_n N(q; a x_n, b^2 I)` (or :math:`\sum_n w_n`), the diffused empirical density, in float64.

        At a = 1 it is the Gaussian kernel density estimate of bandwidth b.

        Examples
        --------
        Equal to scikit-learn's :class:`~sklearn.neighbors.KernelDensity`:

        >>> from sklearn.neighbors import KernelDensity
        >>> g = torch.Generator().manual_seed(0)
        >>> data, q = torch.randn(50, 3, generator=g), torch.randn(4, 3, generator=g)
        >>> ref = KernelDensity(bandwidth=0.3).fit(data.numpy()).score_samples(q.numpy())
        >>> bool(torch.allclose(Kernel(data).log_density(q, 1.0, 0.3), torch.from_numpy(ref)))
        True
        """
        return self.log_densities(q, [(a, b)])[0]

    def log_densities(self, q: Tensor, coefficients) -> Tensor:
        r""":meth:`log_density` for several ``(a, b)`` pairs, from one product per block of q.

        The squared distances are expanded as :math:`|q|^2 - 2 a\, q \cdot x_n + a^2 |x_n|^2`
        and clamped at 0, in float64. With ``variances`` component n has variance
        :math:`s_n^2 = a^2 k_n^2 + b^2`.

        Returns
        -------
        Tensor of shape (len(coefficients), m), float64
        """
        q = q.to(device=self.x.device, dtype=torch.float64)
        x = self._data(torch.float64)[0]
        n, d = x.shape
        pairs = [(float(a), float(b)) for a, b in coefficients]
        out = torch.empty(len(pairs), q.shape[0], dtype=torch.float64, device=q.device)
        rows = min(max(q.shape[0], 1), chunk_rows(n, self.budget_bytes, itemsize=8, n_buffers=2))
        cross = self._block(rows, torch.float64)
        lw, log_n = self.log_weights, math.log(n)
        for i in range(0, q.shape[0], rows):
            qi = q[i : i + rows]
            c = torch.mm(qi, x.T, out=cross[: qi.shape[0]])
            qq = (qi * qi).sum(dim=1, keepdim=True)
            for k, (a, b) in enumerate(pairs):
                dist = (qq - (2.0 * a) * c + (a * a) * self.sqnorm).clamp_min_(0.0)
                s2 = self.spreads(a, b)
                if s2 is not None:  # each component's own variance, and its normalisation
                    log_c = (-log_n if lw is None else lw) - 0.5 * d * (2.0 * math.pi * s2).log()
                    out[k, i : i + rows] = torch.logsumexp(dist.mul_(-0.5 / s2).add_(log_c), dim=1)
                    continue
                dist.mul_(-0.5 / (b * b))
                norm = 0.5 * d * math.log(2.0 * math.pi * b * b)
                if lw is None:
                    out[k, i : i + rows] = torch.logsumexp(dist, dim=1) - log_n - norm
                else:
                    out[k, i : i + rows] = torch.logsumexp(dist.add_(lw), dim=1) - norm
        return out


def denoise(z: Tensor, x: Tensor, a: float, b: float, *, budget_bytes: int = 256 * 2**20,
            precision: str = "auto") -> Tensor:
    r"""The denoiser :math:`E[x \mid z_t = z]` of the data ``x``: :meth:`Kernel.denoise` in one call.

    With a subset of the data in ``x`` it is the paper's Monte Carlo estimate.

    Examples
    --------
    >>> x = torch.tensor([[-1.0], [1.0]], dtype=torch.float64)
    >>> denoise(torch.zeros(1, 1, dtype=torch.float64), x, 1.0, 0.5)
    tensor([[0.]], dtype=torch.float64)
    """
    return Kernel(x, budget_bytes).denoise(z, a, b, precision)


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
