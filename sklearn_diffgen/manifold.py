r"""Local-covariance kernels (manifold Parzen windows): each point's Gaussian stretched along its neighbours.

Vincent & Bengio's manifold Parzen windows give point :math:`x_n` the kernel
:math:`N(x_n, h^2 I + V_n \operatorname{diag}(\mu_n) V_n^\top)`, where the r columns of
:math:`V_n` and the :math:`\mu_n` are the leading eigenvectors and eigenvalues of the
covariance of its k nearest neighbours about it (:func:`local_covariances`). Near a curve
or a low-dimensional manifold the kernel lies along it, where one width must either blur
across it or break it into beads.

Diffused, a point's extra covariance stays rank r: :math:`z_t = a x + b \epsilon` with
:math:`x \sim N(x_n, V_n \operatorname{diag}(\mu_n) V_n^\top)` has covariance
:math:`b^2 I + a^2 V_n \operatorname{diag}(\mu_n) V_n^\top`, and by the Woodbury identity its
log-density and its posterior mean need only the projections
:math:`p_n = V_n^\top (z - a x_n)`:

.. math::

    \log N = -\frac{|z - a x_n|^2}{2 b^2}
             + \sum_j \frac{a^2 \mu_{nj}\, p_{nj}^2}{2 b^2 (b^2 + a^2 \mu_{nj})}
             - \frac12 \sum_j \log\Big(1 + \frac{a^2 \mu_{nj}}{b^2}\Big) - \frac d2 \log 2\pi b^2,
    \qquad
    E[x \mid z, n] = x_n + V_n \frac{a \mu_n}{a^2 \mu_n + b^2} \odot p_n,

so a (query, point) pair costs O(d r), not O(d^2). :class:`LocalKernel` evaluates them
in blocks, as :class:`~sklearn_diffgen.score.Kernel` does for the plain kernel; labelling
stops where b / a = h, which adds the isotropic part.

References
----------
P. Vincent, Y. Bengio. Manifold Parzen windows. NeurIPS 2002 (2003).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .score import MAX_BLOCK_BYTES, Kernel, chunk_rows

__all__ = ["LocalKernel", "local_covariances"]


def local_covariances(x: Tensor, n_neighbors: int, rank: int, *, reference_rows: Tensor | None = None,
                      budget_bytes: int = 256 * 2**20) -> tuple[Tensor, Tensor]:
    r"""The leading directions and variances of each row's k nearest reference rows about it.

    For row :math:`x_n`, the covariance :math:`\frac1k \sum_j (y_j - x_n)(y_j - x_n)^\top` of
    its k nearest reference rows :math:`y_j` other than itself, by the singular value
    decomposition of the k differences, block by block.

    Parameters
    ----------
    x : Tensor of shape (N, d)
        Rows that get a local covariance.
    n_neighbors : int
        k, at most (reference rows) - 1.
    rank : int
        r, the number of directions kept, at most min(k, d).
    reference_rows : Tensor of shape (m,) or None
        Indices of the rows of x the neighbours are taken from (all rows by default); a row
        that is one of them is not its own neighbour.
    budget_bytes : int
        Memory for the (rows x reference) distance blocks and the (rows x k x d) differences.

    Returns
    -------
    bases : Tensor of shape (N, d, r), float64
        Orthonormal columns :math:`V_n`.
    variances : Tensor of shape (N, r), float64
        Their eigenvalues :math:`\mu_n`, in decreasing order.

    Examples
    --------
    Rows on a line have their one direction along it:

    >>> x = torch.stack([torch.linspace(0, 1, 20), 2 * torch.linspace(0, 1, 20)], 1).double()
    >>> V, mu = local_covariances(x, 4, 1)
    >>> bool(torch.allclose(V[:, :, 0].abs(), torch.tensor([1.0, 2.0]).double() / 5 ** 0.5))
    True
    """
    x = x.to(torch.float64)
    n, d = x.shape
    rows_ref = torch.arange(n, device=x.device) if reference_rows is None else reference_rows.to(x.device)
    reference = x[rows_ref]
    m, k = reference.shape[0], int(n_neighbors)
    if not 1 <= k <= m - 1:
        raise ValueError(f"n_neighbors must be in [1, {m - 1}], got {n_neighbors}")
    position = torch.full((n,), -1, dtype=torch.long, device=x.device)  # row -> its place in the reference
    position[rows_ref] = torch.arange(m, device=x.device)
    rows = chunk_rows(max(m, k * d), budget_bytes, itemsize=8, n_buffers=3)
    bases = torch.empty(n, d, rank, dtype=torch.float64, device=x.device)
    variances = torch.empty(n, rank, dtype=torch.float64, device=x.device)
    for i in range(0, n, rows):
        xi = x[i : i + rows]
        dist = torch.cdist(xi, reference)
        own = position[i : i + rows]
        inside = own >= 0
        dist[torch.nonzero(inside)[:, 0], own[inside]] = math.inf  # not its own neighbour
        near = dist.topk(k, dim=1, largest=False).indices
        diff = (reference[near] - xi[:, None, :]) / math.sqrt(k)  # (rows, k, d)
        _, sv, vh = torch.linalg.svd(diff, full_matrices=False)
        bases[i : i + rows] = vh[:, :rank, :].transpose(1, 2)
        variances[i : i + rows] = sv[:, :rank] ** 2
    return bases, variances


class LocalKernel(Kernel):
    r"""Kernel sums over points with rank-r covariances :math:`V_n \operatorname{diag}(\mu_n) V_n^\top`.

    The same interface as :class:`~sklearn_diffgen.score.Kernel` (denoiser, diffused
    log-density, mini-batches, moments), for the mixture
    :math:`\sum_n w_n N(x_n, V_n \operatorname{diag}(\mu_n) V_n^\top)`; see the module
    docstring for the maths. The logits are computed in float64.

    Parameters
    ----------
    x : Tensor of shape (N, d)
        Data points.
    bases : Tensor of shape (N, d, r)
        Orthonormal columns :math:`V_n` (:func:`local_covariances`).
    variances : Tensor of shape (N, r)
        :math:`\mu_n \ge 0`.
    budget_bytes : int, default=256 MiB
        Memory for the (queries x points x r) blocks.
    log_weights : Tensor of shape (N,) or None
        As for :class:`~sklearn_diffgen.score.Kernel`.

    Examples
    --------
    One point stretched along the first axis: the posterior mean moves along it only.

    >>> k = LocalKernel(torch.zeros(1, 2).double(), torch.tensor([[[1.0], [0.0]]]).double(),
    ...                 torch.tensor([[3.0]]).double())
    >>> k.denoise(torch.tensor([[1.0, 1.0]]).double(), 1.0, 1.0)  # 3 / (3 + 1) along x, 0 across
    tensor([[0.7500, 0.0000]], dtype=torch.float64)
    """

    def __init__(self, x: Tensor, bases: Tensor, variances: Tensor, budget_bytes: int = 256 * 2**20, *,
                 log_weights: Tensor | None = None, _buffer: list | None = None):
        super().__init__(x, budget_bytes, log_weights=log_weights, _buffer=_buffer)
        n, d = x.shape
        if bases.ndim != 3 or bases.shape[:2] != (n, d) or variances.shape != (n, bases.shape[2]):
            raise ValueError("bases must be (N, d, r) and variances (N, r) for N points in d dimensions")
        if not bool((variances >= 0).all()):
            raise ValueError("variances must be non-negative")
        self.bases = bases.to(device=x.device, dtype=torch.float64)
        self.local_variances = variances.to(device=x.device, dtype=torch.float64)
        self.rank = bases.shape[2]
        self._flat = self.bases.transpose(1, 2).reshape(n * self.rank, d)  # rows v_nj
        self._offsets = torch.einsum("ndr,nd->nr", self.bases, x.to(torch.float64))  # v_nj . x_n

    def subset(self, rows: Tensor) -> "LocalKernel":
        """The kernel of ``x[rows]``, with their bases, variances and renormalised weights."""
        rows = rows.to(self.x.device)
        lw = None if self.log_weights is None else self.log_weights[rows]
        return LocalKernel(self.x[rows], self.bases[rows], self.local_variances[rows], self.budget_bytes,
                           log_weights=lw, _buffer=self._buffer)

    def moments(self) -> tuple[Tensor, Tensor]:
        r"""Mean and covariance of the mixture: the points' covariance plus the mean of
        :math:`V_n \operatorname{diag}(\mu_n) V_n^\top`."""
        mean, cov = super().moments()
        n = self.x.shape[0]
        w = torch.full((n,), 1.0 / n, dtype=torch.float64, device=self.x.device) if self._weights is None else self._weights
        return mean, cov + torch.einsum("n,ndr,nr,ner->de", w, self.bases, self.local_variances, self.bases)

    def precision(self, a: float, b: float, z_max: float, x_max: float | None = None) -> str:
        """Always ``"float64"``: the local terms are not covered by the float32 error bound."""
        return "float64"

    def _terms(self, z: Tensor, a: float, b: float, zv: Tensor | None = None):
        r"""Log-densities up to the row's :math:`|z|^2` term (m, N), projections (m, N, r) and gains (N, r).

        ``zv``, the products :math:`v_{nj} \cdot z` (m, N r), when the caller has them (they
        do not depend on a and b).
        """
        mu = (a * a) * self.local_variances
        bias = (-0.5 * a * a / (b * b)) * self.sqnorm - 0.5 * torch.log1p(mu / (b * b)).sum(dim=1)
        if self.log_weights is not None:
            bias = bias + self.log_weights
        logits = torch.addmm(bias, z, self.x.to(torch.float64).T, alpha=a / (b * b))
        if zv is None:
            proj = torch.mm(z, self._flat.T).view(z.shape[0], -1, self.rank).sub_(a * self._offsets)
        else:
            proj = torch.sub(zv.view(z.shape[0], -1, self.rank), a * self._offsets)
        quad = torch.mul(proj, proj).mul_(mu / (2.0 * b * b * (b * b + mu)))
        logits += quad.sum(dim=2)
        return logits, proj, (a * self.local_variances) / (mu + b * b)

    def _rows(self) -> int:
        # blocks of at most MAX_BLOCK_BYTES, which stay partly in cache between their passes
        return chunk_rows(self.x.shape[0] * (self.rank + 1), min(self.budget_bytes, MAX_BLOCK_BYTES),
                          itemsize=8, n_buffers=3)

    def denoise(self, z: Tensor, a: float, b: float, precision: str = "auto") -> Tensor:
        r"""Posterior mean :math:`E[x \mid z_t = z]` under the mixture, in float64 blocks.

        ``precision`` is accepted for the common interface; the sums run in float64.
        """
        if not b > 0:
            raise ValueError(f"b must be positive, got {b!r}")
        if a == 0:
            return self.mean().to(z.dtype).expand(z.shape).clone()
        x64 = self.x.to(torch.float64)
        out = torch.empty(z.shape, dtype=z.dtype, device=z.device)
        rows = self._rows()
        for i in range(0, z.shape[0], rows):
            zi = z[i : i + rows].to(torch.float64)
            logits, proj, gain = self._terms(zi, a, b)
            w = torch.softmax(logits, dim=1)
            local = proj.mul_(gain).mul_(w[:, :, None]).view(zi.shape[0], -1)  # in place: r_n gain_nj p_nj
            out[i : i + rows] = torch.addmm(torch.mm(w, x64), local, self._flat)
        return out

    def log_densities(self, q: Tensor, coefficients) -> Tensor:
        r""":math:`\log \sum_n w_n N(q; a x_n, b^2 I + a^2 V_n \operatorname{diag}(\mu_n) V_n^\top)` for each ``(a, b)``.

        The projections of a block of q onto every :math:`v_{nj}` are computed once for all pairs.

        Returns
        -------
        Tensor of shape (len(coefficients), m), float64
        """
        q = q.to(device=self.x.device, dtype=torch.float64)
        d = self.x.shape[1]
        pairs = [(float(a), float(b)) for a, b in coefficients]
        out = torch.empty(len(pairs), q.shape[0], dtype=torch.float64, device=q.device)
        rows = self._rows()
        log_n = 0.0 if self.log_weights is not None else math.log(self.x.shape[0])
        for i in range(0, q.shape[0], rows):
            qi = q[i : i + rows]
            qq = (qi * qi).sum(dim=1)
            zv = torch.mm(qi, self._flat.T)
            for k, (a, b) in enumerate(pairs):
                logits = self._terms(qi, a, b, zv)[0]
                norm = 0.5 * d * math.log(2.0 * math.pi * b * b)
                out[k, i : i + rows] = torch.logsumexp(logits, dim=1) - qq / (2.0 * b * b) - log_n - norm
        return out
