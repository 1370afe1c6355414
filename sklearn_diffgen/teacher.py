r"""The teacher: the law the labels follow, its cross-validated choice, exact density and log-determinants.

With the exact score of the diffused empirical distribution, the probability-flow ODE carries
:math:`N(0, I_d)` at t = 1 onto the law of :math:`z_{t} = a x + b \epsilon` at
:math:`t_{\mathrm{end}}`, and the labels :math:`x = z_{t_{\mathrm{end}}} / a` follow the data
smoothed by a Gaussian of width :math:`h = b / a`:

.. math::

    p_h(x) = \frac1N \sum_{n=1}^N N(x; x_n, h^2 I_d),

a Gaussian kernel density estimate (:class:`sklearn.neighbors.KernelDensity` with bandwidth
h). The variance-corrected teacher (:func:`variance_scale`) scales the labels by
:math:`c = 1/\sqrt{1 + h^2}`, so that they follow
:math:`q_h(u) = \frac1N \sum_n N(u; c x_n, c^2 h^2 I_d)`, with the data's variance. A
:class:`Teacher` holds the data x, h and c.

The ODE map :math:`T: z \mapsto x` is a diffeomorphism that pushes :math:`N(0, I)` onto the
teacher q, so by the change of variables, for every label pair :math:`(z, x = T(z))`,

.. math::

    \log \left| \det \frac{\partial T}{\partial z} \right| = \log N(z; 0, I_d) - \log q(x),

one log-sum-exp per label and no integration along the trajectory
(:meth:`Teacher.logdet_targets`, the targets of the generator's Jacobian in
:func:`sklearn_diffgen.training.fit_regression`). :math:`\log q` is also the likelihood view
of the diffusion model (Huang, Lim & Courville 2021), exposed as
``score_samples(X, method="teacher")``. :func:`select_teacher` chooses h, the whitening and
the correction by the teacher's cross-validated likelihood
(:func:`cross_validated_log_likelihood`).

References
----------
C.-W. Huang, J. H. Lim, A. Courville. A variational perspective on diffusion-based generative
models and score matching. NeurIPS 2021. https://arxiv.org/abs/2106.02808

B. W. Silverman. Density Estimation for Statistics and Data Analysis, section 6.4.1 (the
smoothed bootstrap with variance correction). Chapman & Hall, 1986.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from .score import Kernel

__all__ = ["Teacher", "TeacherChoice", "select_teacher", "cross_validated_log_likelihood", "effective_size",
           "resolve_bandwidth", "variance_scale", "standard_normal_log_density",
           "WIDE_BANDWIDTHS", "CV_ROWS"]

#: ``bandwidth="auto"`` cross-validates the teacher on at most this many rows.
CV_ROWS = 2000
#: Extra bandwidths of the ``auto`` grid, where the variance-corrected teacher nears a Gaussian.
WIDE_BANDWIDTHS = (2.5, 5.0, 10.0)


def standard_normal_log_density(z: Tensor) -> Tensor:
    r""":math:`\log N(z; 0, I_d) = -\tfrac12 |z|^2 - \tfrac d2 \log 2\pi`, row by row.

    Examples
    --------
    >>> float(standard_normal_log_density(torch.zeros(1, 2, dtype=torch.float64))[0]) == -math.log(2 * math.pi)
    True
    """
    return -0.5 * (z * z).sum(dim=1) - 0.5 * z.shape[1] * math.log(2.0 * math.pi)


def variance_scale(bandwidth: float) -> float:
    r"""The factor :math:`c = 1 / \sqrt{1 + h^2}` of the variance-corrected teacher.

    Scaling the smoothed data :math:`x + h \epsilon` by c gives back unit variance to data of
    unit variance (Silverman 1986, section 6.4.1). As h grows, :math:`q_h` tends to the
    Gaussian with the data's mean (0) and, for whitened data, covariance (I).

    Examples
    --------
    >>> variance_scale(0.75)
    0.8
    """
    return 1.0 / math.sqrt(1.0 + float(bandwidth) ** 2)


def resolve_bandwidth(bandwidth, n: int, d: int) -> float:
    """A float bandwidth, or Scott's or Silverman's factor for n rows in d dimensions.

    The factors are those :class:`~sklearn.neighbors.KernelDensity` computes, in
    standardised units.

    Examples
    --------
    >>> resolve_bandwidth("scott", 10**6, 2), resolve_bandwidth(0.3, 10, 2)
    (0.1, 0.3)
    """
    if bandwidth == "scott":
        return n ** (-1.0 / (d + 4))
    if bandwidth == "silverman":
        return (n * (d + 2) / 4.0) ** (-1.0 / (d + 4))
    return float(bandwidth)


@dataclass(frozen=True)
class Teacher:
    r"""The law of the labels: :math:`q(u) = \frac1N \sum_n N(u; c\,x_n, c^2 h^2 I)`.

    Labelling diffuses the data x and stops where :math:`b/a = h`; the labels are then
    scaled by c (1 without the variance correction). Everything is in the model's
    coordinates (standardised, optionally whitened).

    Parameters
    ----------
    data : Tensor of shape (N, d) or None
        The data x_n in model coordinates, float64, on the device the work runs on; None
        for a teacher that keeps only its parameters (:meth:`without_data`), which has no
        density or kernel.
    bandwidth : float
        The smoothing width h > 0.
    scale : float, default=1.0
        The factor c of the variance correction (:func:`variance_scale`), or 1.
    log_weights : Tensor of shape (N,) or None, default=None
        Log-weights of the data points (``fit(X, sample_weight=w)``: :math:`\log w_n`, not
        necessarily normalised), float64, on the data's device; the mixture then weighs
        :math:`x_n` by :math:`w_n / \sum_m w_m` instead of 1/N. None weighs them alike.

    Examples
    --------
    With c = 1 the teacher is scikit-learn's :class:`~sklearn.neighbors.KernelDensity`:

    >>> from sklearn.neighbors import KernelDensity
    >>> g = torch.Generator().manual_seed(0)
    >>> data, u = torch.randn(50, 3, generator=g, dtype=torch.float64), torch.randn(4, 3, generator=g)
    >>> ref = KernelDensity(bandwidth=0.3).fit(data.numpy()).score_samples(u.numpy())
    >>> bool(torch.allclose(Teacher(data, 0.3).log_prob(u), torch.from_numpy(ref)))
    True
    """

    data: Tensor | None
    bandwidth: float
    scale: float = 1.0
    log_weights: Tensor | None = None

    @property
    def width(self) -> float:
        """The kernel width :math:`c h` of the teacher's mixture."""
        return self.scale * self.bandwidth

    def kernel(self, budget_bytes: int = 256 * 2**20) -> Kernel:
        """The kernel over the (unscaled) data, whose denoiser labelling integrates."""
        if self.data is None:
            raise ValueError("this teacher keeps no data (Teacher.without_data): it has no kernel or density")
        return Kernel(self.data, budget_bytes, log_weights=self.log_weights)

    def to(self, device) -> "Teacher":
        """The same teacher with its data on ``device``."""
        if self.data is None:
            return self
        lw = None if self.log_weights is None else self.log_weights.to(device)
        return Teacher(self.data.to(device), self.bandwidth, self.scale, lw)

    def without_data(self) -> "Teacher":
        """The same bandwidth and scale, without the data (and weights): what a fitted model keeps by default.

        Examples
        --------
        >>> t = Teacher(torch.zeros(3, 2, dtype=torch.float64), 0.5).without_data()
        >>> t.data is None, t.width
        (True, 0.5)
        """
        return Teacher(None, self.bandwidth, self.scale)

    def log_prob(self, u: Tensor, *, budget_bytes: int = 256 * 2**20) -> Tensor:
        """Exact log-density of the teacher at the rows of ``u``, in float64 (O(N) per row)."""
        return self.kernel(budget_bytes).log_density(u, self.scale, self.width)

    def logdet_targets(self, z: Tensor, labels: Tensor, *, budget_bytes: int = 256 * 2**20) -> Tensor:
        r"""The teacher map's :math:`\log|\det \partial T / \partial z|` at each label pair.

        .. math:: \log N(z; 0, I) - \log q(x), \qquad x = T(z).

        Exact for the exact score and an exact ODE solve; with a solver's label error
        :math:`\delta x` it is off by about :math:`\nabla \log q(x) \cdot \delta x`.

        Examples
        --------
        For a single data point at 0 the map is :math:`T(z) = h z`, with log-determinant
        :math:`d \log h`:

        >>> z = torch.randn(5, 2, dtype=torch.float64)
        >>> t = Teacher(torch.zeros(1, 2, dtype=torch.float64), 0.5).logdet_targets(z, 0.5 * z)
        >>> bool(torch.allclose(t, torch.full((5,), 2 * math.log(0.5), dtype=torch.float64)))
        True
        """
        return standard_normal_log_density(z.to(torch.float64)) - self.log_prob(labels, budget_bytes=budget_bytes)


# ------------------------------------------------------------------------ cross-validation
def cross_validated_log_likelihood(x: Tensor, bandwidths, *, variance_correction: bool = False,
                                   n_folds: int = 3, generator: torch.Generator | None = None,
                                   budget_bytes: int = 256 * 2**20,
                                   log_weights: Tensor | None = None) -> Tensor:
    r"""Mean held-out log-density of the teacher for each bandwidth, by K-fold cross-validation.

    Fold k scores its rows under the teacher built on the other folds (:class:`Teacher`,
    with :math:`c = 1` or, with ``variance_correction``, :func:`variance_scale`). Each block
    of a fold's rows costs one matrix product for all the bandwidths
    (:meth:`~sklearn_diffgen.score.Kernel.log_densities`), in blocks that fit ``budget_bytes``.

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
    budget_bytes : int
        Memory for the (rows x training rows) blocks.
    log_weights : Tensor of shape (n,) or None
        Log-weights of the rows: each fold's teacher is weighted (:class:`Teacher`), and the
        score is the weighted mean of the held-out log-densities over all folds.

    Returns
    -------
    Tensor of shape (len(bandwidths),), float64
        The mean over folds of each fold's mean held-out log-density (with weights, the
        weighted mean over every held-out row).

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
    n = x.shape[0]
    if not 2 <= n_folds <= n:
        raise ValueError(f"n_folds must be in [2, n_samples={n}], got {n_folds}")
    perm = torch.randperm(n, generator=generator).to(x.device)
    fold = torch.arange(n, device=x.device) % n_folds
    hs = [float(h) for h in bandwidths]
    cs = [variance_scale(h) if variance_correction else 1.0 for h in hs]
    out = torch.zeros(len(hs), dtype=torch.float64)
    coefficients = [(c, c * h) for c, h in zip(cs, hs)]
    if log_weights is not None:
        w = torch.softmax(log_weights.to(device=x.device, dtype=torch.float64), dim=0)
    for k in range(n_folds):
        val, train = perm[fold == k], perm[fold != k]
        if log_weights is None:
            logp = Kernel(x[train], budget_bytes).log_densities(x[val], coefficients)
            out += logp.mean(dim=1).cpu() / n_folds
        else:
            kernel = Kernel(x[train], budget_bytes, log_weights=w[train].log())
            out += (kernel.log_densities(x[val], coefficients) @ w[val]).cpu()
    return out


class TeacherChoice(NamedTuple):
    """What :func:`select_teacher` chose, and the cross-validated score of that choice."""

    bandwidth: float
    whiten: bool
    variance_correction: bool
    score: float


def effective_size(log_weights: Tensor | None, n: int) -> float:
    r"""Kish's effective sample size :math:`(\sum w)^2 / \sum w^2` of n weighted rows (n without weights).

    Examples
    --------
    >>> round(effective_size(torch.tensor([1.0, 1.0, 2.0], dtype=torch.float64).log(), 3), 9), effective_size(None, 3)
    (2.666666667, 3)
    """
    if log_weights is None:
        return n
    w = torch.softmax(log_weights.to(torch.float64), dim=0)
    return float(1.0 / (w * w).sum())


def select_teacher(x: Tensor, n_total: float, bandwidth, whiten, variance_correction, *,
                   whitening: tuple[Tensor, float], fold_seed: int = 0,
                   budget_bytes: int = 256 * 2**20, log_weights: Tensor | None = None) -> TeacherChoice:
    r"""Bandwidth, whitening and variance correction of the teacher, by cross-validation.

    Every setting left to ``"auto"`` is chosen to maximise the 3-fold cross-validated
    log-likelihood of the teacher (:func:`cross_validated_log_likelihood`) on the rows
    ``x``, in standardised units (whitened scores get :math:`\log|\det W|`), on the same
    folds. The ``auto`` grid is 17 values log-spaced in Scott's factor for these m rows
    times [0.05, 2], and :data:`WIDE_BANDWIDTHS`. A bandwidth chosen on m of the
    ``n_total`` rows is rescaled by Scott's :math:`(m/n)^{1/(d+4)}`. With weights, m and n
    are effective sample sizes (:func:`effective_size`). On a tie (one column, or no
    correlation) the plain teacher wins.

    Parameters
    ----------
    x : Tensor of shape (m, d)
        Standardised rows to cross-validate on (at most :data:`CV_ROWS` of the data).
    n_total : int or float
        Rows of the whole data (their effective number, with weights), for the rescaling and
        the rules of thumb.
    bandwidth, whiten, variance_correction
        The estimator's parameters: a value, or ``"auto"``.
    whitening : (Tensor of shape (d, d), float)
        The symmetric whitening matrix W and :math:`\log|\det W|`.
    fold_seed : int
        Seeds the dealing of the rows into folds, the same for every candidate.
    budget_bytes : int
        Memory for the cross-validation's blocks.
    log_weights : Tensor of shape (m,) or None
        Log-weights of the rows ``x`` (:func:`cross_validated_log_likelihood`).

    Returns
    -------
    TeacherChoice
        ``score`` is NaN when nothing was left to choose.

    Examples
    --------
    >>> x = torch.randn(200, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> W = (torch.eye(2, dtype=torch.float64), 0.0)
    >>> choice = select_teacher(x, 200, "auto", False, False, whitening=W)
    >>> choice.whiten, choice.variance_correction, 0.1 < choice.bandwidth < 2
    (False, False, True)
    """
    d = x.shape[1]
    m = effective_size(log_weights, x.shape[0])
    whitens = [False, True] if whiten == "auto" else [bool(whiten)]
    corrections = [False, True] if variance_correction == "auto" else [bool(variance_correction)]
    if bandwidth != "auto" and len(whitens) == len(corrections) == 1:
        return TeacherChoice(resolve_bandwidth(bandwidth, n_total, d), whitens[0], corrections[0], math.nan)
    if bandwidth == "auto":
        grid = [*(m ** (-1.0 / (d + 4)) * torch.logspace(-1.3, 0.3, 17, dtype=torch.float64)).tolist(),
                *WIDE_BANDWIDTHS]
    else:
        grid = [resolve_bandwidth(bandwidth, n_total, d)]
    best = TeacherChoice(grid[0], whitens[0], corrections[0], -math.inf)
    W, logdet = whitening
    for w in whitens:
        xw = x @ W.to(x) if w else x  # W is symmetric
        for c in corrections:
            cv = cross_validated_log_likelihood(xw, grid, variance_correction=c, n_folds=min(3, x.shape[0]),
                                                generator=torch.Generator().manual_seed(int(fold_seed)),
                                                budget_bytes=budget_bytes, log_weights=log_weights)
            i = int(torch.argmax(cv))
            score = float(cv[i]) + (logdet if w else 0.0)
            if score > best.score:
                best = TeacherChoice(grid[i], w, c, score)
    h = best.bandwidth * (m / n_total) ** (1.0 / (d + 4)) if bandwidth == "auto" else best.bandwidth
    return best._replace(bandwidth=float(h))
