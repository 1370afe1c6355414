"""Correlated Gaussians with an exact density: the generator and the gaussian5 / gaussian20 sets."""

from __future__ import annotations

import math
from numbers import Integral
from typing import NamedTuple

import numpy as np
from scipy.stats import multivariate_normal, random_correlation
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, validate_params


def _random_gaussian_law(n_features: int, rng: np.random.RandomState):
    """Mean N(0, I), scales log-uniform on [1/3, 3], random correlation with eigenvalues in [0.1, 1]."""
    mean = rng.standard_normal(n_features)
    scales = np.exp(rng.uniform(-math.log(3.0), math.log(3.0), size=n_features))
    if n_features == 1:
        corr = np.ones((1, 1))
    else:
        eigs = rng.uniform(0.1, 1.0, size=n_features)
        corr = random_correlation.rvs(eigs * n_features / eigs.sum(), random_state=rng)
    cov = scales[:, None] * corr * scales[None, :]
    return multivariate_normal(mean=mean, cov=(cov + cov.T) / 2.0)


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "return_distribution": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_correlated_gaussian(n_samples, n_features, *, random_state=None, return_distribution=False):
    r"""Rows of a Gaussian with a random mean and a random covariance, drawn from the seed.

    .. math::

        x \sim \mathcal N(\mu, \Sigma), \qquad \Sigma = D\,C\,D,

    drawn in this order from ``random_state``: :math:`\mu \sim \mathcal N(0, I_d)`; the scales
    :math:`D = \operatorname{diag}(s)` with :math:`\log s_i \sim U(-\log 3, \log 3)`; the
    correlation matrix :math:`C` from :data:`scipy.stats.random_correlation` with eigenvalues
    drawn uniform on [0.1, 1] and rescaled to sum to d (so its condition number is at most
    10); then the rows. The law depends on the seed and ``n_features`` only, not on
    ``n_samples``, and its density is exact, which makes it a test case for density estimates.

    Parameters
    ----------
    n_samples : int
        Number of rows.
    n_features : int
        Dimension d.
    random_state : int, RandomState instance or None, default=None
        Seeds the law and the rows.
    return_distribution : bool, default=False
        Also return the law as a frozen :data:`scipy.stats.multivariate_normal`.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    law : scipy.stats multivariate_normal frozen distribution
        The law the rows are drawn from (``law.mean``, ``law.cov``, ``law.logpdf``); only
        when ``return_distribution`` is True.

    Examples
    --------
    >>> X, law = make_correlated_gaussian(1000, 3, random_state=0, return_distribution=True)
    >>> X.shape, law.cov.shape
    ((1000, 3), (3, 3))
    >>> _, law2 = make_correlated_gaussian(10, 3, random_state=0, return_distribution=True)
    >>> bool(np.array_equal(law.cov, law2.cov))
    True
    """
    rng = check_random_state(random_state)
    law = _random_gaussian_law(n_features, rng)
    X = rng.multivariate_normal(law.mean, law.cov, size=n_samples)
    return (X, law) if return_distribution else X


def _frozen_logpdf(X, law):
    """``law.logpdf`` as an array of shape (n,) for every n (scipy returns a scalar for one row)."""
    X = check_array(X, dtype=np.float64)
    return np.atleast_1d(law.logpdf(X)).reshape(X.shape[0])


class GaussianSet(NamedTuple):
    """A named correlated-Gaussian set of :func:`~sklearn_diffgen.datasets.load_split`."""

    n_features: int
    description: str


#: The Gaussian sets by name.
GAUSSIANS = {
    "gaussian5": GaussianSet(5, "Correlated Gaussian in 5-D from make_correlated_gaussian; exact logpdf."),
    "gaussian20": GaussianSet(20, "Correlated Gaussian in 20-D from make_correlated_gaussian; exact logpdf."),
}
