"""Sample-quality metrics: how far a generated sample lies from real data, and whether it copies it or reveals it."""

from __future__ import annotations

import math
import warnings
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist, pdist
from scipy.stats import ks_2samp, wasserstein_distance
from sklearn import get_config
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import pairwise_distances_chunked
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = [
    "energy_distance",
    "mmd",
    "c2st_accuracy",
    "distance_to_closest_record",
    "dcr_ratio",
    "membership_advantage",
    "column_ks",
    "column_wasserstein",
    "correlation_gap",
    "wasserstein_l1",
    "coverage",
]

_MAX_SAMPLES = [Interval(Integral, 1, None, closed="left")]


# --------------------------------------------------------------------------------------------
# validation, subsampling and chunked pairwise sums


def _check_samples(arrays, names, min_samples=1):
    """Each array as a finite 2-D float64 ndarray; all must have the same number of columns."""
    out = [
        check_array(a, dtype=np.float64, ensure_min_samples=min_samples, input_name=name)
        for a, name in zip(arrays, names)
    ]
    d = out[0].shape[1]
    for a, name in zip(out[1:], names[1:]):
        if a.shape[1] != d:
            raise ValueError(
                f"{names[0]} has {d} columns but {name} has {a.shape[1]}: "
                "the samples must have the same number of columns."
            )
    return out


def _subsample(X, max_rows, rng):
    """``max_rows`` rows of X drawn without replacement, or X itself when it has no more rows."""
    if X.shape[0] <= max_rows:
        return X
    return X[rng.choice(X.shape[0], max_rows, replace=False)]


def _pairwise_sum(X, Y, func, exact=True):
    r""":math:`\sum_{i,j} f(|x_i - y_j|^2)`, one block of rows at a time.

    The blocks hold at most scikit-learn's ``working_memory`` (``sklearn.set_config``) of
    distances. With ``exact``, squared distances come from scipy's ``cdist`` ("sqeuclidean"),
    which sums squared differences: exact zeros for equal rows, and the same bits for the same
    inputs, so that a sample against a copy of itself scores exactly 0. Otherwise they come
    from scikit-learn's faster expansion :math:`|x|^2 + |y|^2 - 2 x \cdot y`, whose absolute
    error, of order :math:`\epsilon |x|^2`, is harmless inside a smooth kernel but becomes
    :math:`\sqrt{\epsilon}\,|x|` after a square root at 0.
    """
    metric, kwds = ("sqeuclidean", {}) if exact else ("euclidean", {"squared": True})
    chunks = pairwise_distances_chunked(
        X, Y, metric=metric, reduce_func=lambda D, start: func(D).sum(axis=1), **kwds
    )
    return float(np.concatenate(list(chunks)).sum())


def _median_heuristic(Z, rng):
    """Median of the Euclidean distances between distinct rows of Z (all pairs, as ``pdist``).

    ``pdist`` holds n(n - 1)/2 float64, about 4 n^2 bytes, partitioned in place by the median.
    When that exceeds scikit-learn's ``working_memory`` (1 GiB by default: 16,384 rows), the
    median is taken over the pairs of a random subset of rows that fits.
    """
    max_rows = max(2, int(math.sqrt(get_config()["working_memory"] * 2**20 / 4)))
    return float(np.median(pdist(_subsample(Z, max_rows, rng)), overwrite_input=True))


# --------------------------------------------------------------------------------------------
# two-sample distances


@validate_params(
    {"X": ["array-like"], "Y": ["array-like"], "max_samples": _MAX_SAMPLES, "random_state": ["random_state"]},
    prefer_skip_nested_validation=True,
)
def energy_distance(X, Y, *, max_samples=5000, random_state=None):
    r"""Energy distance between two samples (squared form, V-statistic), Euclidean norm.

    For samples :math:`x_1..x_n` and :math:`y_1..y_m` of :math:`\mathbb{R}^d`,

    .. math::

        \mathcal{E}(X, Y) = \frac{2}{nm} \sum_{i=1}^n \sum_{j=1}^m |x_i - y_j|
            - \frac{1}{n^2} \sum_{i, i'=1}^n |x_i - x_{i'}|
            - \frac{1}{m^2} \sum_{j, j'=1}^m |y_j - y_{j'}|,

    the V-statistic estimate of :math:`2\,E|X - Y| - E|X - X'| - E|Y - Y'|`. It is the energy
    distance between the two empirical distributions, hence :math:`\ge 0`, and 0 when they are
    equal (in particular for a sample against itself). It overestimates the population value by
    :math:`E|X - X'|/n + E|Y - Y'|/m` on average. In one dimension it equals
    ``scipy.stats.energy_distance(x, y) ** 2``: scipy returns its square root, a metric.

    Parameters
    ----------
    X : array-like of shape (n, d)
        First sample.
    Y : array-like of shape (m, d)
        Second sample, with the same columns.
    max_samples : int, default=5000
        A sample with more rows is replaced by ``max_samples`` of its rows, drawn without
        replacement, which bounds the cost at :math:`O(\text{max\_samples}^2 d)`. The distance
        matrices are summed in blocks of scikit-learn's ``working_memory``.
    random_state : int, RandomState instance or None, default=None
        Seeds the subsampling (used only when a sample has more than ``max_samples`` rows).

    Returns
    -------
    float
        The energy distance :math:`\mathcal{E}(X, Y)`.

    See Also
    --------
    scipy.stats.energy_distance : Its square root, in one dimension.
    mmd : The squared maximum mean discrepancy, another kernel two-sample distance.

    References
    ----------
    G. J. Szekely and M. L. Rizzo. Energy statistics: a class of statistics based on distances.
    Journal of Statistical Planning and Inference, 143(8):1249-1272, 2013.
    https://doi.org/10.1016/j.jspi.2013.03.018

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_diffgen.metrics import energy_distance
    >>> X, Y = np.array([[0.0], [1.0]]), np.array([[0.0], [2.0]])
    >>> energy_distance(X, Y)  # 2 * 1 - 0.5 - 1
    0.5
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> energy_distance(X, X.copy())
    0.0
    """
    X, Y = _check_samples([X, Y], ["X", "Y"])
    rng = check_random_state(random_state)
    X, Y = _subsample(X, max_samples, rng), _subsample(Y, max_samples, rng)
    n, m = X.shape[0], Y.shape[0]
    exy = _pairwise_sum(X, Y, np.sqrt) / (n * m)
    exx = _pairwise_sum(X, X, np.sqrt) / (n * n)
    eyy = _pairwise_sum(Y, Y, np.sqrt) / (m * m)
    return 2.0 * exy - exx - eyy


@validate_params(
    {
        "X": ["array-like"],
        "Y": ["array-like"],
        "bandwidth": [StrOptions({"median"}), Interval(Real, 0, None, closed="neither")],
        "max_samples": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def mmd(X, Y, *, bandwidth="median", max_samples=5000, random_state=None):
    r"""Squared maximum mean discrepancy with a Gaussian (RBF) kernel, unbiased estimate.

    With :math:`k(x, y) = \exp(-|x - y|^2 / (2 h^2))` and samples :math:`x_1..x_n`,
    :math:`y_1..y_m`,

    .. math::

        \widehat{\mathrm{MMD}}^2_u = \frac{1}{n(n-1)} \sum_{i \ne i'} k(x_i, x_{i'})
            + \frac{1}{m(m-1)} \sum_{j \ne j'} k(y_j, y_{j'})
            - \frac{2}{nm} \sum_{i=1}^n \sum_{j=1}^m k(x_i, y_j),

    the U-statistic of Gretton et al. (2012, eq. 3), unbiased for
    :math:`E\,k(X, X') + E\,k(Y, Y') - 2\,E\,k(X, Y)`. Being unbiased, it can be slightly
    negative when the two laws are equal or close.

    Parameters
    ----------
    X : array-like of shape (n, d)
        First sample, n >= 2.
    Y : array-like of shape (m, d)
        Second sample, with the same columns, m >= 2.
    bandwidth : "median" or float, default="median"
        The kernel width h. ``"median"`` is the median heuristic: the median of the Euclidean
        distances :math:`|z_k - z_l|, k < l`, between the rows of the pooled sample
        :math:`Z = (X; Y)` (after subsampling), as ``np.median(scipy.spatial.distance.pdist(Z))``.
        When those n(n-1)/2 distances do not fit scikit-learn's ``working_memory`` (more than
        16,384 pooled rows at the default 1 GiB), the median is taken over the pairs of a
        random subset of rows that does.
    max_samples : int, default=5000
        A sample with more rows is replaced by ``max_samples`` of its rows, drawn without
        replacement. Kernel matrices are summed in blocks of scikit-learn's ``working_memory``.
    random_state : int, RandomState instance or None, default=None
        Seeds the subsampling (used only when there are more rows than the limits above).

    Returns
    -------
    float
        The estimate :math:`\widehat{\mathrm{MMD}}^2_u`.

    Raises
    ------
    ValueError
        If the median heuristic gives 0 (more than half of the pairs of rows are equal): pass a
        positive ``bandwidth`` instead.

    See Also
    --------
    energy_distance : A distance-based two-sample statistic without a bandwidth.

    References
    ----------
    A. Gretton, K. M. Borgwardt, M. J. Rasch, B. Scholkopf and A. Smola. A kernel two-sample
    test. Journal of Machine Learning Research, 13:723-773, 2012.
    https://jmlr.org/papers/v13/gretton12a.html

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_diffgen.metrics import mmd
    >>> X, Y = np.array([[0.0], [1.0]]), np.array([[0.0], [2.0]])
    >>> mmd(X, Y, bandwidth=1.0)  # exp(-1/2) + exp(-2) - (1 + exp(-2) + 2 exp(-1/2)) / 2
    -0.432...
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(300, 2)), rng.normal(size=(300, 2))
    >>> abs(mmd(X, Y)) < 0.01, mmd(X, Y + 2.0) > 0.3
    (True, True)
    """
    X, Y = _check_samples([X, Y], ["X", "Y"], min_samples=2)
    rng = check_random_state(random_state)
    X, Y = _subsample(X, max_samples, rng), _subsample(Y, max_samples, rng)
    if bandwidth == "median":
        bandwidth = _median_heuristic(np.vstack([X, Y]), rng)
        if bandwidth == 0.0:
            raise ValueError(
                "the median heuristic gave a zero bandwidth (most pairs of rows are equal); "
                "pass a positive bandwidth."
            )
    gamma = 1.0 / (2.0 * bandwidth * bandwidth)

    def kernel(D2):
        return np.exp(-gamma * D2)

    n, m = X.shape[0], Y.shape[0]
    # k(x, x) = exp(0) = 1 exactly: the diagonals contribute n and m to the full sums
    kxx = (_pairwise_sum(X, X, kernel, exact=False) - n) / (n * (n - 1))
    kyy = (_pairwise_sum(Y, Y, kernel, exact=False) - m) / (m * (m - 1))
    kxy = _pairwise_sum(X, Y, kernel, exact=False) / (n * m)
    return kxx + kyy - 2.0 * kxy


@validate_params(
    {
        "X_real": ["array-like"],
        "X_synth": ["array-like"],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "max_samples": _MAX_SAMPLES,
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def c2st_accuracy(X_real, X_synth, *, cv=5, max_samples=5000, random_state=None):
    r"""Classifier two-sample test: cross-validated accuracy at telling real rows from synthetic.

    Both samples are cut to the same size :math:`n = \min(n_{real}, n_{synth},
    \text{max\_samples})` (rows drawn without replacement), labelled 1 (real) and 0
    (synthetic), and a ``HistGradientBoostingClassifier`` is scored by ``cv``-fold stratified
    cross-validation (shuffled). The result is the mean accuracy over the folds,

    .. math::

        \mathrm{acc} = \frac{1}{K} \sum_{k=1}^K \frac{1}{|T_k|} \sum_{i \in T_k}
            \mathbb{1}[\hat f_{-k}(z_i) = \ell_i],

    where :math:`\hat f_{-k}` is fitted on all folds but :math:`T_k`. With equal class sizes,
    chance level is 0.5: values near 0.5 mean the classifier cannot tell the samples apart,
    values near 1 that it always can.

    Parameters
    ----------
    X_real : array-like of shape (n_real, d)
        Real rows.
    X_synth : array-like of shape (n_synth, d)
        Synthetic rows, with the same columns.
    cv : int, default=5
        Number of folds of ``StratifiedKFold(cv, shuffle=True)``.
    max_samples : int, default=5000
        Most rows kept from each sample.
    random_state : int, RandomState instance or None, default=None
        Seeds the subsampling, the fold split and the classifier (one integer seed each,
        drawn from it), so that an integer gives the same accuracy on every call.

    Returns
    -------
    float
        Mean cross-validated accuracy, in [0, 1].

    References
    ----------
    D. Lopez-Paz and M. Oquab. Revisiting classifier two-sample tests. ICLR 2017.
    https://arxiv.org/abs/1610.06545

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_diffgen.metrics import c2st_accuracy
    >>> from threadpoolctl import threadpool_limits
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(100, 2)), rng.normal(size=(100, 2))
    >>> with threadpool_limits(1, user_api="openmp"):  # small samples: one thread is fastest
    ...     same = c2st_accuracy(X, Y, cv=3, random_state=0)
    ...     apart = c2st_accuracy(X, Y + 6.0, cv=3, random_state=0)
    >>> same, apart
    (0.45..., 1.0)
    """
    X_real, X_synth = _check_samples([X_real, X_synth], ["X_real", "X_synth"])
    rng = check_random_state(random_state)
    n = min(X_real.shape[0], X_synth.shape[0], max_samples)
    X_real, X_synth = _subsample(X_real, n, rng), _subsample(X_synth, n, rng)
    Z = np.vstack([X_real, X_synth])
    y = np.r_[np.ones(n, dtype=int), np.zeros(n, dtype=int)]
    split_seed, clf_seed = rng.randint(np.iinfo(np.int32).max, size=2)
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=split_seed)
    clf = HistGradientBoostingClassifier(random_state=clf_seed)
    return float(cross_val_score(clf, Z, y, cv=folds, scoring="accuracy").mean())


# --------------------------------------------------------------------------------------------
# privacy: distance to the closest training record


def _closest_distances(nn, X):
    return nn.kneighbors(X, n_neighbors=1, return_distance=True)[0][:, 0]


@validate_params({"X": ["array-like"], "X_ref": ["array-like"]}, prefer_skip_nested_validation=True)
def distance_to_closest_record(X, X_ref):
    r"""Euclidean distance from each row of X to its nearest row of X_ref.

    .. math:: \mathrm{DCR}(x_i) = \min_{j} |x_i - r_j|

    computed with ``sklearn.neighbors.NearestNeighbors``. A row equal to a reference row has
    DCR 0, up to rounding: about :math:`10^{-8}\,|x|` when the search is brute force (many
    columns), which expands :math:`|x - r|^2 = |x|^2 + |r|^2 - 2 x \cdot r`.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Query rows (e.g. synthetic ones).
    X_ref : array-like of shape (n_ref, d)
        Reference rows (e.g. the training set), with the same columns.

    Returns
    -------
    ndarray of shape (n,)
        The distance from each row of X to its closest row of X_ref.

    See Also
    --------
    dcr_ratio : Compares the DCR of synthetic rows with that of held-out real rows.

    References
    ----------
    N. Park, M. Mohammadi, K. Gorde, S. Jajodia, H. Park and Y. Kim. Data synthesis based on
    generative adversarial networks. PVLDB, 11(10):1071-1083, 2018.
    https://arxiv.org/abs/1806.03384

    Examples
    --------
    >>> from sklearn_diffgen.metrics import distance_to_closest_record
    >>> distance_to_closest_record([[0.0, 1.0], [3.0, 4.0], [6.0, 8.0]], [[0.0, 0.0], [3.0, 4.0]])
    array([1., 0., 5.])
    """
    X, X_ref = _check_samples([X, X_ref], ["X", "X_ref"])
    return _closest_distances(NearestNeighbors(n_neighbors=1).fit(X_ref), X)


@validate_params(
    {"X_synth": ["array-like"], "X_train": ["array-like"], "X_holdout": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def dcr_ratio(X_synth, X_train, X_holdout):
    r"""Median distance to the closest training record, synthetic rows over held-out real rows.

    .. math::

        \rho = \frac{\operatorname{median}_{s \in S} \mathrm{DCR}(s, T)}
                    {\operatorname{median}_{h \in H} \mathrm{DCR}(h, T)}

    with :math:`\mathrm{DCR}(x, T) = \min_{t \in T} |x - t|`. Held-out rows are fresh draws
    from the data law, so a generator that has learnt the law without memorising its training
    set gives :math:`\rho \approx 1`; :math:`\rho < 1` means synthetic rows sit closer to the
    training rows than new data would (copying), down to 0 for exact copies. The sizes of S
    and H change only the noise of the two medians, not their expected values.

    Parameters
    ----------
    X_synth : array-like of shape (n_synth, d)
        Synthetic rows.
    X_train : array-like of shape (n_train, d)
        The rows the generator was fitted on.
    X_holdout : array-like of shape (n_holdout, d)
        Real rows the generator never saw.

    Returns
    -------
    float
        The ratio :math:`\rho`; ``inf`` or ``nan`` when the held-out median is 0 (half of the
        held-out rows duplicate training rows).

    See Also
    --------
    distance_to_closest_record : The distances themselves.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_diffgen.metrics import dcr_ratio
    >>> rng = np.random.default_rng(0)
    >>> train, holdout = rng.normal(size=(500, 2)), rng.normal(size=(500, 2))
    >>> dcr_ratio(train[:100], train, holdout)  # synthetic rows copied from the training set
    0.0
    >>> 0.8 < dcr_ratio(rng.normal(size=(500, 2)), train, holdout) < 1.25
    True
    """
    X_synth, X_train, X_holdout = _check_samples(
        [X_synth, X_train, X_holdout], ["X_synth", "X_train", "X_holdout"]
    )
    nn = NearestNeighbors(n_neighbors=1).fit(X_train)
    num = np.median(_closest_distances(nn, X_synth))
    den = np.median(_closest_distances(nn, X_holdout))
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(num) / den)


class MembershipAdvantage(NamedTuple):
    """What :func:`membership_advantage` measured."""

    advantage: float
    pvalue: float


@validate_params({"members": ["array-like"], "non_members": ["array-like"]}, prefer_skip_nested_validation=True)
def membership_advantage(members, non_members):
    r"""Advantage of the best threshold attack that tells training rows from new rows by a score.

    An attacker with a score per row (a model's log-density, or minus a row's distance to
    the closest synthetic row) calls a row a training row when its score exceeds a threshold
    t. Its membership advantage (Yeom et al. 2018) at the best threshold is

    .. math:: \mathrm{Adv} = \max_t \left[ P(s > t \mid \mathrm{member}) - P(s > t \mid
              \mathrm{non\text{-}member}) \right] = \max_t \left[ G(t) - F(t) \right],

    with F and G the empirical CDFs of the members' and the non-members' scores: the
    one-sided two-sample Kolmogorov-Smirnov statistic (``scipy.stats.ks_2samp``), whose
    p-value says whether the advantage could be chance. 0 means the score does not tell
    the two sets apart, 1 that one threshold separates them. A model that reveals nothing
    still reads about :math:`\sqrt{(n + m) / (n m)}` for n members and m non-members.

    Parameters
    ----------
    members : array-like of shape (n,)
        Scores of rows the model was fitted on.
    non_members : array-like of shape (m,)
        Scores of rows from the same law that it never saw.

    Returns
    -------
    MembershipAdvantage
        ``advantage`` in [0, 1], and the ``pvalue`` of the test that members do not score
        higher.

    References
    ----------
    S. Yeom, I. Giacomelli, M. Fredrikson, S. Jha. Privacy risk in machine learning:
    analyzing the connection to overfitting. IEEE CSF 2018. https://arxiv.org/abs/1709.01604

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_diffgen.metrics import membership_advantage
    >>> membership_advantage([3.0, 4.0, 5.0], [0.0, 1.0, 2.0]).advantage  # one threshold splits them
    1.0
    >>> rng = np.random.default_rng(0)
    >>> float(membership_advantage(rng.normal(size=2000), rng.normal(size=2000)).advantage) < 0.05
    True
    """
    members, non_members = (check_array(np.asarray(a, dtype=np.float64).reshape(-1, 1), input_name=name)[:, 0]
                            for a, name in ((members, "members"), (non_members, "non_members")))
    with warnings.catch_warnings():  # scipy falls back from its exact p-value to the asymptotic one
        warnings.filterwarnings("ignore", "ks_2samp: Exact calculation unsuccessful", RuntimeWarning)
        res = ks_2samp(non_members, members, alternative="greater")
    return MembershipAdvantage(float(res.statistic), float(res.pvalue))


# --------------------------------------------------------------------------------------------
# marginals and correlations


@validate_params({"X": ["array-like"], "Y": ["array-like"]}, prefer_skip_nested_validation=True)
def column_ks(X, Y):
    r"""Two-sample Kolmogorov-Smirnov statistic of each column.

    .. math:: D_k = \sup_t \left| F_{X_k}(t) - G_{Y_k}(t) \right|, \qquad k = 1..d,

    with :math:`F, G` the empirical CDFs of column k of X and Y, from ``scipy.stats.ks_2samp``.

    Parameters
    ----------
    X : array-like of shape (n, d)
        First sample.
    Y : array-like of shape (m, d)
        Second sample, with the same columns.

    Returns
    -------
    ndarray of shape (d,)
        The statistic :math:`D_k` of each column, in [0, 1].

    See Also
    --------
    column_wasserstein : The 1-D Wasserstein distance of each column.

    Examples
    --------
    >>> from sklearn_diffgen.metrics import column_ks
    >>> column_ks([[0.0, 5.0], [1.0, 6.0], [2.0, 7.0]], [[1.5, 5.0], [2.5, 6.0], [3.5, 7.0]])
    array([0.667, 0.   ])
    """
    X, Y = _check_samples([X, Y], ["X", "Y"])
    return np.asarray(ks_2samp(X, Y, axis=0).statistic, dtype=np.float64).reshape(X.shape[1])


@validate_params({"X": ["array-like"], "Y": ["array-like"]}, prefer_skip_nested_validation=True)
def column_wasserstein(X, Y):
    r"""1-D Wasserstein (earth mover's) distance of each column.

    .. math:: W_k = \int_{-\infty}^{\infty} \left| F_{X_k}(t) - G_{Y_k}(t) \right| dt,
        \qquad k = 1..d,

    from ``scipy.stats.wasserstein_distance``. For two samples of equal size n it is the mean
    of :math:`|x_{(i)} - y_{(i)}|` over the sorted values.

    Parameters
    ----------
    X : array-like of shape (n, d)
        First sample.
    Y : array-like of shape (m, d)
        Second sample, with the same columns.

    Returns
    -------
    ndarray of shape (d,)
        The distance :math:`W_k` of each column, in the units of that column.

    See Also
    --------
    column_ks : The Kolmogorov-Smirnov statistic of each column.

    Examples
    --------
    >>> from sklearn_diffgen.metrics import column_wasserstein
    >>> column_wasserstein([[0.0, 5.0], [1.0, 6.0], [2.0, 7.0]], [[1.5, 5.0], [2.5, 6.0], [3.5, 7.0]])
    array([1.5, 0. ])
    """
    X, Y = _check_samples([X, Y], ["X", "Y"])
    return np.array([wasserstein_distance(X[:, k], Y[:, k]) for k in range(X.shape[1])])


@validate_params({"X": ["array-like"], "Y": ["array-like"]}, prefer_skip_nested_validation=True)
def correlation_gap(X, Y):
    r"""Mean absolute difference between the off-diagonal entries of two Pearson correlation matrices.

    .. math::

        \Delta = \frac{2}{d(d-1)} \sum_{k < l} \left| r^X_{kl} - r^Y_{kl} \right|,

    with :math:`r^X, r^Y` the Pearson correlation matrices (``np.corrcoef``) of the columns of
    X and Y. :math:`\Delta \in [0, 2]`; it is 0 when d = 1, and ``nan`` (with numpy's warning)
    when a column of either sample is constant.

    Parameters
    ----------
    X : array-like of shape (n, d)
        First sample, n >= 2.
    Y : array-like of shape (m, d)
        Second sample, with the same columns, m >= 2.

    Returns
    -------
    float
        The gap :math:`\Delta`.

    Examples
    --------
    >>> from sklearn_diffgen.metrics import correlation_gap
    >>> X = [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]  # correlation +1
    >>> Y = [[0.0, 2.0], [1.0, 1.0], [2.0, 0.0]]  # correlation -1
    >>> correlation_gap(X, Y)
    2.0
    """
    X, Y = _check_samples([X, Y], ["X", "Y"], min_samples=2)
    d = X.shape[1]
    if d == 1:
        return 0.0
    upper = np.triu_indices(d, k=1)
    gap = np.corrcoef(X, rowvar=False)[upper] - np.corrcoef(Y, rowvar=False)[upper]
    return float(np.abs(gap).mean())


@validate_params(
    {"X": ["array-like"], "Y": ["array-like"], "max_samples": _MAX_SAMPLES, "random_state": ["random_state"]},
    prefer_skip_nested_validation=True,
)
def wasserstein_l1(X, Y, *, max_samples=2000, random_state=None):
    r"""Wasserstein-1 distance between two samples with an L1 ground cost, by exact optimal transport.

    .. math:: W_1 = \min_{\sigma} \frac1n \sum_{i=1}^{n} |x_i - y_{\sigma(i)}|_1

    over the permutations :math:`\sigma` (an assignment, ``scipy.optimize.linear_sum_assignment``)
    between n rows of each sample: both are subsampled without replacement to
    :math:`n = \min(|X|, |Y|, \text{max\_samples})` rows. This is the W1 of ForestDiffusion's
    benchmark (Jolicoeur-Martineau et al. 2024), which scales the columns first (numeric ones
    to [0, 1] by the training rows, one-hot categories by 1/2); scale before calling. In one
    column it is :func:`column_wasserstein`'s value for equal sizes. The assignment costs
    :math:`O(n^3)`: about a second for 2,000 rows.

    Parameters
    ----------
    X : array-like of shape (n_x, d)
        First sample.
    Y : array-like of shape (n_y, d)
        Second sample, with the same columns.
    max_samples : int, default=2000
        Rows of each sample at most.
    random_state : int, RandomState instance or None, default=None
        Seeds the subsampling.

    Returns
    -------
    float

    Examples
    --------
    >>> from sklearn_diffgen.metrics import wasserstein_l1
    >>> wasserstein_l1([[0.0, 0.0], [1.0, 1.0]], [[1.0, 1.5], [0.0, 0.5]])
    0.5
    """
    X, Y = _check_samples([X, Y], ["X", "Y"])
    rng = check_random_state(random_state)
    n = min(X.shape[0], Y.shape[0], max_samples)
    X, Y = _subsample(X, n, rng), _subsample(Y, n, rng)
    cost = cdist(X, Y, metric="cityblock")
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


@validate_params(
    {"X_real": ["array-like"], "X_synth": ["array-like"], "n_neighbors": [Interval(Integral, 1, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def coverage(X_real, X_synth, *, n_neighbors=5):
    r"""Coverage (Naeem et al. 2020): the share of real rows with a synthetic row in their neighbourhood.

    .. math:: \mathrm{cov} = \frac1N \sum_{i=1}^{N} \mathbb{1}\left[\exists j :
        |y_j - x_i| \le \mathrm{NND}_k(x_i)\right],

    with :math:`\mathrm{NND}_k(x_i)` the Euclidean distance from real row :math:`x_i` to its
    k-th nearest other real row (``n_neighbors``). It is 1 when every real row's neighbourhood
    holds a synthetic row, and falls when the synthetic rows miss regions of the real ones (a
    dropped mode); unlike the recall of Kynkäänniemi et al., far synthetic outliers cannot
    raise it. ForestDiffusion's benchmark picks k so that two real samples score 0.95.

    Parameters
    ----------
    X_real : array-like of shape (n_real, d)
        Real rows, more than ``n_neighbors``.
    X_synth : array-like of shape (n_synth, d)
        Synthetic rows, with the same columns.
    n_neighbors : int, default=5
        k of the real rows' neighbourhoods.

    Returns
    -------
    float in [0, 1]

    References
    ----------
    M. F. Naeem, S. J. Oh, Y. Uh, Y. Choi, J. Yoo. Reliable fidelity and diversity metrics for
    generative models. ICML 2020. https://arxiv.org/abs/2002.09797

    Examples
    --------
    >>> from sklearn_diffgen.metrics import coverage
    >>> real = [[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]]
    >>> coverage(real, [[0.5], [1.5]], n_neighbors=2)  # the cluster at 10-12 is missed
    0.5
    """
    X_real, X_synth = _check_samples([X_real, X_synth], ["X_real", "X_synth"])
    if X_real.shape[0] <= n_neighbors:
        raise ValueError(f"X_real has {X_real.shape[0]} rows; coverage needs more than n_neighbors={n_neighbors}")
    radius = NearestNeighbors(n_neighbors=n_neighbors + 1).fit(X_real).kneighbors(X_real)[0][:, n_neighbors]
    nearest = _closest_distances(NearestNeighbors(n_neighbors=1).fit(X_synth), X_real)
    return float(np.mean(nearest <= radius))
