"""DiffusionSupervisedGenerator: the scikit-learn estimator, and the one place where numpy meets torch."""

from __future__ import annotations

import time
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn import get_config
from sklearn.base import BaseEstimator, DensityMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._validation import (SEED_MAX, check_n_samples, check_random_state_fresh, keep_state_on_error,
                          resolve_device, resolve_n_threads, torch_generator, torch_threads)
from .density import InversionWarning, NearestAnchor, generator_log_density
from .labeling import make_labels_parallel
from .likelihood import fit_likelihood
from .networks import ACTIVATIONS, MLP
from .preprocessing import standardisation, zca_whitening
from .sampling import draw
from .schedules import SCHEDULES
from .score import chunk_rows
from .solvers import SOLVERS
from .teacher import CV_ROWS, CV_TEACHERS, TEACHERS, build_teacher, effective_size, select_teacher
from .training import fit_regression

__all__ = ["DiffusionSupervisedGenerator"]

#: The sampling noise s is this fraction of the teacher's kernel width c h (model units).
NOISE_FRACTION = 0.1
_NETWORKS = ("generator_",)
#: Anchors whose generator outputs give score_samples its starting guesses (NearestAnchor).
N_ANCHORS = 20_000
#: ``n_labels="auto"``: ``LABELS_PER_VALUE`` labels a training value (row x model feature) and
#: at most ``MAX_LABELS_PER_ROW`` a row, at least ``MIN_SMALL_LABELS`` and at most
#: ``MAX_AUTO_LABELS``; above ``LABEL_BUDGET / MAX_AUTO_LABELS`` training rows, ``LABEL_BUDGET /
#: N`` (labelling costs n_labels x N per score evaluation), never fewer than ``MIN_AUTO_LABELS``
#: (:doc:`/benchmarks/label_count_small`). 50 a row, not 150: on the small wide sets (wine,
#: breast cancer) the same test log-likelihood within the seeds' noise in 0.4-0.7 of the fit
#: time (:doc:`/benchmarks/label_count_wide`); only sets with more than 5 features and few rows
#: reach the cap.
LABELS_PER_VALUE, MAX_LABELS_PER_ROW, MIN_SMALL_LABELS = 10, 50, 1_000
MAX_AUTO_LABELS, MIN_AUTO_LABELS, LABEL_BUDGET = 30_000, 10_000, 3e9
#: The fine-tuning stops after this many epochs without a better held-out score.
FINE_TUNE_PATIENCE = 10


def _auto_labels(n: int, d: int) -> int:
    """``n_labels="auto"`` for n training rows of d model features."""
    large = int(np.clip(LABEL_BUDGET / n, MIN_AUTO_LABELS, MAX_AUTO_LABELS))
    return max(MIN_SMALL_LABELS, min(LABELS_PER_VALUE * n * d, MAX_LABELS_PER_ROW * n, large))


def _positive_weights(X, sample_weight):
    """The rows of positive weight and their weights, normalised; (X, None) for None or equal weights."""
    if sample_weight is None:
        return X, None
    w = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    if not np.all(np.isfinite(w)):
        raise ValueError("sample_weight must be finite")
    with np.errstate(under="ignore"):  # all zeros raised above, so the max is positive
        w = w / w.max()
        w = w / w.sum()
    keep = w > 0  # weights more than ~1e308 times below the largest vanish once normalised
    if keep.sum() < 2:
        raise ValueError(f"sample_weight must have at least two positive weights, got {int(keep.sum())}; "
                         "rows of zero weight are left out")
    X, w = X[keep], w[keep]
    if np.all(w == w[0]):
        return X, None
    return X, w / w.sum()


def _fitted(name: str, doc: str):
    """A read-only fitted attribute that reads ``name`` off one of the fitted value objects."""
    obj, attr = name.split(".")
    return property(lambda self: getattr(getattr(self, obj), attr), doc=doc)


class DiffusionSupervisedGenerator(DensityMixin, BaseEstimator):
    r"""One-step generative model of tabular rows, with a log-density.

    Use it like :class:`~sklearn.neighbors.KernelDensity`: ``fit(X)``, then ``sample`` draws
    new rows (one forward pass of a small network) and ``score_samples`` gives their log-density.

    >>> from sklearn.datasets import make_moons
    >>> from sklearn_diffgen import DiffusionSupervisedGenerator
    >>> X, _ = make_moons(500, noise=0.05, random_state=0)
    >>> gen = DiffusionSupervisedGenerator(random_state=0).fit(X)  # about 20 s on one core
    >>> gen.sample(3, random_state=0).shape
    (3, 2)
    >>> gen.score_samples(X[:2]).shape
    (2,)

    Fits longer than 2 s show progress bars on stderr (``verbose=0`` silences them). Tune
    ``bandwidth`` with :class:`~sklearn.model_selection.GridSearchCV`, like a KDE bandwidth:
    ``score`` is the mean log-likelihood.

    How it works: ``fit`` carries Gaussian draws z to labels x along the probability-flow ODE
    of the data smoothed by ``bandwidth``, whose score has a closed form (no score network is
    trained), then fits an MLP F(z) = x by regression. The method is that of Liu et al.
    (2023); the :ref:`User Guide <user_guide>` gives the maths and how to choose each
    parameter.

    Parameters
    ----------
    bandwidth : float in (0, 10] or {"auto", "scott", "silverman"}, default="auto"
        Width h of the Gaussian smoothing of the data, in standardised (or whitened) units,
        as the bandwidth of :class:`~sklearn.neighbors.KernelDensity`. ``auto`` picks it by
        the teacher's cross-validated likelihood, with ``whiten`` and
        ``variance_correction`` (:func:`~sklearn_diffgen.teacher.select_teacher`).
    teacher : {"auto", "kde", "adaptive", "local", "gmm"}, default="auto"
        The law the labels follow: ``kde``, the data smoothed by one Gaussian width h;
        ``adaptive``, a width per row, :math:`h \lambda_n` with Abramson's square-root law
        (wider kernels where the data are sparse, :func:`~sklearn_diffgen.teacher.abramson_widths`);
        ``local``, manifold Parzen windows: each row's kernel is stretched along its nearest
        neighbours, with a rank chosen by cross-validation (:mod:`sklearn_diffgen.manifold`;
        at least 2 features; its labelling costs 6 to 80 times the plain kernel's,
        :doc:`/benchmarks/teachers`); ``gmm``, a full-covariance
        :class:`~sklearn.mixture.GaussianMixture` with its number of components
        cross-validated (:func:`~sklearn_diffgen.teacher.mixture_teacher`; no sample
        weights), for data that cluster.
        ``auto`` picks ``kde`` or ``adaptive`` by the teacher's cross-validated likelihood,
        with the bandwidth (:func:`~sklearn_diffgen.teacher.select_teacher`).
    whiten : bool or "auto", default="auto"
        Smooth in ZCA-whitened coordinates, so that the kernel has the shape of the data's
        covariance; ``auto`` decides by cross-validation.
    variance_correction : bool or "auto", default="auto"
        Scale the smoothed data by c = 1 / sqrt(1 + h**2), so that it keeps the data's
        variance (Silverman's smoothed bootstrap); ``auto`` decides by cross-validation.
    n_labels : int or "auto", default="auto"
        Number of (z, x) pairs the ODE makes to train the generator. ``auto`` takes 10 per
        training value (N rows x d features) and at most 50 a row, between 1,000 and 30,000, and
        3e9 / N (at least 10,000) above 100,000 rows
        (:doc:`/benchmarks/label_count`, :doc:`/benchmarks/label_count_small`).
    solver : {"dpmpp_3m", "dpmpp_2m", "ddim", "heun", "euler"}, default="dpmpp_3m"
        ODE solver, from :data:`~sklearn_diffgen.solvers.SOLVERS`; ``euler`` on a uniform
        time grid is the paper's (:doc:`/benchmarks/solver_defaults`).
    n_steps : int, default=11
        Intervals of the solver's time grid; ``dpmpp_3m`` takes its first one by the
        Gaussian flow, so 11 steps cost 10 score evaluations per label.
    schedule : {"paper", "authors"}, default="paper"
        The noise schedule z_t = a x + b e. ``paper``: a = 1 - t, b**2 = t; ``authors``:
        a = 1 - 0.99 t, b**2 = 0.01 + 0.99 t, as in the released code (bandwidth at least 0.1).
    score_batch_size : int or None, default=None
        Data points in the Monte Carlo mini-batch of the score; None uses all of them (the
        exact score of the smoothed data).
    hidden_layer_sizes : array-like of int, default=(128, 128, 128)
        Hidden widths of the generator.
    activation : {"relu", "silu", "gelu", "tanh", "logistic", "identity"}, default="relu"
        Activation of the hidden layers.
    batch_size : int or "auto", default="auto"
        Mini-batch size of the regression; ``auto`` is ``min(256, n_labels_)``.
    learning_rate_init : float, default=3e-3
        Initial Adam step size; it decays along a cosine over ``max_iter`` epochs.
    max_iter : int, default=150
        Maximum number of training epochs of each network. 150 epochs from a step of 3e-3 score
        as 400 from 1e-3 did, in 0.44 of the fit time on 320 rows and 0.9 on 3,200
        (:doc:`/benchmarks/epochs_small`, :doc:`/benchmarks/epochs_large`).
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the labels, stop when their loss stops
        improving, and keep the best weights.
    validation_fraction : float, default=0.1
        Fraction of labels held out for early stopping.
    n_iter_no_change : int, default=30
        Epochs without an improvement of at least ``tol`` before training stops.
    tol : float, default=1e-6
        Improvement of the monitored mean squared error (model units) that counts.
    logdet_weight : float >= 0, default=0.0
        Weight of a loss that fits the generator's log-Jacobian to the teacher map's, known
        in closed form (:meth:`~sklearn_diffgen.teacher.Teacher.logdet_targets`); 0 trains
        on values only (:doc:`/benchmarks/density`).
    fine_tune_iter : int >= 0, default=0
        Epochs, at most, of maximum-likelihood fine-tuning of the generator after the
        regression: Adam on the training rows' Laplace log-likelihood, the density of
        :meth:`score_samples` (:mod:`sklearn_diffgen.likelihood`). With ``early_stopping``,
        ``validation_fraction`` of the rows is held out, scored as :meth:`score_samples`
        scores them, and the best epoch kept, the regression's weights included; it stops
        after 10 epochs without a better score. 0 skips it. It helps on wide data and can
        hurt on small wide sets (:doc:`/benchmarks/fine_tuning`); its gradient is exact, up
        to the Gauss-Newton Hessian, for smooth activations, not for ``relu``.
    fine_tune_learning_rate : float, default=1e-4
        Adam's step size of the fine-tuning (constant).
    keep_training_data : bool, default=False
        Keep the training rows (in model coordinates) in the fitted teacher, which
        ``score_samples(X, method="teacher")`` needs (for ``teacher="gmm"``: the mixture's
        means, weights and covariances instead). By default a fitted model, and its
        pickle, holds no training row: only the parameters listed below and the
        generator's weights (:ref:`privacy`).
    working_memory : int or None, default=None
        MiB for the (labels x data) score blocks and other chunked work; None takes
        ``sklearn.get_config()["working_memory"]``.
    device : str or torch.device, default="auto"
        Where the work runs; ``auto`` picks CUDA when available. Noise is always drawn on
        the CPU, so results do not depend on the device beyond floating-point rounding.
    n_jobs : int or None, default=None
        With joblib's meaning: None is 1 unless a :func:`joblib.parallel_config` context
        says otherwise, -1 all cores. The labelling, :meth:`score_samples` on more than
        4,096 rows and :meth:`sample` of more than 65,536 run as that many joblib jobs of one
        thread each (worker processes, or a Dask cluster's workers under
        ``parallel_config(backend="dask")``: :ref:`scale_out`), with the same results for any
        ``n_jobs``; the teacher's cross-validation and smaller :meth:`sample` and
        :meth:`score_samples` calls use that many CPU threads, never more than torch allows
        when the call starts. The networks always train on one
        thread (:ref:`threads <threads>`).
    random_state : int, RandomState instance or None, default=None
        Seeds the labels, the network initialisation and the mini-batch order. An int gives
        bitwise-identical fits on the CPU.
    verbose : int or "auto", default="auto"
        Progress bars (on stderr) for labelling and training: ``"auto"`` shows a stage's bar
        once it has run 2 s and clears it at the end, a positive int shows every bar from the
        start and keeps it, 0 shows none.
    callback : callable or None, default=None
        Called after every training epoch as ``callback(network, epoch, train_loss,
        validation_loss)``, ``network`` being ``"generator"`` for the regression and
        ``"fine_tuning"`` for the fine-tuning (its losses are mean negative
        log-likelihoods); returning True stops that stage.

    Attributes
    ----------
    teacher_ : Teacher
        The law the labels follow (:class:`~sklearn_diffgen.teacher.Teacher`), in model
        coordinates: its bandwidth and scale, and its data (the training rows) only with
        ``keep_training_data=True``; ``score_samples(X, method="teacher")`` is then its density.
    preprocessing_ : Affine
        The map to model coordinates (:class:`~sklearn_diffgen.preprocessing.Affine`).
    bandwidth_ : float
        The smoothing width h used, in model units (for the adaptive teacher, the widths'
        geometric mean; for the mixture teacher, the square root of its components' smallest
        covariance eigenvalue, where labelling stops).
    teacher_kind_ : {"kde", "adaptive", "local", "gmm"}
        The kind of teacher used.
    whiten_, variance_correction_ : bool
        Whether the data were whitened, and whether the teacher keeps the data's variance.
    variance_scale_ : float
        The factor c of the variance correction (1 without it).
    whitening_ : ndarray of shape (n_model_features, n_model_features)
        The whitening matrix (the identity without whitening).
    mean_, scale_ : ndarray of shape (`n_features_in_`,)
        Standardisation of the columns.
    constant_ : ndarray of shape (`n_features_in_`,), bool
        Columns that were constant in training: excluded from the model, reproduced exactly
        by :meth:`sample`, and scored as described there.
    t_end_ : float
        Time at which labelling stops.
    n_labels_ : int
        The number of labels used.
    noise_ : float
        Sampling noise s, in model units: 0.1 c h.
    device_ : torch.device
        The resolved device.
    generator_ : torch.nn.Module
        The fitted generator F (model units).
    anchors_ : NearestAnchor
        F's outputs on 20,000 seeded Gaussian draws, which give :meth:`score_samples` its
        starting guesses (:class:`~sklearn_diffgen.density.NearestAnchor`); a pickle keeps
        only their seed.
    n_iter_ : int
        Epochs run by the generator's training.
    loss_curve_, validation_scores_ : list of float
        Training and validation loss (mean squared error) of each epoch.
    best_loss_ : float
        Best monitored loss.
    fine_tune_scores_ : list of float
        Mean negative log-likelihood (model units, weighted by ``sample_weight``) of the
        fine-tuning's held-out rows before its first epoch and after each; empty without
        fine-tuning, without ``early_stopping``, or when ``validation_fraction`` of the rows
        rounds to none.
    fine_tune_loss_curve_ : list of float
        Mean negative log-likelihood of the fine-tuning's training rows in each epoch.
    fit_times_ : dict
        Seconds spent choosing the ``bandwidth``, ``labelling`` and ``training`` the
        generator (with the evaluation of its anchors), and ``fine_tuning`` it (0 without).
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

    Examples
    --------
    The example at the top; the gallery (:ref:`examples_gallery`) has more.
    """

    _parameter_constraints: dict = {
        "bandwidth": [Interval(Real, 0, 10, closed="right"), StrOptions({"auto", "scott", "silverman"})],
        "teacher": [StrOptions({"auto", *TEACHERS})],
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
        "fine_tune_iter": [Interval(Integral, 0, None, closed="left")],
        "fine_tune_learning_rate": [Interval(Real, 0, None, closed="neither")],
        "keep_training_data": ["boolean"],
        "working_memory": [Interval(Real, 0, None, closed="neither"), None],
        "device": [str, torch.device],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose", StrOptions({"auto"})],
        "callback": [callable, None],
    }

    def __init__(
        self,
        bandwidth="auto",
        *,
        teacher="auto",
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
        learning_rate_init=3e-3,
        max_iter=150,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=30,
        tol=1e-6,
        logdet_weight=0.0,
        fine_tune_iter=0,
        fine_tune_learning_rate=1e-4,
        keep_training_data=False,
        working_memory=None,
        device="auto",
        n_jobs=None,
        random_state=None,
        verbose="auto",
        callback=None,
    ):
        self.teacher = teacher
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
        self.fine_tune_iter = fine_tune_iter
        self.fine_tune_learning_rate = fine_tune_learning_rate
        self.keep_training_data = keep_training_data
        self.working_memory = working_memory
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback

    # fitted attributes read off the value objects
    mean_ = _fitted("preprocessing_.mean", "Column means.")
    scale_ = _fitted("preprocessing_.scale", "Column standard deviations (1 for constant columns).")
    constant_ = _fitted("preprocessing_.constant", "Columns that were constant in training.")
    whitening_ = _fitted("preprocessing_.whitening", "The whitening matrix.")
    bandwidth_ = _fitted("teacher_.bandwidth", "The smoothing width h, in model units.")
    variance_scale_ = _fitted("teacher_.scale", "The factor c of the variance correction.")

    # ------------------------------------------------------------------ helpers
    def _budget_bytes(self) -> int:
        mib = self.working_memory if self.working_memory is not None else get_config()["working_memory"]
        return int(mib * 2**20)

    def _hidden(self) -> tuple:
        raw = self.hidden_layer_sizes
        items = [raw] if np.isscalar(raw) else list(raw)
        if not all(np.isscalar(h) for h in items):
            raise ValueError(f"hidden_layer_sizes must be a flat sequence of layer widths, got {raw!r}")
        sizes = np.asarray(items)
        if sizes.size and (not np.issubdtype(sizes.dtype, np.integer) or np.any(sizes < 1)):
            raise ValueError(
                f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}"
            )
        return tuple(int(h) for h in sizes)

    def _epoch_callback(self, network: str):
        if self.callback is None:
            return None
        return lambda epoch, train, val: self.callback(network, epoch, train, val)

    def _fit_teacher(self, X, weights, rng, device, budget, min_width=0.0):
        """The preprocessing and the teacher, chosen by cross-validation on at most CV_ROWS rows.

        ``weights`` (positive, summing to 1) or None weigh the rows; ``min_width`` floors the
        adaptive teacher's widths (the schedule's smallest ratio).
        """
        affine = standardisation(X, weights)
        Xs = affine.standardise(X)
        n = Xs.shape[0]
        W, logdet = zca_whitening(Xs, weights)
        log_w = None if weights is None else torch.as_tensor(np.log(weights))
        args = (self.bandwidth, self.whiten, self.variance_correction)
        rows, seed = np.arange(n), 0
        if "auto" in (*args, self.teacher) or self.teacher in CV_TEACHERS:  # rng only when there is a choice
            m = min(n, CV_ROWS)
            rows = rng.choice(n, m, replace=False) if m < n else rows
            seed = int(rng.randint(2**31 - 1))
        cv_log_w = None if log_w is None else log_w[rows]
        choice = select_teacher(torch.as_tensor(Xs[rows]), effective_size(log_w, n), *args,
                                whitening=(torch.as_tensor(W), logdet), teacher=self.teacher, fold_seed=seed,
                                budget_bytes=budget, log_weights=cv_log_w)
        if choice.whiten:
            affine = affine.whitened(W)
        data = torch.as_tensor(affine.to_model(X), dtype=torch.float64).to(device)
        pilot = None if len(rows) == n else torch.as_tensor(rows).to(device)  # the cross-validated rows
        teacher = build_teacher(data, choice, log_weights=None if log_w is None else log_w.to(device),
                                pilot_rows=pilot, min_width=min_width, budget_bytes=budget, seed=seed)
        return affine, teacher, choice

    def _train(self, net, inputs, targets, generator, name, n_labels, **kw):
        batch = min(256, n_labels) if self.batch_size == "auto" else self.batch_size
        kw = {"max_iter": self.max_iter, "n_iter_no_change": self.n_iter_no_change, **kw}
        return fit_regression(
            net, inputs, targets, generator=generator, batch_size=batch,
            learning_rate_init=self.learning_rate_init, early_stopping=self.early_stopping,
            validation_fraction=self.validation_fraction, tol=self.tol, verbose=self.verbose,
            desc=name, callback=self._epoch_callback(name), **kw)

    # ---------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    @keep_state_on_error
    def fit(self, X, y=None, sample_weight=None):
        r"""Fit the generator to X.

        A fit that raises, or is interrupted, leaves the estimator as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; at least two rows and one non-constant column.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Non-negative weights of the rows, as in :class:`~sklearn.neighbors.KernelDensity`:
            the teacher puts mass :math:`w_n / \sum_m w_m` on row n (its standardisation,
            whitening, cross-validation and labels are weighted alike), so integer weights act
            as repeated rows. Rows of weight 0 are left out. None, or equal weights, is the
            unweighted fit, bit for bit.

        Returns
        -------
        self : DiffusionSupervisedGenerator
            The fitted estimator.
        """
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        X, weights = _positive_weights(X, sample_weight)
        hidden, budget, device = self._hidden(), self._budget_bytes(), resolve_device(self.device)
        rng = check_random_state_fresh(self.random_state)
        seeds = rng.randint(SEED_MAX, size=3)
        gen = torch.Generator().manual_seed(int(seeds[1]))
        sched = SCHEDULES[self.schedule]

        t0 = time.perf_counter()
        with torch_threads(resolve_n_threads(self.n_jobs)):
            affine, teacher, choice = self._fit_teacher(X, weights, rng, device, budget, sched.min_ratio)
            sched.t_from_ratio(teacher.bandwidth)  # raises for an h below the schedule's reach
            t_end = sched.t_from_ratio(teacher.ode_bandwidth)  # adaptive widths are floored at that reach
            t1 = time.perf_counter()
            n_labels = self.n_labels if self.n_labels != "auto" else _auto_labels(*X.shape)  # rows, not means
            z, labels = make_labels_parallel(teacher, n_labels, sched, self.n_steps, seed=int(seeds[0]),
                                             n_jobs=self.n_jobs, solver=self.solver,
                                             score_batch_size=self.score_batch_size,
                                             budget_bytes=budget, verbose=self.verbose)
            tau = teacher.logdet_targets(z, labels, budget_bytes=budget) if self.logdet_weight > 0 else None
        t2 = time.perf_counter()
        d = teacher.data.shape[1]
        with torch_threads(1):  # small networks: more threads only wait on each other
            generator = MLP(d, d, hidden, self.activation, generator=gen).to(device)
            res = self._train(generator, z, labels, gen, "generator", n_labels, logdet_targets=tau,
                              logdet_weight=self.logdet_weight)
            anchors = NearestAnchor.draw(generator.eval(), N_ANCHORS, d, seeds[2], device)
            t3 = time.perf_counter()
            tuned, anchors = self._fine_tune(generator, anchors, affine.to_model(X), weights, teacher.width, gen,
                                             seeds[2], device)
            t4 = time.perf_counter()
        if not res.converged:
            warnings.warn(f"Training of the generator stopped at max_iter={self.max_iter} epochs before "
                          "the loss stopped improving; consider increasing max_iter.", ConvergenceWarning)

        self.preprocessing_, self.device_, self.t_end_ = affine, device, t_end
        self.teacher_ = teacher if self.keep_training_data else teacher.without_data()
        self.whiten_, self.variance_correction_ = choice.whiten, choice.variance_correction
        self.teacher_kind_ = teacher.kind
        self.n_labels_, self.noise_ = n_labels, NOISE_FRACTION * teacher.width
        self.generator_, self.anchors_ = generator.requires_grad_(False), anchors
        self.n_iter_, self.loss_curve_, self.best_loss_ = res.n_iter, res.loss_curve, res.best_loss
        self.validation_scores_ = res.validation_scores
        self.fine_tune_scores_ = [] if tuned is None else tuned.validation_scores
        self.fine_tune_loss_curve_ = [] if tuned is None else tuned.loss_curve
        self.fit_times_ = {"bandwidth": t1 - t0, "labelling": t2 - t1, "training": t3 - t2,
                           "fine_tuning": 0.0 if tuned is None else t4 - t3}
        return self

    def _fine_tune(self, generator, anchors, U, weights, width, gen, seed, device):
        """Maximum-likelihood fine-tuning of the generator on the rows U (model units): (result, anchors).

        The held-out rows are scored as :meth:`score_samples` would score them, from the anchors
        that F's weights of the time give with the fit's anchor seed.
        """
        if not self.fine_tune_iter:
            return None, anchors
        x = torch.as_tensor(U).to(next(generator.parameters()))
        noise, d = NOISE_FRACTION * width, x.shape[1]

        def score(F, u):
            with warnings.catch_warnings():  # unconverged held-out rows score low, as in score_samples
                warnings.simplefilter("ignore", InversionWarning)
                return self._log_density(F, NearestAnchor.draw(F, N_ANCHORS, d, seed, device), noise, u)

        generator.requires_grad_(True)
        res = fit_likelihood(generator, x, anchors(x), noise=noise, generator=gen,
                             weights=None if weights is None else torch.as_tensor(weights),
                             batch_size=256 if self.batch_size == "auto" else self.batch_size,
                             learning_rate=self.fine_tune_learning_rate, max_iter=self.fine_tune_iter,
                             validation_fraction=self.validation_fraction if self.early_stopping else None,
                             n_iter_no_change=FINE_TUNE_PATIENCE, score=score, verbose=self.verbose,
                             desc="fine-tuning", callback=self._epoch_callback("fine_tuning"))
        generator.requires_grad_(False)
        if not res.converged:
            warnings.warn(f"Fine-tuning of the generator stopped at fine_tune_iter={self.fine_tune_iter} epochs "
                          "before its monitored loss stopped improving; consider increasing fine_tune_iter.",
                          ConvergenceWarning)
        return res, NearestAnchor.draw(generator.eval(), N_ANCHORS, d, seed, device)

    # ------------------------------------------------------------------- sample
    def sample(self, n_samples=1, random_state=None, return_log_prob=False):
        """Draw samples: one forward pass :math:`x = F(z) + s e` per row.

        Row i depends only on ``random_state`` and i: ``sample(n)`` starts with
        ``sample(m)`` for m < n under the same seed, whatever ``working_memory`` is
        (:func:`~sklearn_diffgen.sampling.draw`).

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows.
        random_state : int, RandomState instance or None, default=None
            Seeds the draw. None uses fresh entropy (and leaves numpy's global state alone).
        return_log_prob : bool, default=False
            Also return each row's log-density: :meth:`score_samples` of the rows, with the
            inversion started from the z that drew each row instead of a searched guess. It
            skips the search and most iterations (1.2-1.3 times as fast as ``sample`` then
            ``score_samples`` on 2,000 rows), and where F has several preimages it finds the
            one that drew the row, so a few values differ from ``score_samples`` (2 and 16 of
            2,000 rows on two moons and a 5-D Gaussian, by up to 0.3 nats).

        Returns
        -------
        X : ndarray of shape (n_samples, `n_features_in_`)
            Samples in the units of the training data.
        log_prob : ndarray of shape (n_samples,)
            Only with ``return_log_prob``: their log-densities.

        Examples
        --------
        >>> from sklearn.datasets import make_moons
        >>> X, _ = make_moons(300, noise=0.05, random_state=0)
        >>> gen = DiffusionSupervisedGenerator(n_labels=1000, n_iter_no_change=5, random_state=0).fit(X)
        >>> S, logp = gen.sample(4, random_state=0, return_log_prob=True)
        >>> bool(np.allclose(logp, gen.score_samples(S), atol=1e-6))
        True
        """
        check_is_fitted(self)
        n_samples = check_n_samples(n_samples)
        d = self.preprocessing_.n_model_features
        rows = chunk_rows(2 * d + max(self._hidden(), default=d), self._budget_bytes(), itemsize=8, n_buffers=4)
        with torch_threads(resolve_n_threads(self.n_jobs)):
            out = draw(self.generator_, n_samples, d, self.noise_, torch_generator(random_state), rows,
                       n_jobs=self.n_jobs, return_z=return_log_prob)
            if not return_log_prob:
                return self.preprocessing_.from_model(out.numpy())
            U, Z = out
            X = self.preprocessing_.from_model(U.numpy())
            return X, self._in_data_units(self._model_log_density(U, guess=Z), X)

    # ------------------------------------------------------------------ density
    def score_samples(self, X, method="model"):
        r"""Log-density of each row under the distribution that :meth:`sample` draws from.

        It is the change of variables :math:`\log N(z^*) - \log|\det \partial F/\partial
        z(z^*)|` at the preimage :math:`F(z^*) = x` for rows in the range of F, by the
        Laplace method (finite, falling off as :math:`-|x - F(z^*)|^2 / (2 s^2)`) for rows
        out of it, iterated in float32 then float64, row by row
        (:mod:`sklearn_diffgen.density`): a row scores the same alone or in a batch, to
        rounding (within 1e-9; batched products round differently).
        Columns that were constant in training add :math:`-(x_j - c_j)^2 / (2 s^2)`. An
        :class:`~sklearn_diffgen.density.InversionWarning` reports rows whose inversion did
        not converge. Each row costs a Jacobian (d tangents through the network) per
        iteration and memory in :math:`d^2` (:doc:`/benchmarks/speed`); past about a hundred
        columns, reduce the data first (for example with PCA in a Pipeline).

        ``method="teacher"`` returns instead the exact log-density of the teacher
        (:meth:`~sklearn_diffgen.teacher.Teacher.log_prob`), the law the labels follow: the
        likelihood view of the diffusion model the generator was distilled from (Huang, Lim
        & Courville 2021), a diagnostic for how much density the distillation loses. It
        costs O(n_train) per row, and needs the training rows: fit with
        ``keep_training_data=True``.

        Parameters
        ----------
        X : array-like of shape (n_samples, `n_features_in_`)
            Rows to score.
        method : {"model", "teacher"}, default="model"
            The density of :meth:`sample` (the default), or the teacher's, which needs a
            model fitted with ``keep_training_data=True``.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
            Natural log of the density, in the units of the training data.
        """
        check_is_fitted(self)
        if method not in ("model", "teacher"):
            raise ValueError(f"method must be 'model' or 'teacher', got {method!r}")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        pre, budget = self.preprocessing_, self._budget_bytes()
        U = torch.as_tensor(pre.to_model(X))
        with torch_threads(resolve_n_threads(self.n_jobs)):
            if method == "teacher":
                if self.teacher_.data is None:
                    raise ValueError("score_samples(method='teacher') needs the training rows, which this model "
                                     "does not keep (keep_training_data=False, the default); refit with "
                                     "keep_training_data=True")
                logp = self.teacher_.log_prob(U.to(self.device_), budget_bytes=budget).cpu()
            else:
                logp = self._model_log_density(U)
        return self._in_data_units(logp, X)

    def _model_log_density(self, U, guess=None):
        """The model's log-density at the rows of U (model units), inverted from ``guess`` or the anchors."""
        return self._log_density(self.generator_, self.anchors_, self.noise_, U, guess)

    def _log_density(self, F, anchors, noise, U, guess=None):
        """:func:`~sklearn_diffgen.density.generator_log_density` of the generator F at the rows of U, chunked
        to the memory budget."""
        d = U.shape[1]
        rows = chunk_rows(d * d + d * max(self._hidden(), default=d), self._budget_bytes(), itemsize=8, n_buffers=8)
        return generator_log_density(F, anchors, U, noise=noise, rows=rows, n_jobs=self.n_jobs, guess=guess)

    def _in_data_units(self, logp, X):
        """Model-unit log-densities of the rows X in the units of X: the map's log-determinant, and
        the constant columns' Gaussian fall-off."""
        pre = self.preprocessing_
        return logp.numpy() + pre.log_det - pre.constant_deviation(X) / (2 * self.noise_**2)

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
        if "teacher_" in state:
            state["teacher_"] = state["teacher_"].to("cpu")
        if "anchors_" in state:  # a function of the generator and a seed: rebuilt on loading
            state["anchors_"] = {"seed": state["anchors_"].seed, "n": state["anchors_"].z.shape[0]}
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
            if "teacher_" in state:
                state["teacher_"] = state["teacher_"].to(dev)
        for key in _NETWORKS:
            if isinstance(state.get(key), dict):
                spec = state[key]
                net = MLP(**spec["kwargs"])
                net.load_state_dict(spec["state_dict"])
                state[key] = net.to(state["device_"]).eval().requires_grad_(False)
        if isinstance(state.get("anchors_"), dict):
            net = state["generator_"]
            state["anchors_"] = NearestAnchor.draw(net, state["anchors_"]["n"], net.kwargs["in_features"],
                                                   state["anchors_"]["seed"], state["device_"])
        super().__setstate__(state)
