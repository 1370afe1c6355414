"""DiffusionSupervisedGenerator: the scikit-learn estimator, and the one place where numpy meets torch."""

from __future__ import annotations

import copy
import time
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn import get_config
from sklearn.base import BaseEstimator, DensityMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .density import log_density
from .labeling import make_labels
from .networks import ACTIVATIONS, MLP
from .schedules import SCHEDULES, time_grid
from .solvers import SOLVERS
from .teacher import cross_validated_log_likelihood, logdet_targets, teacher_log_density, variance_scale
from .training import fit_regression

__all__ = ["DiffusionSupervisedGenerator"]

#: The sampling noise s is this fraction of the teacher's kernel width c h (model units).
NOISE_FRACTION = 0.1
_NETWORKS = ("generator_", "inverse_")
#: Rows of noise drawn per call of the random generator: torch's CPU normal sampler fills
#: blocks of 16 values and handles a short tail differently, and float32 matrix kernels
#: round differently for few rows, so whole blocks keep every row chunk-invariant.
_NOISE_BLOCK = 64


def _resolve_device(device) -> torch.device:
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device={device!r} is not a valid torch device: {exc}") from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device={device!r}: only 'cpu' and 'cuda' devices are supported")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available")
    return dev


#: ``bandwidth="auto"`` cross-validates the teacher on at most this many rows.
AUTO_BANDWIDTH_ROWS = 2000
#: Extra bandwidths of the ``auto`` grid, where the variance-corrected teacher nears a Gaussian.
WIDE_BANDWIDTHS = (2.5, 5.0, 10.0)
#: ``n_labels="auto"``: this many labels, fewer above ``LABEL_BUDGET / N`` training rows, never
#: fewer than ``MIN_AUTO_LABELS``. Labelling costs n_labels x N per score evaluation.
MAX_AUTO_LABELS, MIN_AUTO_LABELS, LABEL_BUDGET = 30_000, 10_000, 3e9
#: Eigenvalues of the correlation matrix are floored at this fraction of the largest before
#: whitening, so that collinear columns (one-hot codes, sums) give finite coordinates.
WHITEN_FLOOR = 1e-6


def _auto_labels(n: int) -> int:
    """``n_labels="auto"`` for n training rows."""
    return int(np.clip(LABEL_BUDGET / n, MIN_AUTO_LABELS, MAX_AUTO_LABELS))


def _resolve_bandwidth(bandwidth, Xs: np.ndarray) -> float:
    # Scott's and Silverman's factors, as KernelDensity computes them, in standardised units
    n, d = Xs.shape
    if bandwidth == "scott":
        return n ** (-1.0 / (d + 4))
    if bandwidth == "silverman":
        return (n * (d + 2) / 4.0) ** (-1.0 / (d + 4))
    return float(bandwidth)


def _whitening(Xs: np.ndarray) -> tuple[np.ndarray, float]:
    r"""ZCA whitening :math:`W = V \Lambda^{-1/2} V^T` of standardised data, and :math:`\log|\det W|`.

    :math:`R = V \Lambda V^T` is the correlation matrix; eigenvalues below
    :data:`WHITEN_FLOOR` times the largest are raised to it.
    """
    lam, V = np.linalg.eigh(Xs.T @ Xs / Xs.shape[0])
    lam = np.maximum(lam, WHITEN_FLOOR * lam.max())
    return (V / np.sqrt(lam)) @ V.T, float(-0.5 * np.log(lam).sum())


def _select_teacher(Xs: np.ndarray, bandwidth, whiten, variance_correction,
                    rng: np.random.RandomState) -> tuple[float, bool, bool]:
    """Bandwidth, whitening and variance correction of the teacher, by cross-validation.

    Every setting left to ``"auto"`` is chosen to maximise the 3-fold cross-validated
    log-likelihood of the teacher (:func:`~sklearn_diffgen.teacher.cross_validated_log_likelihood`),
    in standardised units (whitened scores get :math:`\\log|\\det W|`), on the same folds of
    at most ``AUTO_BANDWIDTH_ROWS`` rows. A bandwidth chosen on a subset of m of the n rows
    is rescaled by Scott's :math:`(m/n)^{1/(d+4)}`.
    """
    n, d = Xs.shape
    # on a tie (one column, or no correlation) the plain teacher wins
    whitens = [False, True] if whiten == "auto" else [bool(whiten)]
    corrections = [False, True] if variance_correction == "auto" else [bool(variance_correction)]
    if bandwidth != "auto" and len(whitens) == len(corrections) == 1:
        return _resolve_bandwidth(bandwidth, Xs), whitens[0], corrections[0]
    m = min(n, AUTO_BANDWIDTH_ROWS)
    rows = rng.choice(n, m, replace=False) if m < n else np.arange(n)
    if bandwidth == "auto":
        grid = [*(m ** (-1.0 / (d + 4)) * np.logspace(-1.3, 0.3, 17)), *WIDE_BANDWIDTHS]
    else:
        grid = [_resolve_bandwidth(bandwidth, Xs)]
    seed = int(rng.randint(2**31 - 1))
    best = (-np.inf, grid[0], whitens[0], corrections[0])
    for w in whitens:
        W, logdet = _whitening(Xs) if w else (None, 0.0)
        x = torch.as_tensor(Xs[rows] @ W if w else Xs[rows])  # W is symmetric
        for c in corrections:
            cv = cross_validated_log_likelihood(x, grid, variance_correction=c, n_folds=min(3, m),
                                                generator=torch.Generator().manual_seed(seed))
            i = int(torch.argmax(cv))
            if float(cv[i]) + logdet > best[0]:
                best = (float(cv[i]) + logdet, grid[i], w, c)
    h = best[1] * (m / n) ** (1.0 / (d + 4)) if bandwidth == "auto" else best[1]
    return float(h), best[2], best[3]


def _numpy_rng(random_state) -> np.random.RandomState:
    """``check_random_state``, except that None draws fresh OS entropy instead of using (and
    advancing) numpy's global RandomState."""
    if random_state is None:
        return np.random.RandomState(np.random.default_rng().integers(2**32))
    return check_random_state(random_state)


def _torch_generator(random_state) -> torch.Generator:
    """A CPU torch generator seeded from ``random_state`` (see :func:`_numpy_rng`)."""
    return torch.Generator().manual_seed(int(_numpy_rng(random_state).randint(np.iinfo(np.int32).max)))


class DiffusionSupervisedGenerator(DensityMixin, BaseEstimator):
    r"""One-step generative model with a log-density, taught by a training-free diffusion model.

    The method of Liu et al. (2023), in four steps:

    1. **Training-free score.** The standardised (and, by default, whitened) data
       :math:`x_1..x_N` are diffused as
       :math:`z_t = a(t) x + b(t) \epsilon`. The denoiser of the diffused empirical
       distribution is a softmax-weighted mean of the data,
       :math:`D(z) = \sum_n w_n x_n` with :math:`w \propto \exp(-|z - a x_n|^2 / (2 b^2))`,
       evaluated exactly or by Monte Carlo over a mini-batch (``score_batch_size``).
    2. **Labelling.** ``n_labels`` draws :math:`z \sim N(0, I)` are carried by the
       probability-flow ODE from t = 1 to the time where :math:`b/a` equals ``bandwidth``.
       The labels are then distributed as the data smoothed by a Gaussian of that width,
       optionally scaled back to the data's variance (``variance_correction``).
    3. **Supervised generator.** An MLP F is fitted by regression so that
       :math:`F(z) \approx x`. Sampling is one forward pass, :math:`x = F(z) + s e`, with a
       small noise :math:`s = 0.1\,c\,h` (model units) that gives the model a density
       everywhere.
    4. **Density.** :meth:`score_samples` is the log-density of what :meth:`sample` draws:
       :math:`\log N(z^*) - \log|\det \partial F / \partial z (z^*)|` where
       :math:`F(z^*) = x`, found from a learned inverse network and refined by
       Levenberg-Marquardt on exact Jacobians, in float64 (see
       :mod:`sklearn_diffgen.density`).

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
    bandwidth : float in (0, 10] or {"auto", "scott", "silverman"}, default="auto"
        Width h of the Gaussian smoothing of the data, in standardised (or whitened) units:
        labelling stops where :math:`b(t)/a(t) = h`. Without whitening and correction the
        teacher is exactly a Gaussian KDE of the standardised data, and h is the bandwidth
        of :class:`~sklearn.neighbors.KernelDensity`. ``auto`` maximises the 3-fold
        cross-validated log-likelihood of the teacher over 17 values log-spaced in
        Scott's factor x [0.05, 2] and 2.5, 5 and 10, jointly with ``whiten`` and
        ``variance_correction`` when these are ``auto`` (on at most 2,000 rows, the result
        rescaled by :math:`(2000/N)^{1/(d+4)}`; see
        :func:`~sklearn_diffgen.teacher.cross_validated_log_likelihood`). ``scott`` and
        ``silverman`` are :math:`N^{-1/(d+4)}` and :math:`(N (d+2)/4)^{-1/(d+4)}`: right
        for Gaussian data, three to four times too wide for multimodal data
        (``benchmarks/bandwidth_rule.py``).
    whiten : bool or "auto", default="auto"
        Diffuse the data in ZCA-whitened coordinates :math:`W x`, with
        :math:`W = R^{-1/2}` for the correlation matrix R (eigenvalues floored at 1e-6
        times the largest, so collinear columns stay finite): the smoothing kernel then
        has the shape of the data's covariance (Fukunaga's kernel estimate) instead of
        being round in standardised units. The density is mapped back with
        :math:`\log|\det W|`. ``auto`` decides by cross-validation, with the bandwidth.
    variance_correction : bool or "auto", default="auto"
        Scale the teacher's output :math:`x + h \epsilon` by :math:`c = 1/\sqrt{1 + h^2}`,
        so that it keeps the data's variance (Silverman 1986, section 6.4.1): the labels
        then follow :math:`\frac1N \sum_n N(c x_n, c^2 h^2 I)`. As h grows this teacher
        tends to the Gaussian with the data's mean and (whitened) covariance, so
        cross-validation over h moves between a kernel estimate and a Gaussian fit. Without
        the correction, smoothing inflates every variance by :math:`h^2`. ``auto``
        decides by cross-validation, with the bandwidth. In ``benchmarks/density.py``
        (10,000 rows) it picked whitening, the correction and h of 8 to 10 on correlated
        Gaussians in 5 and 20 dimensions, where the model's KL divergence from the truth
        fell from 0.082 and 1.93 nats (the standardised KDE teacher, 10,000 labels) to
        0.002 and 0.016; on the 2-D toys it kept unwhitened data and a correction
        :math:`c > 0.99`, almost the plain KDE. On breast cancer (30-D) the tuned model's
        held-out log-likelihood rose from -22.8 to -11.7 with this and 30,000 labels
        (``benchmarks/quality.py``).
    n_labels : int or "auto", default="auto"
        Number of (z, x) pairs produced by the ODE and used to train the generator. The
        generator's fit of the ODE map, and so its density, is limited by the labels
        before the network: ``auto`` takes 30,000, or :math:`3 \cdot 10^9 / N` for
        :math:`N` training rows when that is fewer, and never fewer than 10,000 (so
        from 300,000 rows on, labelling costs what it did with 10,000 labels). On 10,000
        rows of checkerboard, 8gaussians, two moons, rings and pinwheel (seed 0), 30,000
        labels instead of 10,000 raised the held-out log-likelihood by 0.034 nats on
        average (standard error 0.018; better on all five, from +0.003 on two moons to
        +0.064 on checkerboard and +0.091 on rings) for 2.3 times the median fit time, 79 s
        against 35 s on one thread; 20,000 gained 0.019
        (``benchmarks/solver_defaults.py --page label_count``).
    solver : {"dpmpp_3m", "dpmpp_2m", "ddim", "heun", "euler"}, default="dpmpp_3m"
        ODE solver. ``euler`` on a uniform time grid is the paper's; the others step on a
        grid uniform in :math:`\log(b/a)`. ``dpmpp_3m`` (third order) takes the first
        interval, down to :math:`b/a = 10`, by the exact flow of a Gaussian with the data's
        mean and covariance, at no score cost, and steps on a log-SNR grid that tightens
        towards the end. With 10 score evaluations per label (``n_steps=11``) its RMS label
        error is 1.8e-2 on two moons and 4.0e-2 on a 10-D two-cluster set, with 20
        (``n_steps=21``) 2.7e-3 and 6.7e-3, against 2.4e-2 and 7.9e-2 for ``dpmpp_2m`` with
        20 (``benchmarks/labelling.py``, 300 labels; on 1,000 other labels of two moons, 10
        evaluations of ``dpmpp_3m`` gave 2.4e-2 against 1.6e-2 for ``dpmpp_2m`` with 20).
    n_steps : int, default=11
        Solver steps per label (``heun`` makes two score calls per step, ``dpmpp_3m`` none
        for its first step: the default makes 10 score evaluations per label, half as many
        as the previous default, ``dpmpp_2m`` with 20 steps). Held-out mean log-likelihood,
        other parameters at the defaults of the time (10,000 labels, a KDE teacher), fitted
        on the standardised training split of
        ``datasets.load_split(name, n_samples=4000, random_state=0)`` and scored on its 400
        test rows: over moons, 8gaussians, checkerboard, rings and gaussian5 and seeds
        (``random_state``) 0 to 3, ``dpmpp_3m`` with 11 steps scored 0.008 nats (standard
        error 0.005) above ``dpmpp_2m`` with 20 on average, per pair from -0.032 to +0.070,
        and with 16 steps also 0.008; two seeds of one setting differ by up to 0.07. On wine
        (178 rows, seeds 0 and 1) 11 steps gained 0.22 and 0.12. ``n_steps=16`` (15
        evaluations) gives labels three to six times more accurate than the previous
        default's, at 1.5 times the labelling cost (``benchmarks/solver_defaults.py``).
    schedule : {"paper", "authors"}, default="paper"
        ``paper``: :math:`a = 1 - t, b^2 = t`. ``authors``: :math:`a = 1 - 0.99 t`,
        :math:`b^2 = 0.01 + 0.99 t`, as in the released code; its bandwidth is at least 0.1.
    score_batch_size : int or None, default=None
        Data points in the Monte Carlo mini-batch of the score; None uses all of them (the
        exact score of the smoothed empirical distribution).
    hidden_layer_sizes : array-like of int, default=(128, 128, 128)
        Hidden widths of the generator and of its inverse network. Three layers of 128 fitted
        better than two at the same fit time (held-out log-likelihood, mean of two seeds on
        2,000 rows: circles -0.747 against -0.869, moons -1.067 against -1.084, a 5-D
        Gaussian -7.780 against -7.776).
    activation : {"relu", "silu", "gelu", "tanh", "logistic", "identity"}, default="relu"
        Hidden activation. Unbounded ones (``relu``, ``silu``, ``gelu``) keep the
        generator's range unbounded, so held-out rows in the tails stay in range; bounded
        ones (``tanh``, ``logistic``) cap it. ``relu`` fitted the ODE map best in our
        measurements (validation error 2.8e-4 against 7.5e-4 for tanh and 3.1e-3 for silu
        on two moons), and its piecewise-linear map keeps the inversion exact.
    batch_size : int or "auto", default="auto"
        Mini-batch size of the regression; ``auto`` is ``min(256, n_labels_)``.
    learning_rate_init : float, default=1e-3
        Initial Adam step size; it decays along a cosine over ``max_iter`` epochs.
    max_iter : int, default=400
        Maximum number of training epochs.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the labels, stop when their loss stops
        improving, and keep the best weights.
    validation_fraction : float, default=0.1
        Fraction of labels held out for early stopping.
    n_iter_no_change : int, default=30
        Epochs without an improvement of at least ``tol`` before training stops. Longer
        training than :class:`~sklearn.neural_network.MLPRegressor`'s defaults (10 and 200
        epochs) fits the ODE map, and so the density, more closely: on 10,000 rows of
        8gaussians, checkerboard, two moons, rings and a 5-D Gaussian, two seeds each,
        ``n_iter_no_change=30, max_iter=400`` raised the held-out log-likelihood by 0.030
        nats on average (standard error 0.016; better in 9 of 10 pairs, from -0.007 to
        +0.160) for 2.3 times the median fit time, 27 s against 11.6 s on one thread
        (``benchmarks/solver_defaults.py --page training_defaults``).
    tol : float, default=1e-6
        Improvement of the monitored mean squared error (standardised units) that counts.
    logdet_weight : float >= 0, default=0.0
        Weight of the Jacobian supervision. The teacher's map T pushes :math:`N(0, I)` onto
        the smoothed data :math:`p_h`, so :math:`\log|\det \partial T/\partial z| =
        \log N(z) - \log p_h(T(z))` is known in closed form at every label
        (:func:`~sklearn_diffgen.teacher.logdet_targets`). A positive weight adds a
        pseudo-Huber loss between the generator's log-determinant and these targets, on 64
        rows of each mini-batch (:func:`~sklearn_diffgen.training.logdet_loss`), so that
        the density of :meth:`sample`, not only its samples, follows the teacher. The
        targets assume the exact score: with ``score_batch_size`` they are those of the
        full-data teacher. 0 trains on values only. In ``benchmarks/density.py`` (10,000
        rows, other parameters at the defaults of the time: 10,000 labels, a KDE teacher) a
        weight of 0.1 changed the held-out log-likelihood by +0.005 nats on 8gaussians,
        +0.002 on two moons, -0.002 and -0.02 on 5-D and 20-D Gaussians and -0.024 on
        checkerboard, for 1.7 to 10 times the fit time; a weight of 1 wrecked the value
        fit. 0 stays the default.
    working_memory : int or None, default=None
        MiB for the (labels x data) score blocks and other chunked work; None takes
        ``sklearn.get_config()["working_memory"]``.
    device : str or torch.device, default="auto"
        Where the work runs; ``auto`` picks CUDA when available. Noise is always drawn on
        the CPU, so results do not depend on the device beyond floating-point rounding.
    random_state : int, RandomState instance or None, default=None
        Seeds the labels, the network initialisation and the mini-batch order. An int gives
        bitwise-identical fits on the CPU.
    verbose : int, default=0
        Show progress bars for labelling and training when positive.
    callback : callable or None, default=None
        Called after every training epoch as ``callback(network, epoch, train_loss,
        validation_loss)``, with ``network`` either ``"generator"`` or ``"inverse"`` and
        ``validation_loss`` None without early stopping. Returning True stops the training
        of that network.

    Attributes
    ----------
    bandwidth_ : float
        The smoothing width h used, in standardised (whitened) units.
    whiten_ : bool
        Whether the data were whitened.
    variance_correction_ : bool
        Whether the teacher's output was scaled back to the data's variance.
    whitening_ : ndarray of shape (n_model_features, n_model_features)
        The whitening matrix W applied to the standardised non-constant columns (the
        identity without whitening).
    variance_scale_ : float
        The factor c of the variance correction (1 without it).
    t_end_ : float
        Time at which labelling stops.
    n_labels_ : int
        The number of labels used.
    noise_ : float
        Sampling noise s, in the model's units (standardised, then whitened): 0.1 c h.
    device_ : torch.device
        The resolved device.
    mean_, scale_ : ndarray of shape (`n_features_in_`,)
        Standardisation of the columns.
    constant_ : ndarray of shape (`n_features_in_`,), bool
        Columns that were constant in training. They are excluded from the model,
        reproduced exactly by :meth:`sample`, and scored as described there.
    generator_ : torch.nn.Module
        The fitted generator F (model units: standardised, then whitened).
    inverse_ : torch.nn.Module
        The inverse network, which gives :meth:`score_samples` its starting guesses.
    n_iter_ : int
        Epochs run by the generator's training.
    loss_curve_ : list of float
        Training loss (mean squared error) of each epoch.
    validation_scores_ : list of float
        Validation loss of each epoch (empty without early stopping).
    best_loss_ : float
        Best monitored loss.
    fit_times_ : dict
        Seconds spent choosing the ``bandwidth``, ``labelling``, ``training`` the generator
        and training the ``inverse`` network.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.neighbors.KernelDensity : The teacher without whitening and variance correction.
    sklearn.mixture.GaussianMixture : A parametric density with sampling.

    References
    ----------
    Y. Liu, M. Yang, Z. Zhang, F. Bao, Y. Cao, G. Zhang. Diffusion-model-assisted supervised
    learning of generative models for density estimation. 2023.
    https://arxiv.org/abs/2310.14458

    B. W. Silverman. Density Estimation for Statistics and Data Analysis, section 6.4.1
    (the smoothed bootstrap with variance correction). Chapman & Hall, 1986.

    K. Fukunaga. Introduction to Statistical Pattern Recognition. Academic Press, 1972
    (kernel estimates with the data's covariance as the kernel's shape).

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from sklearn_diffgen import DiffusionSupervisedGenerator
    >>> X, _ = make_moons(500, noise=0.05, random_state=0)
    >>> gen = DiffusionSupervisedGenerator(n_labels=2000, random_state=0).fit(X)
    >>> gen.sample(3, random_state=0).shape
    (3, 2)
    >>> gen.score_samples(X[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {
        "bandwidth": [Interval(Real, 0, 10, closed="right"), StrOptions({"auto", "scott", "silverman"})],
        "whiten": ["boolean", StrOptions({"auto"})],
        "variance_correction": ["boolean", StrOptions({"auto"})],
        "n_labels": [Interval(Integral, 2, None, closed="left"), StrOptions({"auto"})],
        "solver": [StrOptions(set(SOLVERS))],
        "n_steps": [Interval(Integral, 1, None, closed="left")],
        "schedule": [StrOptions(set(SCHEDULES))],
        "score_batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "logdet_weight": [Interval(Real, 0, None, closed="left")],
        "working_memory": [Interval(Real, 0, None, closed="neither"), None],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callback": [callable, None],
    }

    def __init__(
        self,
        bandwidth="auto",
        *,
        whiten="auto",
        variance_correction="auto",
        n_labels="auto",
        solver="dpmpp_3m",
        n_steps=11,
        schedule="paper",
        score_batch_size=None,
        hidden_layer_sizes=(128, 128, 128),
        activation="relu",
        batch_size="auto",
        learning_rate_init=1e-3,
        max_iter=400,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=30,
        tol=1e-6,
        logdet_weight=0.0,
        working_memory=None,
        device="auto",
        random_state=None,
        verbose=0,
        callback=None,
    ):
        self.bandwidth = bandwidth
        self.whiten = whiten
        self.variance_correction = variance_correction
        self.n_labels = n_labels
        self.solver = solver
        self.n_steps = n_steps
        self.schedule = schedule
        self.score_batch_size = score_batch_size
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.logdet_weight = logdet_weight
        self.working_memory = working_memory
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback

    # ------------------------------------------------------------------ helpers
    def _budget_bytes(self) -> int:
        mib = self.working_memory if self.working_memory is not None else get_config()["working_memory"]
        return int(mib * 2**20)

    def _hidden(self) -> tuple:
        sizes = np.atleast_1d(np.asarray(self.hidden_layer_sizes)).ravel()
        if sizes.size and (not np.issubdtype(sizes.dtype, np.integer) or np.any(sizes < 1)):
            raise ValueError(
                f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}"
            )
        return tuple(int(h) for h in sizes)

    def _epoch_callback(self, network: str):
        if self.callback is None:
            return None
        return lambda epoch, train, val: self.callback(network, epoch, train, val)

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        return (X[:, ~self.constant_] - self.mean_[~self.constant_]) / self.scale_[~self.constant_]

    def _to_model(self, X: np.ndarray) -> np.ndarray:
        """Model coordinates :math:`u = W (x - m) / \sigma` of the non-constant columns."""
        return self._standardise(X) @ self.whitening_.T

    def _log_jacobian(self) -> float:
        """:math:`\log|\det \partial u / \partial x|` of :meth:`_to_model`."""
        return float(np.linalg.slogdet(self.whitening_)[1] - np.log(self.scale_[~self.constant_]).sum())

    # ---------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the generator to X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; at least two rows and one non-constant column.
        y : None
            Ignored.

        Returns
        -------
        self : DiffusionSupervisedGenerator
            The fitted estimator.
        """
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        hidden = self._hidden()
        rng = _numpy_rng(self.random_state)
        seeds = rng.randint(np.iinfo(np.int32).max, size=3)
        gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
        self.device_ = _resolve_device(self.device)

        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        if not np.all(np.isfinite(std)):
            raise ValueError("X has values too large to standardise (its variance overflows float64)")
        # constant up to rounding, relative to the column's own magnitude (as StandardScaler)
        self.constant_ = std <= 10 * np.finfo(np.float64).eps * np.abs(X).max(axis=0)
        if self.constant_.all():
            raise ValueError("every column of X is constant: there is no distribution to fit")
        self.scale_ = np.where(self.constant_, 1.0, std)
        Xs = self._standardise(X)
        n, d = Xs.shape

        t0 = time.perf_counter()
        self.bandwidth_, self.whiten_, self.variance_correction_ = _select_teacher(
            Xs, self.bandwidth, self.whiten, self.variance_correction, rng)
        self.whitening_ = _whitening(Xs)[0] if self.whiten_ else np.eye(d)
        self.variance_scale_ = variance_scale(self.bandwidth_) if self.variance_correction_ else 1.0
        t_bandwidth = time.perf_counter() - t0
        sched = SCHEDULES[self.schedule]
        if self.bandwidth_ < sched.min_ratio:
            raise ValueError(
                f"bandwidth={self.bandwidth_:g} is below the smallest that schedule="
                f"{self.schedule!r} reaches ({sched.min_ratio:g})"
            )
        if SOLVERS[self.solver].spacing != "uniform" and self.n_steps < 2 and (
            sched.alpha(1.0) == 0 or SOLVERS[self.solver].spacing == "logsnr_end"
        ):
            raise ValueError(f"solver={self.solver!r} with schedule={self.schedule!r} needs n_steps >= 2")
        self.t_end_ = sched.t_from_ratio(self.bandwidth_)
        self.n_labels_ = self.n_labels if self.n_labels != "auto" else _auto_labels(n)
        c = self.variance_scale_
        self.noise_ = NOISE_FRACTION * c * self.bandwidth_
        ts = time_grid(sched, self.t_end_, self.n_steps, SOLVERS[self.solver].spacing)
        budget = self._budget_bytes()
        verbose = bool(self.verbose)

        t0 = time.perf_counter()
        # the diffusion runs on the whitened data; the corrected teacher scales its output,
        # and so its kernel centres, by c, in the same coordinates
        x = torch.as_tensor(Xs @ self.whitening_.T, dtype=torch.float64).to(self.device_)
        z, labels = make_labels(
            x, self.n_labels_, sched, ts, solver=self.solver, generator=gens[0],
            score_batch_size=self.score_batch_size, budget_bytes=budget, verbose=verbose,
        )
        x, labels = c * x, c * labels
        t_label = time.perf_counter() - t0

        train_kw = dict(
            batch_size=min(256, self.n_labels_) if self.batch_size == "auto" else self.batch_size,
            learning_rate_init=self.learning_rate_init,
            max_iter=self.max_iter,
            early_stopping=self.early_stopping,
            validation_fraction=self.validation_fraction,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            verbose=verbose,
        )
        tau = None
        if self.logdet_weight > 0:
            tau = logdet_targets(z, labels, x, c * self.bandwidth_, budget_bytes=budget)
        self.generator_ = MLP(d, d, hidden, self.activation, generator=gens[1]).to(self.device_)
        res = fit_regression(self.generator_, z, labels, generator=gens[1], desc="generator",
                             callback=self._epoch_callback("generator"), logdet_targets=tau,
                             logdet_weight=self.logdet_weight, **train_kw)
        self.inverse_ = MLP(d, d, hidden, self.activation, generator=gens[2]).to(self.device_)
        res_inv = fit_regression(self.inverse_, labels, z, generator=gens[2], desc="inverse",
                                 callback=self._epoch_callback("inverse"), **train_kw)
        for net in (self.generator_, self.inverse_):
            net.eval().requires_grad_(False)
        self._fit_X = x.cpu().numpy()  # the teacher's kernel centres, for method="teacher"

        self.n_iter_ = res.n_iter
        self.loss_curve_ = res.loss_curve
        self.validation_scores_ = res.validation_scores
        self.best_loss_ = res.best_loss
        self.fit_times_ = {"bandwidth": t_bandwidth, "labelling": t_label, "training": res.time,
                           "inverse": res_inv.time}
        for name, r in (("generator", res), ("inverse network", res_inv)):
            if not r.converged:
                warnings.warn(
                    f"Training of the {name} stopped at max_iter={self.max_iter} epochs before "
                    "the loss stopped improving; consider increasing max_iter.",
                    ConvergenceWarning,
                )
        return self

    # ------------------------------------------------------------------- sample
    def sample(self, n_samples=1, random_state=None):
        """Draw samples: one forward pass :math:`x = F(z) + s e` per row.

        The noise is drawn on a CPU generator in fixed blocks of rows, so row i depends only
        on ``random_state`` and i: ``sample(n)`` starts with ``sample(m)`` for m < n under
        the same seed, whatever ``working_memory`` is.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows.
        random_state : int, RandomState instance or None, default=None
            Seeds the draw. None uses fresh entropy (and leaves numpy's global state alone).

        Returns
        -------
        X : ndarray of shape (n_samples, `n_features_in_`)
            Samples in the units of the training data.
        """
        check_is_fitted(self)
        if isinstance(n_samples, bool) or not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
        g = _torch_generator(random_state)
        d = int((~self.constant_).sum())
        out = np.empty((n_samples, d))
        rows = self._budget_bytes() // (8 * 4 * (2 * d + max(self._hidden(), default=d)))
        rows = _NOISE_BLOCK * max(1, rows // _NOISE_BLOCK)
        param = next(self.generator_.parameters())
        with torch.no_grad():
            for i in range(0, n_samples, rows):
                # z and e side by side, drawn and pushed through F in whole blocks, so that
                # neither the noise nor the float32 kernels depend on where the chunks fall
                w = torch.cat([torch.randn(_NOISE_BLOCK, 2 * d, generator=g, dtype=torch.float64)
                               for _ in range(0, min(rows, n_samples - i), _NOISE_BLOCK)])
                fz = self.generator_(w[:, :d].to(param.device, param.dtype)).double().cpu()
                x = fz + self.noise_ * w[:, d:]
                out[i : i + rows] = x[: min(rows, n_samples - i)].numpy()
        out = np.linalg.solve(self.whitening_, out.T).T
        X = np.tile(self.mean_, (n_samples, 1))
        X[:, ~self.constant_] = out * self.scale_[~self.constant_] + self.mean_[~self.constant_]
        return X

    # ------------------------------------------------------------------ density
    def score_samples(self, X, method="model"):
        r"""Log-density of each row under the distribution that :meth:`sample` draws from.

        The density is that of :math:`x = F(z) + s e` by the Laplace method around the
        minimiser :math:`z^*` of :math:`|z|^2/2 + |x - F(z)|^2 / (2 s^2)`: for rows in the
        range of F it is the change of variables
        :math:`\log N(z^*) - \log|\det \partial F/\partial z(z^*)|`, and rows out of range
        get a finite value that falls off as :math:`-|x - F(z^*)|^2 / (2 s^2)`. It is
        computed in float64, row by row, so a row scores the same alone or in a batch.
        Columns that were constant in training add :math:`-(x_j - c_j)^2 / (2 s^2)`: 0 for
        rows that keep the constant.

        Each row costs d forward-mode passes through the network plus a d x d Cholesky
        factorisation per iteration (at most 100). Measured on 2 CPU cores with the default
        network: about 470 rows/s at d = 8, 120 at d = 32, 38 at d = 64 and 12 at d = 128,
        with memory growing as :math:`d^2` per row. Past about a hundred columns, reduce
        the data first (for example with PCA in a Pipeline). A :class:`UserWarning`
        reports the number and fraction of rows whose inversion did not converge; their
        values are the Laplace values at the last iterate, finite but less accurate.

        ``method="teacher"`` returns instead the exact log-density of the teacher, the
        distribution the labels follow: in the model's coordinates (standardised, then
        whitened with ``whitening_``), the mixture :math:`\frac1N \sum_n N(c x_n, c^2 h^2 I)`
        with :math:`h` = ``bandwidth_`` and :math:`c` = ``variance_scale_``: without
        whitening and correction, a Gaussian kernel density estimate of the standardised
        data (:func:`~sklearn_diffgen.teacher.teacher_log_density`). It is the
        likelihood view of the diffusion model the generator was distilled from (Huang, Lim
        & Courville 2021), a diagnostic for how much density the distillation loses. It
        costs O(n_train) per row.

        Parameters
        ----------
        X : array-like of shape (n_samples, `n_features_in_`)
            Rows to score.
        method : {"model", "teacher"}, default="model"
            The density of :meth:`sample` (the default), or the teacher's.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
            Natural log of the density, in the units of the training data.
        """
        check_is_fitted(self)
        if method not in ("model", "teacher"):
            raise ValueError(f"method must be 'model' or 'teacher', got {method!r}")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        Xs = self._to_model(X)
        const = self.constant_
        penalty = ((X[:, const] - self.mean_[const]) ** 2).sum(axis=1) / (2 * self.noise_**2)
        shift = -self._log_jacobian()
        if method == "teacher":
            logp = teacher_log_density(torch.as_tensor(Xs).to(self.device_), torch.as_tensor(self._fit_X),
                                       self.variance_scale_ * self.bandwidth_,
                                       budget_bytes=self._budget_bytes())
            return logp.cpu().numpy() - shift - penalty
        d = Xs.shape[1]
        dev = self.device_
        F = copy.deepcopy(self.generator_).double()
        G = copy.deepcopy(self.inverse_).double()
        rows = max(1, self._budget_bytes() // (8 * 8 * (d * d + d * max(self._hidden(), default=d))))
        out = np.empty(X.shape[0])
        n_failed = 0
        with torch.no_grad():
            for i in range(0, X.shape[0], rows):
                x = torch.as_tensor(Xs[i : i + rows]).to(dev)
                res = log_density(F, x, G(x), noise=self.noise_)
                out[i : i + rows] = res.log_density.cpu().numpy()
                n_failed += int((~res.converged).sum())
        if n_failed:
            warnings.warn(
                f"the inversion of {n_failed} of {X.shape[0]} rows did not converge "
                f"({100 * (1 - n_failed / X.shape[0]):.1f}% converged); their log-densities are "
                "Laplace values at the last iterate.",
                UserWarning,
            )
        return out - shift - penalty

    def score(self, X, y=None):
        """Mean log-likelihood of X, as :meth:`sklearn.mixture.GaussianMixture.score`.

        A mean rather than a sum, so that cross-validation folds of different sizes compare.

        Parameters
        ----------
        X : array-like of shape (n_samples, `n_features_in_`)
            Rows to score.
        y : None
            Ignored.

        Returns
        -------
        log_likelihood : float
        """
        return float(np.mean(self.score_samples(X)))

    # -------------------------------------------------------------- persistence
    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: object.__getstate__ returns __dict__ itself
        for key in _NETWORKS:
            if key in state:
                net = state[key]
                state[key] = {
                    "kwargs": net.kwargs,
                    "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
                }
        if "device_" in state:
            state["device_"] = str(state["device_"])
        return state

    def __setstate__(self, state):
        if "device_" in state:
            dev = torch.device(state["device_"])
            if dev.type == "cuda" and not torch.cuda.is_available():
                warnings.warn(
                    f"this model was fitted on {dev} but CUDA is not available; it is loaded "
                    "on the CPU.",
                    UserWarning,
                )
                dev = torch.device("cpu")
            state["device_"] = dev
        for key in _NETWORKS:
            if isinstance(state.get(key), dict):
                spec = state[key]
                net = MLP(**spec["kwargs"])
                net.load_state_dict(spec["state_dict"])
                state[key] = net.to(state["device_"]).eval().requires_grad_(False)
        super().__setstate__(state)
