r"""The teacher's exact log-density and the log-determinants of its map, in closed form.

With the exact score of the diffused empirical distribution, the probability-flow ODE carries
:math:`N(0, I_d)` at t = 1 onto the law of :math:`z_{t} = a x + b \epsilon` at
:math:`t_{\mathrm{end}}`, and the labels :math:`x = z_{t_{\mathrm{end}}} / a` follow the data
smoothed by a Gaussian of width :math:`h = b / a`:

.. math::

    p_h(x) = \frac1N \sum_{n=1}^N N(x; x_n, h^2 I_d),

a Gaussian kernel density estimate (:class:`sklearn.neighbors.KernelDensity` with bandwidth
h). The ODE map :math:`T: z \mapsto x` is a diffeomorphism that pushes :math:`N(0, I)` onto
:math:`p_h`, so by the change of variables, for every label pair :math:`(z, x = T(z))`,

.. math::

    \log \left| \det \frac{\partial T}{\partial z} \right| = \log N(z; 0, I_d) - \log p_h(x),

one log-sum-exp per label and no integration along the trajectory.

The variance-corrected teacher (:func:`variance_scale`) scales the labels by
:math:`c = 1/\sqrt{1 + h^2}`; it pushes :math:`N(0, I)` onto
:math:`q_h(u) = \frac1N \sum_n N(u; c x_n, c^2 h^2 I_d)`, itself a Gaussian KDE (centres
:math:`c x_n`, bandwidth :math:`c h`), so every formula here applies with those centres and
that bandwidth. :func:`cross_validated_log_likelihood` scores both teachers on held-out
folds, which is how the estimator chooses h. These are the targets of
the generator's Jacobian in :func:`sklearn_diffgen.training.fit_regression`; :math:`\log p_h`
is also the likelihood view of the diffusion model (Huang, Lim & Courville 2021), exposed as
``score_samples(X, method="teacher")``.

References
----------
C.-W. Huang, J. H. Lim, A. Courville. A variational perspective on diffusion-based generative
models and score matching. NeurIPS 2021. https://arxiv.org/abs/2106.02808
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .score import chunk_rows

__all__ = ["teacher_log_density", "logdet_targets", "standard_normal_log_density", "variance_scale",
           "cross_validated_log_likelihood"]


def standard_normal_log_density(z: Tensor) -> Tensor:
    r""":math:`\log N(z; 0, I_d) = -\tfrac12 |z|^2 - \tfrac d2 \log 2\pi`, row by row.

    Examples
    --------
    >>> float(standard_normal_log_density(torch.zeros(1, 2, dtype=torch.float64))[0]) == -math.log(2 * math.pi)
    True
    """
    return -0.5 * (z * z).sum(dim=1) - 0.5 * z.shape[1] * math.log(2.0 * math.pi)


def teacher_log_density(x: Tensor, data: Tensor, bandwidth: float, *,
                        budget_bytes: int = 256 * 2**20) -> Tensor:
    r"""Log-density of the data smoothed by :math:`N(0, h^2 I)`: a Gaussian KDE, in float64.

    .. math::

        \log p_h(x) = \operatorname{logsumexp}_n \left(-\frac{|x - x_n|^2}{2 h^2}\right)
                      - \log N - \frac d2 \log(2 \pi h^2)

    The squared distances are expanded as :math:`|x|^2 - 2 x \cdot x_n + |x_n|^2` (one matrix
    product per block of rows, blocks sized to ``budget_bytes``) and clamped at 0.

    Parameters
    ----------
    x : Tensor of shape (m, d)
        Points to score.
    data : Tensor of shape (N, d)
        The kernel centres (standardised training data).
    bandwidth : float
        h > 0.
    budget_bytes : int
        Memory for the (rows x N) blocks.

    Returns
    -------
    Tensor of shape (m,), float64

    Examples
    --------
    Equal to scikit-learn's :class:`~sklearn.neighbors.KernelDensity`:

    >>> from sklearn.neighbors import KernelDensity
    >>> g = torch.Generator().manual_seed(0)
    >>> data, x = torch.randn(50, 3, generator=g), torch.randn(4, 3, generator=g)
    >>> ref = KernelDensity(bandwidth=0.3).fit(data.numpy()).score_samples(x.numpy())
    >>> bool(torch.allclose(teacher_log_density(x, data, 0.3), torch.from_numpy(ref)))
    True
    """
    x = x.to(torch.float64)
    data = data.to(device=x.device, dtype=torch.float64)
    n, d = data.shape
    h2 = float(bandwidth) ** 2
    sq = (data * data).sum(dim=1)
    const = -math.log(n) - 0.5 * d * math.log(2.0 * math.pi * h2)
    out = torch.empty(x.shape[0], dtype=torch.float64, device=x.device)
    rows = chunk_rows(n, budget_bytes, itemsize=8, n_buffers=2)
    for i in range(0, x.shape[0], rows):
        xi = x[i : i + rows]
        dist = ((xi * xi).sum(dim=1, keepdim=True) - 2.0 * xi @ data.T + sq).clamp_min_(0.0)
        out[i : i + rows] = torch.logsumexp(dist.mul_(-0.5 / h2), dim=1) + const
    return out


def variance_scale(bandwidth: float) -> float:
    r"""The factor :math:`c = 1 / \sqrt{1 + h^2}` of the variance-corrected teacher.

    Scaling the smoothed data :math:`x + h \epsilon` by c gives back unit variance to data of
    unit variance (Silverman 1986, section 6.4.1): the teacher becomes
    :math:`q_h(u) = \frac1N \sum_n N(u; c x_n, c^2 h^2 I)`. As h grows, :math:`q_h` tends
    to the Gaussian with the data's mean (0) and, for whitened data, covariance (I).

    Examples
    --------
    >>> variance_scale(0.75)
    0.8
    """
    return 1.0 / math.sqrt(1.0 + float(bandwidth) ** 2)


def cross_validated_log_likelihood(x: Tensor, bandwidths, *, variance_correction: bool = False,
                                   n_folds: int = 3, generator: torch.Generator | None = None
                                   ) -> Tensor:
    r"""Mean held-out log-density of the teacher for each bandwidth, by K-fold cross-validation.

    Fold k scores its rows under the teacher built on the other folds: the Gaussian KDE
    :math:`p_h` of :func:`teacher_log_density` or, with ``variance_correction``, its scaled
    version :math:`q_h` (:func:`variance_scale`). The Gram matrix of each fold is computed
    once, so every bandwidth costs one log-sum-exp over it.

    Parameters
    ----------
    x : Tensor of shape (n, d)
        Data, in the units the teacher works in (standardised or whitened).
    bandwidths : sequence of float
        Values of h > 0 to score.
    variance_correction : bool, default=False
        Score :math:`q_h` instead of :math:`p_h`.
    n_folds : int, default=3
        Number of folds K, at most n.
    generator : torch.Generator or None
        Shuffles the rows before they are dealt into folds.

    Returns
    -------
    Tensor of shape (len(bandwidths),), float64
        The mean over folds of each fold's mean held-out log-density.

    Examples
    --------
    Without the correction this is the cross-validated score of scikit-learn's
    :class:`~sklearn.neighbors.KernelDensity`:

    >>> from sklearn.neighbors import KernelDensity
    >>> x = torch.randn(30, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> cv = cross_validated_log_likelihood(x, [0.5], n_folds=3, generator=torch.Generator().manual_seed(1))
    >>> perm = torch.randperm(30, generator=torch.Generator().manual_seed(1))
    >>> ref = sum(KernelDensity(bandwidth=0.5).fit(x[perm[[i for i in range(30) if i % 3 != k]]].numpy())
    ...           .score(x[perm[k::3]].numpy()) / 10 for k in range(3)) / 3
    >>> bool(abs(float(cv[0]) - ref) < 1e-10)
    True
    """
    x = x.to(torch.float64)
    n, d = x.shape
    if not 2 <= n_folds <= n:
        raise ValueError(f"n_folds must be in [2, n_samples={n}], got {n_folds}")
    perm = torch.randperm(n, generator=generator).to(x.device)
    fold = torch.arange(n, device=x.device) % n_folds
    hs = [float(h) for h in bandwidths]
    out = torch.zeros(len(hs), dtype=torch.float64)
    for k in range(n_folds):
        val, train = x[perm[fold == k]], x[perm[fold != k]]
        cross = val @ train.T
        vv, tt = (val * val).sum(dim=1, keepdim=True), (train * train).sum(dim=1)
        for i, h in enumerate(hs):
            c = variance_scale(h) if variance_correction else 1.0
            s2 = (c * h) ** 2
            dist = (vv - 2.0 * c * cross + c * c * tt).clamp_min_(0.0)
            logp = (torch.logsumexp(dist.mul_(-0.5 / s2), dim=1) - math.log(train.shape[0])
                    - 0.5 * d * math.log(2.0 * math.pi * s2))
            out[i] += float(logp.mean()) / n_folds
    return out


def logdet_targets(z: Tensor, labels: Tensor, data: Tensor, bandwidth: float, *,
                   budget_bytes: int = 256 * 2**20) -> Tensor:
    r"""The teacher map's :math:`\log|\det \partial T / \partial z|` at each label pair.

    .. math:: \log N(z; 0, I) - \log p_h(x), \qquad x = T(z).

    Exact for the exact score and an exact ODE solve; with a solver's label error
    :math:`\delta x` it is off by about :math:`\nabla \log p_h(x) \cdot \delta x`.

    Parameters
    ----------
    z : Tensor of shape (n, d)
        Gaussian inputs of the labels.
    labels : Tensor of shape (n, d)
        ODE outputs :math:`x = T(z)`, in the units of ``data``.
    data, bandwidth, budget_bytes
        As in :func:`teacher_log_density`.

    Returns
    -------
    Tensor of shape (n,), float64

    Examples
    --------
    For a single data point at 0 the map is :math:`T(z) = h z`, with log-determinant
    :math:`d \log h`:

    >>> z = torch.randn(5, 2, dtype=torch.float64)
    >>> t = logdet_targets(z, 0.5 * z, torch.zeros(1, 2), 0.5)
    >>> bool(torch.allclose(t, torch.full((5,), 2 * math.log(0.5), dtype=torch.float64)))
    True
    """
    return standard_normal_log_density(z.to(torch.float64)) - teacher_log_density(
        labels, data, bandwidth, budget_bytes=budget_bytes)
