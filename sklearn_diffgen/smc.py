r"""Importance sampling and tempered sequential Monte Carlo for a density known up to a constant.

Plain numpy functions over rows and their log-densities; :class:`~sklearn_diffgen.
DiffusionSupervisedSampler` calls them with its target's ``log_prob``.

* :func:`importance_estimate` -- :math:`\log \hat Z`, its standard error and the effective
  sample size from importance log-weights.
* :func:`next_temperature` -- the next inverse temperature of an adaptive ladder.
* :func:`tempered_smc` -- particles carried from a Gaussian :math:`q_0` to the target along
  :math:`\pi_\beta \propto q_0^{1-\beta} p^\beta` (reweight, resample, Metropolis moves), with
  the unbiased estimate of :math:`Z` that the reweighting steps multiply up.

References
----------
P. Del Moral, A. Doucet, A. Jasra. Sequential Monte Carlo samplers. JRSS B 68(3), 2006.
N. Chopin, O. Papaspiliopoulos. An introduction to sequential Monte Carlo. Springer, 2020
(adaptive tempering, ch. 17).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

__all__ = ["MAX_STEPS", "importance_estimate", "next_temperature", "tempered_smc"]


def importance_estimate(log_w: np.ndarray) -> tuple[float, float, float]:
    r""":math:`\log \hat Z`, its standard error and Kish's effective sample size, from log-weights.

    With :math:`w_n = p(x_n) / q(x_n)` for :math:`x_n \sim q`, :math:`\hat Z = \bar w`; the
    standard error of :math:`\log \hat Z` is :math:`\mathrm{sd}(w) / (\sqrt M\, \bar w)` (delta
    method), and the effective sample size :math:`(\sum w)^2 / \sum w^2`.

    Examples
    --------
    >>> log_z, se, ess = importance_estimate(np.log([1.0, 1.0, 1.0, 1.0]))
    >>> round(log_z, 12), se, ess
    (0.0, 0.0, 4.0)
    """
    log_w = np.asarray(log_w, dtype=np.float64)
    top = float(log_w.max())
    w = np.exp(log_w - top)
    m = w.size
    log_z = top + math.log(w.mean())
    se = float(w.std(ddof=1) / (math.sqrt(m) * w.mean())) if m > 1 else math.inf
    return log_z, se, float(w.sum() ** 2 / (w * w).sum())


def next_temperature(log_p: np.ndarray, log_q0: np.ndarray, log_q: np.ndarray, beta: float,
                     min_ess: float) -> float:
    r"""The largest :math:`\beta' \in [\beta, 1]` whose tempered weights keep an effective size.

    The weights of rows :math:`x_n \sim q` for :math:`\pi_{\beta'} \propto q_0^{1-\beta'}
    p^{\beta'}` are :math:`\log w_n = (1-\beta') \log q_0 + \beta' \log p - \log q`. The answer
    is 1 when those weights keep Kish's effective size at ``min_ess`` of the rows or more;
    otherwise the :math:`\beta'` at which it equals the larger of ``min_ess`` of the rows and
    half the effective size at :math:`\beta`, by bisection. It is :math:`\beta` itself when no
    larger value keeps that size (rows of almost zero weight at every temperature).

    Examples
    --------
    >>> x = np.random.RandomState(0).normal(size=4000)  # rows of q = q0 = N(0, 1)
    >>> log_q = -0.5 * x**2
    >>> next_temperature(-0.5 * (x / 0.5) ** 2, log_q, log_q, 0.0, 0.01)  # p = N(0, 0.5^2): near enough
    1.0
    >>> b = next_temperature(-0.5 * ((x - 6) / 0.1) ** 2, log_q, log_q, 0.0, 0.5)  # far and narrow
    >>> 0 < b < 0.05
    True
    """
    def ess(b):
        return importance_estimate((1 - b) * log_q0 + b * log_p - log_q)[2]

    m = len(log_p)
    if ess(1.0) >= min_ess * m:
        return 1.0
    goal = max(min_ess * m, 0.5 * ess(beta))
    lo, hi = beta, 1.0
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ess(mid) >= goal else (lo, mid)
    return lo


def _systematic_resample(log_w: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """Indices of a systematic resampling of the rows by their weights."""
    w = np.exp(log_w - log_w.max())
    cum = np.cumsum(w)
    return np.minimum(np.searchsorted(cum / cum[-1], (rng.uniform() + np.arange(len(w))) / len(w)), len(w) - 1)


#: Bound on the steps of a tempering ladder.
MAX_STEPS = 1000


def tempered_smc(log_prob: Callable[[np.ndarray], np.ndarray], log_q0: Callable[[np.ndarray], np.ndarray],
                 x: np.ndarray, log_p: np.ndarray, rng: np.random.RandomState, *,
                 n_moves: int = 10) -> tuple[np.ndarray, float, float, list[float]]:
    r"""Carry rows of :math:`q_0` to the target by adaptive tempering, resampling and Metropolis moves.

    At each step the next :math:`\beta'` keeps half the rows' effective size
    (:func:`next_temperature`); the rows are reweighted by
    :math:`(q_0^{-1} p)^{\beta' - \beta}`, whose mean multiplies :math:`\hat Z`, resampled
    (systematic), and moved by ``n_moves`` random-walk Metropolis steps that leave
    :math:`\pi_{\beta'}` invariant. The steps are Gaussian with the rows' covariance times
    :math:`\lambda^2`, :math:`\lambda` starting at :math:`2.38 / \sqrt d` and adapted towards
    an acceptance rate of 0.234. The moves need no gradient of ``log_prob``.

    Parameters
    ----------
    log_prob : callable
        Unnormalised target log-density of an (m, d) array; -inf is allowed.
    log_q0 : callable
        Normalised log-density of the distribution the rows are drawn from.
    x : ndarray of shape (m, d)
        Rows drawn from :math:`q_0`.
    log_p : ndarray of shape (m,)
        ``log_prob(x)``, already evaluated.
    rng : numpy.random.RandomState
        Draws the resampling and the moves.
    n_moves : int, default=10
        Metropolis steps after each reweighting.

    Returns
    -------
    x : ndarray of shape (m, d)
        Equally weighted rows, approximately from the target.
    log_z : float
        :math:`\log \hat Z`, the sum of the steps' log mean weights.
    log_z_se : float
        The steps' delta-method errors added in quadrature: a lower bound on the standard
        error, not an estimate of it. It leaves out the correlation that resampling and the
        moves bring, which can make the real error several times larger.
    betas : list of float
        The ladder, ending at 1.

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> def log_prob(x):  # N(8, 0.5^2) in 2-D, unnormalised: log Z = log(2 pi 0.25)
    ...     return -0.5 * (((x - 8.0) / 0.5) ** 2).sum(axis=1)
    >>> def log_q0(x):
    ...     return -0.5 * (x * x).sum(axis=1) - math.log(2 * math.pi)
    >>> x0 = rng.standard_normal((4000, 2))
    >>> x, log_z, se, betas = tempered_smc(log_prob, log_q0, x0, log_prob(x0), rng)
    >>> bool(np.allclose(x.mean(axis=0), 8.0, atol=0.05)), abs(log_z - math.log(0.5 * math.pi)) < 0.1
    (True, True)

    Raises
    ------
    ValueError
        When the ladder cannot move on (most rows have almost zero weight at every larger
        temperature, as with a finite penalty of -1e300 instead of -inf), or takes more than
        :data:`MAX_STEPS` steps.
    """
    m, d = x.shape
    lq0 = log_q0(x)
    beta, log_z, var, betas = 0.0, 0.0, 0.0, []
    scale = 2.38 / math.sqrt(d)
    while beta < 1.0:
        keep = np.isfinite(log_p)
        new = next_temperature(log_p[keep], lq0[keep], (1 - beta) * lq0[keep] + beta * log_p[keep], beta, 0.5)
        if new <= beta or len(betas) == MAX_STEPS:
            raise ValueError(f"tempering cannot reach the target: stuck at beta = {beta:.3g} after {len(betas)} "
                             f"steps (most rows keep almost no weight at a higher temperature; give rows "
                             f"outside the target's support log_prob = -inf, or widen initial_scale)")
        inc = np.where(keep, (new - beta) * (log_p - lq0), -np.inf)
        step_z, step_se, _ = importance_estimate(inc)
        log_z, var, beta = log_z + step_z, var + step_se**2, new
        betas.append(beta)
        idx = _systematic_resample(inc, rng)
        x, log_p, lq0 = x[idx], log_p[idx], lq0[idx]
        chol = np.linalg.cholesky(np.cov(x, rowvar=False).reshape(d, d) + 1e-10 * np.eye(d))
        for _ in range(n_moves):
            prop = x + scale * rng.standard_normal((m, d)) @ chol.T
            lp_prop, lq_prop = log_prob(prop), log_q0(prop)
            log_ratio = ((1 - beta) * lq_prop + beta * lp_prop) - ((1 - beta) * lq0 + beta * log_p)
            accept = np.log(rng.uniform(size=m)) < np.where(np.isfinite(lp_prop), log_ratio, -np.inf)
            x = np.where(accept[:, None], prop, x)
            log_p, lq0 = np.where(accept, lp_prop, log_p), np.where(accept, lq_prop, lq0)
            scale *= math.exp(float(accept.mean()) - 0.234)
    return x, log_z, math.sqrt(var), betas
