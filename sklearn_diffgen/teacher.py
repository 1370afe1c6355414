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

The teacher may also give each point its own kernel, and stay a Gaussian mixture with a
closed-form diffused score: the adaptive teacher widths :math:`h \lambda_n` from Abramson's
square-root law (:func:`abramson_widths`), the local teacher
:math:`h^2 I + V_n \operatorname{diag}(\mu_n) V_n^\top` from each point's neighbours
(:mod:`sklearn_diffgen.manifold`). :data:`TEACHERS` lists the kinds, and
:func:`build_teacher` makes the one :func:`select_teacher` chose.

References
----------
I. S. Abramson. On bandwidth variation in kernel estimates: a square root law. Annals of
Statistics 10(4), 1982.

C.-W. Huang, J. H. Lim, A. Courville. A variational perspective on diffusion-based generative
models and score matching. NeurIPS 2021. https://arxiv.org/abs/2106.02808

B. W. Silverman. Density Estimation for Statistics and Data Analysis, section 6.4.1 (the
smoothed bootstrap with variance correction). Chapman & Hall, 1986.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from .manifold import LocalKernel, local_covariances
from .score import Kernel

__all__ = ["Teacher", "TeacherChoice", "select_teacher", "cross_validated_log_likelihood", "effective_size",
           "resolve_bandwidth", "variance_scale", "standard_normal_log_density", "abramson_widths", "build_teacher",
           "local_neighbors", "fit_mixture", "mixture_teacher", "cross_validated_mixture_log_likelihood",
           "TEACHERS", "AUTO_TEACHERS", "ABRAMSON", "LOCAL_RANKS", "GMM_COMPONENTS", "WIDE_BANDWIDTHS", "CV_ROWS"]

#: ``bandwidth="auto"`` cross-validates the teacher on at most this many rows.
CV_ROWS = 2000
#: Extra bandwidths of the ``auto`` grid, where the variance-corrected teacher nears a Gaussian.
WIDE_BANDWIDTHS = (2.5, 5.0, 10.0)
#: The teachers' kinds: ``kde`` has one width; ``adaptive`` a width per point, by Abramson's
#: square-root law (:func:`abramson_widths`); ``local`` a kernel stretched along each point's
#: neighbours (:func:`~sklearn_diffgen.manifold.local_covariances`); ``gmm`` a fitted
#: full-covariance Gaussian mixture of few components (:func:`mixture_teacher`).
TEACHERS = ("kde", "adaptive", "local", "gmm")
#: The kinds ``teacher="auto"`` chooses from: those whose labelling costs about as much as the
#: plain kernel's (the local teacher's costs 6 to 80 times as much, so it is chosen by hand).
AUTO_TEACHERS = ("kde", "adaptive")
#: The kinds whose own parameter (the local rank, the mixture's components) is always cross-validated.
CV_TEACHERS = ("local", "gmm")
#: The sensitivity of the adaptive teacher's widths to its pilot density (Abramson's law).
ABRAMSON = 0.5
#: The ranks r the local teacher tries (those below the dimension), each with
#: :func:`local_neighbors` neighbours.
LOCAL_RANKS = (1, 4, 16, 32)
#: The numbers of components the mixture teacher tries (those with d + 1 fold rows each at least).
GMM_COMPONENTS = (1, 2, 4, 8, 16)


def local_neighbors(rank: int, n: int) -> int:
    """Neighbours k of a local covariance of rank r among n rows: 2 r + 10, at most n - 1.

    Examples
    --------
    >>> local_neighbors(4, 1000), local_neighbors(32, 50)
    (18, 49)
    """
    return min(2 * int(rank) + 10, int(n) - 1)


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


def abramson_widths(x: Tensor, bandwidth: float, sensitivity: float = ABRAMSON, *,
                    pilot_rows: Tensor | None = None, log_weights: Tensor | None = None,
                    budget_bytes: int = 256 * 2**20) -> Tensor:
    r"""Each row's relative kernel width :math:`\lambda_n = (\tilde f(x_n) / g)^{-\alpha}` (Abramson 1982).

    :math:`\tilde f` is the pilot: the kernel density estimate of the rows ``pilot_rows`` of
    x (all of them by default) with bandwidth h. A row that is not a pilot row joins the
    pilot for its own estimate, as one more row of mean weight, as the pilot rows do, so that
    a row far from the pilot's rows gets a bounded width rather than
    :math:`\tilde f \to 0`. g is the geometric mean of :math:`\tilde f(x_n)` over the rows
    (weighted by their weights), so that the widths' geometric mean is 1 and h keeps its
    scale. With :math:`\alpha = 1/2`, Abramson's square-root law, the adaptive estimate's
    bias is of order :math:`h^4` instead of :math:`h^2`; rows in sparse regions get wider kernels.

    Parameters
    ----------
    x : Tensor of shape (n, d)
        Rows that get a width.
    bandwidth : float
        The pilot's bandwidth h.
    sensitivity : float, default=0.5
        The exponent :math:`\alpha`; 0 gives every row width 1.
    pilot_rows : Tensor of shape (m,) or None
        Indices of the pilot's rows.
    log_weights : Tensor of shape (n,) or None
        Log-weights of the rows.
    budget_bytes : int
        Memory for the pilot's blocks.

    Returns
    -------
    Tensor of shape (n,), float64

    References
    ----------
    I. S. Abramson. On bandwidth variation in kernel estimates: a square root law. Annals of
    Statistics 10(4), 1982.

    Examples
    --------
    The row far from the others gets the widest kernel:

    >>> x = torch.tensor([[0.0], [0.1], [0.2], [3.0]], dtype=torch.float64)
    >>> lam = abramson_widths(x, 0.5)
    >>> int(lam.argmax()), round(float(lam.log().mean()), 12)
    (3, 0.0)
    """
    pilot, pilot_lw = x, log_weights
    if pilot_rows is not None:
        pilot_rows = pilot_rows.to(x.device)
        pilot, pilot_lw = x[pilot_rows], None if log_weights is None else log_weights[pilot_rows]
    log_f = Kernel(pilot, budget_bytes, log_weights=pilot_lw).log_density(x, 1.0, bandwidth)
    if pilot_rows is not None:  # each other row in its own pilot: (m f + K_h(0)) / (m + 1)
        (m, d), outside = pilot.shape, torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
        outside[pilot_rows] = False
        own = -0.5 * d * math.log(2.0 * math.pi * bandwidth * bandwidth)
        log_f[outside] = torch.logaddexp(log_f[outside] + math.log(m), torch.tensor(own).to(log_f)) - math.log(m + 1)
    return torch.exp(-float(sensitivity) * (log_f - _weighted_mean(log_f, log_weights)))


def _weighted_mean(values: Tensor, log_weights: Tensor | None) -> Tensor:
    """The mean of ``values`` over the rows, weighted by the softmax of ``log_weights`` (plain without)."""
    if log_weights is None:
        return values.mean()
    return torch.softmax(log_weights.to(values), dim=0) @ values


@dataclass(frozen=True)
class Teacher:
    r"""The law of the labels: :math:`q(u) = \frac1N \sum_n N(u; c\,x_n, c^2 h^2 \lambda_n^2 I)`.

    Labelling diffuses the data x and stops where :math:`b/a = h`; the labels are then
    scaled by c (1 without the variance correction). Everything is in the model's
    coordinates (standardised, optionally whitened). The plain teacher has every
    :math:`\lambda_n = 1`; the adaptive one (``widths``, :func:`abramson_widths`) gives each
    point its own width. Its labelling diffuses the mixture
    :math:`\sum_n N(x_n, h^2 (\lambda_n^2 - \lambda_{\min}^2) I)` and stops where
    :math:`b/a = h \lambda_{\min}` (:attr:`ode_bandwidth`), which adds the rest of each
    component's variance.

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
    widths : Tensor of shape (N,) or None, default=None
        The points' relative widths :math:`\lambda_n > 0`, float64, on the data's device;
        None gives every point width h.
    bases, local_variances : Tensor of shape (N, d, r) and (N, r), or None
        The local teacher's directions :math:`V_n` and variances :math:`\mu_n`: point n's
        kernel is :math:`N(c x_n, c^2 (h^2 I + V_n \operatorname{diag}(\mu_n) V_n^\top))`
        (:mod:`sklearn_diffgen.manifold`); labelling diffuses the rank-r part and stops
        at :math:`b/a = h`.

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
    widths: Tensor | None = None
    bases: Tensor | None = None
    local_variances: Tensor | None = None
    #: ``"kde"`` (one width), ``"adaptive"`` (a width per point), ``"local"`` or ``"gmm"``
    #: (whose ``data`` are the mixture's means and ``log_weights`` its weights): one of
    #: :data:`TEACHERS`, read off the fields unless given (``local`` where there are ``bases``).
    kind: str = ""
    #: The local teacher's rank r (d for the mixture teacher, 0 for the others), read off ``bases`` unless given.
    rank: int = 0

    def __post_init__(self):
        if not self.kind:
            kind = "local" if self.bases is not None else "kde" if self.widths is None else "adaptive"
            object.__setattr__(self, "kind", kind)
        if self.bases is not None:
            object.__setattr__(self, "rank", int(self.bases.shape[2]))

    @property
    def width(self) -> float:
        """The kernel width :math:`c h` of the teacher's mixture (the widths' geometric mean, adaptive)."""
        return self.scale * self.bandwidth

    @property
    def ode_bandwidth(self) -> float:
        r"""Where labelling stops: :math:`b/a = h \lambda_{\min}` (h for the plain teacher)."""
        return self.bandwidth if self.widths is None else self.bandwidth * float(self.widths.min())

    def kernel(self, budget_bytes: int = 256 * 2**20) -> Kernel:
        r"""The kernel over the (unscaled) data, whose denoiser labelling integrates.

        An adaptive teacher's points carry the variances :math:`h^2 (\lambda_n^2 - \lambda_{\min}^2)`.
        """
        if self.data is None:
            raise ValueError("this teacher keeps no data (Teacher.without_data): it has no kernel or density")
        if self.bases is not None:
            return LocalKernel(self.data, self.bases, self.local_variances, budget_bytes, log_weights=self.log_weights)
        var = None
        if self.widths is not None:
            low = float(self.widths.min())
            var = (self.bandwidth ** 2) * (self.widths - low) * (self.widths + low)  # >= 0 in floating point
        return Kernel(self.data, budget_bytes, log_weights=self.log_weights, variances=var)

    def to(self, device) -> "Teacher":
        """The same teacher with its data on ``device``."""
        if self.data is None:
            return self
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return Teacher(self.data.to(device), self.bandwidth, self.scale, move(self.log_weights), move(self.widths),
                       move(self.bases), move(self.local_variances), self.kind, self.rank)

    def without_data(self) -> "Teacher":
        """The same bandwidth, scale, kind and rank, without the data (and their weights, widths and
        local covariances): what a fitted model keeps by default.

        Examples
        --------
        >>> t = Teacher(torch.zeros(3, 2, dtype=torch.float64), 0.5).without_data()
        >>> t.data is None, t.width
        (True, 0.5)
        """
        return Teacher(None, self.bandwidth, self.scale, kind=self.kind, rank=self.rank)

    def log_prob(self, u: Tensor, *, budget_bytes: int = 256 * 2**20) -> Tensor:
        """Exact log-density of the teacher at the rows of ``u``, in float64 (O(N) per row)."""
        return self.kernel(budget_bytes).log_density(u, self.scale, self.scale * self.ode_bandwidth)

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
                                   log_weights: Tensor | None = None, kind: str = "kde", rank: int = 0) -> Tensor:
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
    kind : {"kde", "adaptive", "local"}, default="kde"
        The teacher to score. ``adaptive``: each fold's rows get the widths of
        :func:`abramson_widths` from their own pilot at each bandwidth; ``local``: their
        local covariances of rank ``rank`` among themselves (:func:`local_neighbors`
        neighbours), once per fold. Both cost a product per bandwidth, instead of one for all.
    rank : int
        The local teacher's rank r.

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
    hs = [float(h) for h in bandwidths]
    cs = [variance_scale(h) if variance_correction else 1.0 for h in hs]
    out = torch.zeros(len(hs), dtype=torch.float64)
    coefficients = [(c, c * h) for c, h in zip(cs, hs)]
    if log_weights is not None:
        w = torch.softmax(log_weights.to(device=x.device, dtype=torch.float64), dim=0)
    for val, train in _folds(x.shape[0], n_folds, generator, x.device):
        if kind != "kde":
            lw = None if log_weights is None else w[train].log()
            xt = x[train]
            if kind == "local":  # one kernel and one projection per block for every bandwidth
                bases, mu = local_covariances(xt, local_neighbors(rank, xt.shape[0]), rank, budget_bytes=budget_bytes)
                scales = [_local_scale(h, mu, x.shape[1], variance_correction, lw) for h in hs]
                logps = LocalKernel(xt, bases, mu, budget_bytes, log_weights=lw).log_densities(
                    x[val], [(c, c * h) for c, h in zip(scales, hs)])
            else:
                logps = [_adaptive_teacher(xt, h, variance_correction, lw, budget_bytes).log_prob(
                    x[val], budget_bytes=budget_bytes) for h in hs]
            for j, logp in enumerate(logps):
                out[j] += float(logp.mean() / n_folds if log_weights is None else logp @ w[val])
        elif log_weights is None:
            logp = Kernel(x[train], budget_bytes).log_densities(x[val], coefficients)
            out += logp.mean(dim=1).cpu() / n_folds
        else:
            kernel = Kernel(x[train], budget_bytes, log_weights=w[train].log())
            out += (kernel.log_densities(x[val], coefficients) @ w[val]).cpu()
    return out


def _adaptive_teacher(x: Tensor, bandwidth: float, variance_correction: bool, log_weights: Tensor | None,
                      budget_bytes: int, pilot_rows: Tensor | None = None, pilot_bandwidth: float | None = None,
                      min_width: float = 0.0) -> Teacher:
    """The adaptive teacher of ``x``: widths from a pilot at ``pilot_bandwidth`` (h by default),
    each at least ``min_width``."""
    lam = abramson_widths(x, bandwidth if pilot_bandwidth is None else pilot_bandwidth, ABRAMSON,
                          pilot_rows=pilot_rows, log_weights=log_weights, budget_bytes=budget_bytes)
    if min_width > 0:
        lam = lam.clamp_min(min_width / bandwidth)
    c = 1.0
    if variance_correction:  # the mixture's variance is 1 + h^2 E[lambda^2] per standardised unit
        c = variance_scale(bandwidth * math.sqrt(float(_weighted_mean(lam * lam, log_weights))))
    return Teacher(x, bandwidth, c, log_weights, lam)


def _local_scale(bandwidth: float, variances: Tensor, d: int, variance_correction: bool,
                 log_weights: Tensor | None) -> float:
    """The local teacher's c: its mixture's mean variance is 1 + h^2 + E[sum_j mu_nj] / d per unit."""
    if not variance_correction:
        return 1.0
    extra = float(_weighted_mean(variances.sum(dim=1), log_weights))
    return variance_scale(math.sqrt(bandwidth * bandwidth + extra / d))


def _local_teacher(x: Tensor, bandwidth: float, covariances: tuple[Tensor, Tensor], variance_correction: bool,
                   log_weights: Tensor | None) -> Teacher:
    """The local teacher of ``x`` with the local ``covariances`` (bases, variances)."""
    bases, mu = covariances
    c = _local_scale(bandwidth, mu, x.shape[1], variance_correction, log_weights)
    return Teacher(x, bandwidth, c, log_weights, bases=bases, local_variances=mu)


def fit_mixture(x: Tensor, n_components: int, seed: int = 0):
    """A full-covariance :class:`~sklearn.mixture.GaussianMixture` of the rows ``x`` (any device).

    Examples
    --------
    >>> gm = fit_mixture(torch.randn(100, 2, generator=torch.Generator().manual_seed(0)), 2)
    >>> gm.covariances_.shape
    (2, 2, 2)
    """
    from sklearn.mixture import GaussianMixture

    return GaussianMixture(int(n_components), covariance_type="full", random_state=int(seed)).fit(
        x.detach().to("cpu", torch.float64).numpy())


def mixture_teacher(mixture, *, min_width: float = 0.0) -> Teacher:
    r"""The teacher that is the fitted Gaussian mixture :math:`\sum_k \pi_k N(\mu_k, \Sigma_k)`.

    Each :math:`\Sigma_k = V_k \operatorname{diag}(\lambda_k) V_k^\top` is split as
    :math:`h^2 I + V_k \operatorname{diag}(\lambda_k - h^2) V_k^\top` with :math:`h^2` the
    smallest eigenvalue of all components, so that the teacher is a
    :class:`~sklearn_diffgen.manifold.LocalKernel` of full rank over the K means, weighted by
    :math:`\pi_k`, and labelling stops at :math:`b/a = h`. Where h is below ``min_width``
    (the schedule's smallest reachable ratio), the eigenvalues below :math:`\text{min\_width}^2`
    are raised to it. No variance correction: the mixture is fitted by maximum likelihood.

    Examples
    --------
    >>> from sklearn.mixture import GaussianMixture
    >>> x = torch.randn(200, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> gm = GaussianMixture(2, random_state=0).fit(x.numpy())
    >>> t = mixture_teacher(gm)
    >>> t.kind, t.data.shape, bool(torch.allclose(t.log_prob(x[:5]), torch.from_numpy(gm.score_samples(x[:5].numpy()))))
    ('gmm', torch.Size([2, 2]), True)
    """
    lam, vec = torch.linalg.eigh(torch.as_tensor(mixture.covariances_, dtype=torch.float64))
    h = max(float(min_width), math.sqrt(max(float(lam.min()), 0.0)))
    means = torch.as_tensor(mixture.means_, dtype=torch.float64)
    log_pi = torch.as_tensor(mixture.weights_, dtype=torch.float64).log()
    return Teacher(means, h, 1.0, log_pi, bases=vec, local_variances=(lam - h * h).clamp_min(0.0), kind="gmm")


def _refuse_weights(log_weights: Tensor | None) -> None:
    if log_weights is not None:
        raise ValueError("teacher='gmm' does not take sample weights (GaussianMixture has none)")


def _mixture_components(n_rows: int, d: int) -> list[int]:
    """The :data:`GMM_COMPONENTS` with at least d + 1 of ``n_rows`` rows each."""
    return [k for k in GMM_COMPONENTS if k * (d + 1) <= n_rows]


def cross_validated_mixture_log_likelihood(x: Tensor, n_components, *, n_folds: int = 3,
                                           generator: torch.Generator | None = None, seed: int = 0) -> Tensor:
    """Mean held-out log-density of a fitted Gaussian mixture for each number of components.

    The same folds as :func:`cross_validated_log_likelihood` for the same ``generator``; each
    fold fits :func:`fit_mixture` on the other folds (the mixture before any floor of
    :func:`mixture_teacher`).

    Examples
    --------
    >>> x = torch.cat([torch.randn(60, 2), torch.randn(60, 2) + 6]).double()
    >>> cv = cross_validated_mixture_log_likelihood(x, [1, 2], generator=torch.Generator().manual_seed(0))
    >>> bool(cv[1] > cv[0])  # two clusters
    True
    """
    x = x.detach().to("cpu", torch.float64)
    out = torch.zeros(len(n_components), dtype=torch.float64)
    for val, train in _folds(x.shape[0], n_folds, generator):
        xt, xv = x[train], x[val].numpy()
        for j, m in enumerate(n_components):
            out[j] += float(fit_mixture(xt, m, seed).score(xv)) / n_folds
    return out


def _folds(n: int, n_folds: int, generator: torch.Generator | None, device=None) -> list[tuple[Tensor, Tensor]]:
    """The (held-out rows, training rows) of each fold: the rows, shuffled, are dealt into folds in turn."""
    if not 2 <= n_folds <= n:
        raise ValueError(f"n_folds must be in [2, n_samples={n}], got {n_folds}")
    perm, fold = torch.randperm(n, generator=generator).to(device), (torch.arange(n) % n_folds).to(device)
    return [(perm[fold == k], perm[fold != k]) for k in range(n_folds)]


class TeacherChoice(NamedTuple):
    """What :func:`select_teacher` chose, and the cross-validated score of that choice."""

    bandwidth: float
    whiten: bool
    variance_correction: bool
    score: float
    kind: str = "kde"
    #: The bandwidth on the rows that were cross-validated, before the rescaling to all rows.
    pilot_bandwidth: float = math.nan
    #: The local teacher's rank r (0 for the others).
    rank: int = 0
    #: The mixture teacher's number of components (0 for the others).
    n_components: int = 0


def build_teacher(data: Tensor, choice: TeacherChoice, *, log_weights: Tensor | None = None,
                  pilot_rows: Tensor | None = None, min_width: float = 0.0,
                  budget_bytes: int = 256 * 2**20, seed: int = 0) -> Teacher:
    r"""The :class:`Teacher` of ``data`` (model coordinates) that ``choice`` describes.

    An adaptive teacher takes its pilot density from the rows ``pilot_rows`` (those that
    were cross-validated; all by default) at ``choice.pilot_bandwidth`` (the bandwidth by
    default), and a local one its neighbours from them, so that the cost grows as N times
    those rows. ``min_width`` floors the adaptive teacher's widths :math:`h \lambda_n` (a
    schedule's smallest reachable ratio b/a), and the mixture teacher's eigenvalues
    (:func:`mixture_teacher`), which is fitted to all of ``data`` from ``seed``.

    Examples
    --------
    >>> x = torch.randn(100, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> t = build_teacher(x, TeacherChoice(0.3, False, True, math.nan, "adaptive"))
    >>> t.kind, t.widths.shape, t.scale < variance_scale(0.3)  # the mean width is above h
    ('adaptive', torch.Size([100]), True)
    """
    h = choice.bandwidth
    if choice.kind == "gmm":
        _refuse_weights(log_weights)
        return mixture_teacher(fit_mixture(data, choice.n_components, seed), min_width=min_width).to(data.device)
    if choice.kind == "kde":
        return Teacher(data, h, variance_scale(h) if choice.variance_correction else 1.0, log_weights)
    if choice.kind == "local":
        m = data.shape[0] if pilot_rows is None else len(pilot_rows)
        cov = local_covariances(data, local_neighbors(choice.rank, m), choice.rank, reference_rows=pilot_rows,
                                budget_bytes=budget_bytes)
        return _local_teacher(data, h, cov, choice.variance_correction, log_weights)
    ph = None if math.isnan(choice.pilot_bandwidth) else choice.pilot_bandwidth
    return _adaptive_teacher(data, h, choice.variance_correction, log_weights, budget_bytes, pilot_rows=pilot_rows,
                             pilot_bandwidth=ph, min_width=min_width)


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
                   whitening: tuple[Tensor, float], teacher: str = "kde", fold_seed: int = 0,
                   budget_bytes: int = 256 * 2**20, log_weights: Tensor | None = None) -> TeacherChoice:
    r"""Kind, bandwidth, whitening and variance correction of the teacher, by cross-validation.

    Every setting left to ``"auto"`` (the kind: ``teacher="auto"`` tries those of
    :data:`AUTO_TEACHERS`) is chosen to maximise the 3-fold cross-validated
    log-likelihood of the teacher (:func:`cross_validated_log_likelihood`) on the rows
    ``x``, in standardised units (whitened scores get :math:`\log|\det W|`), on the same
    folds. The adaptive teacher is scored on the 5 bandwidths of the grid around the plain
    teacher's best (each costs a product of its own). The ``auto`` grid is 17 values
    log-spaced in Scott's factor for these m rows times [0.05, 2], and :data:`WIDE_BANDWIDTHS`. A bandwidth chosen on m of the
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
    teacher : {"kde", "adaptive", "local", "gmm", "auto"}, default="kde"
        The kind of teacher, or ``"auto"`` to choose it too (from :data:`AUTO_TEACHERS`).
        ``gmm`` cross-validates the number of components (:data:`GMM_COMPONENTS`), without the
        variance correction; it takes no weights.
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
    kinds = list(AUTO_TEACHERS) if teacher == "auto" else [teacher]
    n_folds = min(3, x.shape[0])
    n_fold = x.shape[0] - math.ceil(x.shape[0] / n_folds)  # rows of a fold's teacher, at least
    ranks = [r for r in LOCAL_RANKS if r < d and r <= local_neighbors(r, n_fold)]
    if not ranks and "local" in kinds:
        if teacher == "local":
            raise ValueError(f"teacher='local' needs at least 2 features and 3 rows, got {d} and {x.shape[0]}")
        kinds.remove("local")
    components = _mixture_components(n_fold, d)
    if teacher == "gmm":
        _refuse_weights(log_weights)
        if not components:
            raise ValueError(f"teacher='gmm' needs at least {d + 1} rows in each cross-validation fold's "
                             f"training part ({d} features), got {n_fold}")
    if (bandwidth != "auto" and len(whitens) == len(corrections) == len(kinds) == 1
            and kinds[0] not in CV_TEACHERS):
        return TeacherChoice(resolve_bandwidth(bandwidth, n_total, d), whitens[0], corrections[0], math.nan, kinds[0])
    if bandwidth == "auto":
        grid = [*(m ** (-1.0 / (d + 4)) * torch.logspace(-1.3, 0.3, 17, dtype=torch.float64)).tolist(),
                *WIDE_BANDWIDTHS]
    else:
        grid = [resolve_bandwidth(bandwidth, n_total, d)]
    W, logdet = whitening
    folds = lambda: torch.Generator().manual_seed(int(fold_seed))  # noqa: E731  the same folds for all
    if teacher == "gmm":  # its own widths: only the number of components is chosen, on the first whitening
        # (which moves its score by log|det W| alone), without the variance correction
        xw = x @ W.to(x) if whitens[0] else x
        gm = cross_validated_mixture_log_likelihood(xw, components, n_folds=n_folds, generator=folds(), seed=fold_seed)
        j = int(torch.argmax(gm))
        score = float(gm[j]) + (logdet if whitens[0] else 0.0)
        best = (TeacherChoice(grid[0], whitens[0], False, score, "gmm", n_components=components[j])
                if score > -math.inf else  # kept if no score is finite
                TeacherChoice(grid[0], whitens[0], corrections[0], -math.inf, "gmm", n_components=components[0]))
        h = best.bandwidth * (m / n_total) ** (1.0 / (d + 4)) if bandwidth == "auto" else best.bandwidth
        return best._replace(bandwidth=float(h), pilot_bandwidth=float(best.bandwidth))
    best = TeacherChoice(grid[0], whitens[0], corrections[0], -math.inf, kinds[0],
                         rank=ranks[0] if kinds[0] == "local" else 0)  # kept if no score is finite
    cv = functools.partial(cross_validated_log_likelihood, n_folds=n_folds, budget_bytes=budget_bytes,
                           log_weights=log_weights)
    for w in whitens:
        xw = x @ W.to(x) if w else x  # W is symmetric
        for c in corrections:
            scores = cv(xw, grid, variance_correction=c, generator=folds())
            i = int(torch.argmax(scores))
            candidates = [(float(scores[i]), grid[i], "kde", 0)] if "kde" in kinds else []
            if "adaptive" in kinds:  # its best bandwidth is near the plain one's: score the 5 around it
                near = grid[max(0, i - 2): i + 3]
                ad = cv(xw, near, variance_correction=c, generator=folds(), kind="adaptive")
                j = int(torch.argmax(ad))
                candidates.append((float(ad[j]), near[j], "adaptive", 0))
            if "local" in kinds:  # its isotropic part is narrower: the 7 at and below the plain one's
                below = grid[max(0, i - 6): i + 1]
                for r in ranks:
                    lo = cv(xw, below, variance_correction=c, generator=folds(), kind="local", rank=r)
                    j = int(torch.argmax(lo))
                    candidates.append((float(lo[j]), below[j], "local", r))
            for score, h, kind, r in candidates:
                score += logdet if w else 0.0
                if score > best.score:
                    best = TeacherChoice(h, w, c, score, kind, rank=r)
    h = best.bandwidth * (m / n_total) ** (1.0 / (d + 4)) if bandwidth == "auto" else best.bandwidth
    return best._replace(bandwidth=float(h), pilot_bandwidth=float(best.bandwidth))
