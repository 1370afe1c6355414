"""The models the benchmarks compare: our estimator (defaults, tuned, authors' settings) and fitted peers.

Every fitted object here answers ``sample(n, random_state) -> ndarray`` and
``score_samples(X) -> ndarray`` (natural log-density per row), so benchmark scripts treat them
alike. Data are expected standardised with the training split's ``StandardScaler``: every
log-likelihood is then in nats, standardised units. Tuned models are chosen on the
validation split's mean log-likelihood over ``n_grid`` configurations each, so that every
model family gets the same tuning budget:

* :func:`fit_kde` -- ``KernelDensity`` (Gaussian kernel), bandwidth on a log grid around
  Scott's factor :math:`N^{-1/(d+4)}`.
* :func:`fit_gmm` -- ``GaussianMixture`` (full covariance), ``n_components`` log-spaced in
  1..64.
* :func:`fit_nsf_tuned` / :class:`NSF` -- zuko's neural spline flow (Durkan et al. 2019,
  https://arxiv.org/abs/1906.04032) trained by Adam with early stopping on validation NLL.
* :func:`fit_ours_tuned` -- ``DiffusionSupervisedGenerator``, bandwidth multipliers x network
  sizes; :func:`fit_ours` fits one configuration (``AUTHORS`` is the authors' released one).

This module is a script helper (``benchmarks/`` is on ``sys.path`` when a script there runs);
the package never imports it.
"""

from __future__ import annotations

import copy
import re
import time
import warnings
import numpy as np
import torch
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KernelDensity

from sklearn_diffgen import DiffusionSupervisedGenerator

__all__ = ["AUTHORS", "NSF", "SeededGaussianMixture", "BICGaussianMixture", "fit_gmm", "fit_kde", "fit_nsf_tuned",
           "fit_ours", "fit_ours_tuned", "count_unconverged", "score_counting"]

#: The authors' released settings (Liu et al. 2023), run through our code. ``batch_size`` is
#: ``n_labels`` (full-batch Adam; our default ``n_labels`` is 10,000, of which 10 % are held
#: out for early stopping, so each step sees 9,000 pairs). ``bandwidth=0.1`` is where their
#: schedule ends: they integrate to t = 0, where :math:`b(0)/a(0) = \sqrt{0.01} / 1 = 0.1`,
#: the smallest width ``schedule="authors"`` reaches (inferred from the schedule; the spec of
#: this suite lists no bandwidth).
AUTHORS = dict(
    bandwidth=0.1,
    solver="euler",
    n_steps=500,
    schedule="authors",
    score_batch_size=1000,
    hidden_layer_sizes=(64, 64),
    activation="tanh",
    n_labels=10000,
    batch_size=10000,
    learning_rate_init=1e-2,
    max_iter=2000,
    n_iter_no_change=50,
)

_UNCONVERGED = re.compile(r"inversion of (\d+) of (\d+) rows did not converge")


def _subsample(X: np.ndarray, max_rows: int | None, seed: int) -> np.ndarray:
    """At most ``max_rows`` rows of X, a seeded random subset without replacement (in order)."""
    if max_rows is None or X.shape[0] <= max_rows:
        return X
    idx = np.sort(np.random.default_rng(seed).choice(X.shape[0], max_rows, replace=False))
    return X[idx]


# --------------------------------------------------------------------------- our estimator
def count_unconverged(caught) -> int:
    """Total ``n`` of our ``score_samples`` warnings "the inversion of n of m rows did not
    converge" among recorded warnings (other warnings are ignored)."""
    total = 0
    for w in caught:
        m = _UNCONVERGED.search(str(w.message))
        if m:
            total += int(m.group(1))
    return total


def score_counting(model, X: np.ndarray) -> tuple[np.ndarray, int]:
    """``model.score_samples(X)`` and the number of rows whose inversion did not converge.

    Our estimator reports those rows by a ``UserWarning``; it is recorded and counted here
    instead of printed. Peers always return 0.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ll = model.score_samples(X)
    for w in caught:  # let unrelated warnings through
        if not _UNCONVERGED.search(str(w.message)):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return np.asarray(ll, dtype=np.float64), count_unconverged(caught)


def fit_ours(X_train, X_val=None, **params) -> DiffusionSupervisedGenerator:
    """Fit ``DiffusionSupervisedGenerator(**params)`` on ``X_train``.

    ``X_val`` is accepted for a uniform signature and not used: the estimator holds out a
    fraction of its own labels for early stopping. ``ConvergenceWarning`` (training stopped at
    ``max_iter``) is left to the caller.
    """
    return DiffusionSupervisedGenerator(**params).fit(X_train)


#: Candidates of :func:`fit_ours_tuned`, in the order they are tried: (bandwidth multiplier,
#: hidden_layer_sizes). The multiplier scales the bandwidth ``"auto"`` picks.
OURS_GRID = (
    (1.0, (128, 128, 128)), (0.5, (128, 128, 128)), (2.0, (128, 128, 128)),
    (1.0, (256, 256, 256)), (0.5, (256, 256, 256)), (2.0, (256, 256, 256)),
    (0.7, (128, 128, 128)), (1.4, (128, 128, 128)), (0.7, (256, 256, 256)), (1.4, (256, 256, 256)),
)


def ours_grid(n_grid: int) -> list[tuple[float, tuple[int, ...]]]:
    """The first ``n_grid`` (bandwidth multiplier, hidden_layer_sizes) pairs of :data:`OURS_GRID`.

    The first is always (1.0, default network): the defaults. Then multipliers 0.5 and 2 of
    the ``auto`` bandwidth (the cross-validated teacher KDE) on the default (128, 128, 128)
    network, then the same three on a wider (256, 256, 256) one, then finer multipliers.

    Examples
    --------
    >>> ours_grid(4)
    [(1.0, (128, 128, 128)), (0.5, (128, 128, 128)), (2.0, (128, 128, 128)), (1.0, (256, 256, 256))]
    """
    if not 1 <= n_grid <= len(OURS_GRID):
        raise ValueError(f"n_grid must be in 1..{len(OURS_GRID)}, got {n_grid}")
    return list(OURS_GRID[:n_grid])


def fit_ours_tuned(X_train, X_val, n_grid: int, *, random_state=0, max_val: int | None = 1000,
                   default=None, **params) -> DiffusionSupervisedGenerator:
    """Our estimator tuned on validation log-likelihood over :func:`ours_grid` ``(n_grid)``.

    The first configuration is the defaults (``bandwidth="auto"``); its ``bandwidth_`` is the
    base that the other multipliers scale. Each candidate is scored by the mean
    ``score_samples`` of at most ``max_val`` validation rows (a seeded subset), since our
    density costs d forward-mode passes per row. Non-converged inversions are counted, not
    printed.

    Parameters
    ----------
    X_train, X_val : ndarray
        Standardised training and validation rows.
    n_grid : int
        Number of configurations.
    random_state : int
        Seed of every candidate (and of the validation subset).
    max_val : int or None
        Most validation rows scored per candidate.
    default : DiffusionSupervisedGenerator or None
        An estimator already fitted with the first configuration, i.e.
        ``DiffusionSupervisedGenerator(random_state=random_state, **params)``, to reuse
        instead of fitting it again.
    **params
        Further estimator parameters, shared by every candidate.

    Returns
    -------
    DiffusionSupervisedGenerator
        The best candidate, with extra attributes ``tuning_`` (list of dicts: bandwidth,
        hidden_layer_sizes, val_loglik, fit_s, score_s; ``fit_s`` is None for a reused
        ``default``) and ``n_val_unconverged_``.
    """
    X_val = _subsample(np.asarray(X_val), max_val, random_state)
    best, best_score, tuning, base, unconverged = None, -np.inf, [], None, 0
    for mult, hidden in ours_grid(n_grid):
        start = time.perf_counter()
        if base is None and default is not None:
            est, fit_s = default, None
        else:
            bandwidth = "auto" if base is None else float(np.clip(mult * base, 1e-3, 10.0))
            est = fit_ours(X_train, bandwidth=bandwidth, hidden_layer_sizes=hidden,
                           random_state=random_state, **params)
            fit_s = time.perf_counter() - start
        if base is None:
            base = est.bandwidth_
        start = time.perf_counter()
        ll, bad = score_counting(est, X_val)
        unconverged += bad
        score = float(np.mean(ll))
        tuning.append(dict(bandwidth=est.bandwidth_, hidden_layer_sizes=hidden, val_loglik=score,
                           fit_s=fit_s, score_s=time.perf_counter() - start))
        if best is None or score > best_score:
            best, best_score = est, score
    best.tuning_ = tuning
    best.n_val_unconverged_ = unconverged
    return best


# ------------------------------------------------------------------------- classic peers
class SeededGaussianMixture(GaussianMixture):
    """``GaussianMixture`` whose ``sample(n, random_state)`` takes a seed and returns rows only.

    ``GaussianMixture.sample`` draws from ``self.random_state`` and returns ``(X, labels)``
    sorted by component; this draws with the given seed and shuffles the rows (seeded), so
    that any prefix is a sample of the mixture.
    """

    def sample(self, n_samples=1, random_state=None):
        est = copy.copy(self)
        est.random_state = random_state
        X, _ = GaussianMixture.sample(est, n_samples)
        return X[np.random.default_rng(random_state).permutation(n_samples)]


class BICGaussianMixture(SeededGaussianMixture):
    """``SeededGaussianMixture`` whose ``n_components`` is chosen by BIC at fit, in 1..``max_components``
    (capped so that each component has at least 10 rows): a peer that tunes itself inside a
    wrapper such as ``TabularGenerator``, which fits one model per class.
    """

    def __init__(self, max_components=16, *, covariance_type="full", reg_covar=1e-6, random_state=None):
        super().__init__(1, covariance_type=covariance_type, reg_covar=reg_covar, random_state=random_state)
        self.max_components = max_components

    def fit(self, X, y=None):
        best, best_bic = None, np.inf
        for k in range(1, max(1, min(self.max_components, len(X) // 10)) + 1):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                gmm = SeededGaussianMixture(k, covariance_type=self.covariance_type, reg_covar=self.reg_covar,
                                            random_state=self.random_state).fit(X)
            bic = gmm.bic(X)
            if bic < best_bic:
                best, best_bic = gmm, bic
        self.__dict__.update({k: v for k, v in best.__dict__.items() if k.endswith("_")})
        self.n_components = best.n_components
        return self


def fit_kde(X_train, X_val, n_grid: int) -> KernelDensity:
    """Gaussian ``KernelDensity`` with the bandwidth that maximises validation log-likelihood.

    The grid is ``n_grid`` values log-spaced over ``scott * [10**-1.3, 10**0.3]`` (about 0.05
    to 2 times Scott's factor :math:`N^{-1/(d+4)}`), the range that
    ``benchmarks/bandwidth_rule.py`` found the optimum in for toy and real data.

    Returns
    -------
    KernelDensity
        Fitted on ``X_train``, with extra attribute ``tuning_`` (bandwidth, val_loglik).
    """
    n, d = X_train.shape
    scott = n ** (-1.0 / (d + 4))
    best, best_score, tuning = None, -np.inf, []
    for h in scott * np.logspace(-1.3, 0.3, n_grid):
        kde = KernelDensity(bandwidth=float(h)).fit(X_train)
        score = float(np.mean(kde.score_samples(X_val)))
        tuning.append(dict(bandwidth=float(h), val_loglik=score))
        if score > best_score or best is None:
            best, best_score = kde, score
    best.tuning_ = tuning
    return best


def gmm_grid(n_grid: int, n_train: int) -> list[int]:
    """``n_grid`` component counts log-spaced in 1..64 (fewer when rounding merges them),
    capped so that each component has at least 10 training rows on average.

    >>> gmm_grid(6, 10000)
    [1, 2, 5, 12, 28, 64]
    """
    top = max(1, min(64, n_train // 10))
    return sorted({int(k) for k in np.round(np.geomspace(1, top, n_grid))})


def fit_gmm(X_train, X_val, n_grid: int, *, random_state=0) -> SeededGaussianMixture:
    """Full-covariance ``GaussianMixture`` with ``n_components`` (:func:`gmm_grid`) chosen on
    validation log-likelihood; k-means initialisation, one init, at most 100 EM iterations.

    Returns
    -------
    SeededGaussianMixture
        Fitted on ``X_train``, with extra attribute ``tuning_`` (n_components, val_loglik).
    """
    best, best_score, tuning = None, -np.inf, []
    for k in gmm_grid(n_grid, X_train.shape[0]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter: the fit is still used
            gmm = SeededGaussianMixture(k, covariance_type="full", random_state=random_state).fit(X_train)
        score = float(gmm.score(X_val))
        tuning.append(dict(n_components=k, val_loglik=score))
        if score > best_score or best is None:
            best, best_score = gmm, score
    best.tuning_ = tuning
    return best


# ---------------------------------------------------------------------------------- flows
class NSF:
    """zuko's neural spline flow, trained by Adam on NLL with early stopping on validation NLL.

    Autoregressive rational-quadratic spline transforms (``bins`` knots over [-5, 5], which
    suits standardised data), float32, CPU. The initial weights are drawn inside
    ``torch.random.fork_rng`` from ``random_state`` (zuko builds its layers from torch's
    default generator, and the fork restores it afterwards); mini-batch order and sampling
    use explicit ``torch.Generator`` objects. Training stops after ``patience`` epochs
    without a lower validation NLL, or at ``max_epochs``, and keeps the best epoch's weights.

    Parameters
    ----------
    transforms : int, default=3
        Number of autoregressive spline transforms.
    hidden_features : tuple of int, default=(128, 128)
        Hidden widths of each transform's MADE conditioner.
    bins : int, default=8
        Spline bins.
    learning_rate : float, default=1e-3
        Adam step size.
    batch_size : int, default=256
        Mini-batch size.
    max_epochs : int, default=200
        Bound on training epochs.
    patience : int, default=10
        Epochs without improvement before stopping.
    max_steps : int or None, default=None
        Stop after the first epoch that ends with at least this many Adam steps in all: a
        bound on the fit's cost that, unlike ``max_seconds``, does not depend on the machine.
    max_seconds : float or None, default=None
        Stop after the first epoch that ends past this many seconds of training (a bound on
        the fit's cost, but one that makes the result depend on the machine's speed).
        ``stopped_by_`` records which rule ended training.
    random_state : int, default=0
        Seed of the initial weights and of the mini-batch order.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(300, 2))
    >>> flow = NSF(transforms=1, hidden_features=(16,), max_epochs=3).fit(X[:200], X[200:])
    >>> flow.sample(4, random_state=0).shape, flow.score_samples(X[:3]).shape
    ((4, 2), (3,))
    """

    def __init__(self, transforms=3, hidden_features=(128, 128), bins=8, learning_rate=1e-3,
                 batch_size=256, max_epochs=200, patience=10, max_steps=None, max_seconds=None,
                 random_state=0):
        self.transforms = transforms
        self.hidden_features = hidden_features
        self.bins = bins
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.max_steps = max_steps
        self.max_seconds = max_seconds
        self.random_state = random_state

    def get_params(self) -> dict:
        """The constructor arguments."""
        names = ("transforms", "hidden_features", "bins", "learning_rate", "batch_size", "max_epochs",
                 "patience", "max_steps", "max_seconds", "random_state")
        return {k: getattr(self, k) for k in names}

    def _nll(self, X: torch.Tensor) -> float:
        with torch.no_grad():
            dist = self.flow_()
            return float(sum(-dist.log_prob(X[i : i + 4096]).sum() for i in range(0, X.shape[0], 4096))
                         / X.shape[0])

    def fit(self, X_train, X_val) -> "NSF":
        """Train on ``X_train``; early-stop on the mean NLL of ``X_val``."""
        import zuko

        start = time.perf_counter()
        Xt = torch.as_tensor(np.asarray(X_train), dtype=torch.float32)
        Xv = torch.as_tensor(np.asarray(X_val), dtype=torch.float32)
        d = self.n_features_in_ = Xt.shape[1]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.random_state))  # restored on exit of the fork
            self.flow_ = zuko.flows.NSF(d, transforms=self.transforms, bins=self.bins,
                                        hidden_features=tuple(self.hidden_features))
        g = torch.Generator().manual_seed(int(self.random_state) + 1)
        opt = torch.optim.Adam(self.flow_.parameters(), lr=self.learning_rate)
        best, best_state, bad, steps = np.inf, None, 0, 0
        self.val_curve_, self.stopped_by_ = [], "max_epochs"
        for epoch in range(self.max_epochs):
            self.flow_.train()
            order = torch.randperm(Xt.shape[0], generator=g)
            for i in range(0, Xt.shape[0], self.batch_size):
                loss = -self.flow_().log_prob(Xt[order[i : i + self.batch_size]]).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                steps += 1
            self.flow_.eval()
            val = self._nll(Xv)
            self.val_curve_.append(val)
            if val < best:
                best, best_state, bad = val, copy.deepcopy(self.flow_.state_dict()), 0
            else:
                bad += 1
            if bad >= self.patience:
                self.stopped_by_ = "patience"
                break
            if self.max_steps is not None and steps >= self.max_steps:
                self.stopped_by_ = "max_steps"
                break
            if self.max_seconds is not None and time.perf_counter() - start > self.max_seconds:
                self.stopped_by_ = "max_seconds"
                break
        if best_state is not None:
            self.flow_.load_state_dict(best_state)
        self.flow_.eval().requires_grad_(False)
        self.n_epochs_, self.n_steps_, self.best_val_nll_ = len(self.val_curve_), steps, float(best)
        self.fit_time_ = time.perf_counter() - start
        return self

    def sample(self, n_samples=1, random_state=None) -> np.ndarray:
        """Rows :math:`x = T^{-1}(z)`, :math:`z \\sim N(0, I)` drawn from a seeded generator."""
        g = torch.Generator()
        if random_state is None:
            g.seed()
        else:
            g.manual_seed(int(random_state))
        dist = self.flow_()
        d = self.n_features_in_
        out = []
        with torch.no_grad():
            for i in range(0, n_samples, 8192):
                z = torch.randn(min(8192, n_samples - i), d, generator=g)
                out.append(dist.transform.inv(z).double().numpy())
        return np.concatenate(out)

    def score_samples(self, X) -> np.ndarray:
        """Log-density of each row (float32 arithmetic, returned as float64)."""
        Xt = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        dist = self.flow_()
        with torch.no_grad():
            return np.concatenate([dist.log_prob(Xt[i : i + 4096]).double().numpy()
                                   for i in range(0, Xt.shape[0], 4096)])


def nsf_grid(n_grid: int) -> list[dict]:
    """The ``n_grid`` NSF configurations :func:`fit_nsf_tuned` tries, in order.

    The first is zuko's usual size (3 transforms, MADE (128, 128)); then smaller, deeper and
    wider ones, then larger learning rates.

    >>> [c["transforms"] for c in nsf_grid(3)]
    [3, 2, 5]
    """
    configs = [
        dict(transforms=3, hidden_features=(128, 128)),
        dict(transforms=2, hidden_features=(64, 64)),
        dict(transforms=5, hidden_features=(128, 128)),
        dict(transforms=3, hidden_features=(256, 256)),
        dict(transforms=3, hidden_features=(128, 128), learning_rate=3e-3),
        dict(transforms=5, hidden_features=(256, 256)),
        dict(transforms=2, hidden_features=(128, 128), learning_rate=3e-3),
        dict(transforms=4, hidden_features=(192, 192)),
    ]
    return [configs[i % len(configs)] for i in range(max(1, n_grid))]


def fit_nsf_tuned(X_train, X_val, n_grid: int, *, random_state=0, **bounds) -> NSF:
    """The NSF of :func:`nsf_grid` ``(n_grid)`` with the lowest validation NLL.

    ``bounds`` (``max_epochs``, ``patience``, ``max_steps``, ``max_seconds``, ``batch_size``) apply to every
    candidate. Note that the validation split serves both early stopping and the choice.

    Returns
    -------
    NSF
        The best candidate, with extra attribute ``tuning_`` (config, val_loglik, epochs).
    """
    best, tuning = None, []
    for cfg in nsf_grid(n_grid):
        flow = NSF(**{**cfg, **bounds}, random_state=random_state).fit(X_train, X_val)
        tuning.append(dict(cfg, val_loglik=-flow.best_val_nll_, epochs=flow.n_epochs_,
                           stopped_by=flow.stopped_by_, fit_s=flow.fit_time_))
        if best is None or flow.best_val_nll_ < best.best_val_nll_:
            best = flow
    best.tuning_ = tuning
    return best
