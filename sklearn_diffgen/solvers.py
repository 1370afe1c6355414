r"""Solvers of the probability-flow ODE in denoiser form, held in a registry by name.

For :math:`z_t = a(t)\,x + b(t)\,\epsilon` the probability-flow ODE, written with the
denoiser :math:`D(z, t) = E[x \mid z_t = z]` (so that the score is :math:`(a D - z)/b^2`), is

.. math::

    \frac{dz}{dt} = a'(t)\, D(z, t) + \frac{b'(t)}{b(t)}\,\big(z - a(t)\, D(z, t)\big).

This form has no singularity where :math:`a(t) = 0`. In the variables :math:`y = z / a`,
:math:`\sigma = b / a` it is :math:`dy/d\sigma = (y - D)/\sigma`, linear in y, which the
exponential integrators below solve exactly for frozen D.

Every solver has the signature ``solver(denoiser, z, ts, schedule, callback=None)``:
``denoiser(z, t)`` returns D, ``ts`` is a decreasing grid from :func:`~sklearn_diffgen.schedules.time_grid`,
and ``callback(i, t, z)`` is called after each step. It returns z at ``ts[-1]``.

:func:`gaussian_flow` is the exact map for Gaussian data. At large b/a every distribution
diffuses towards the Gaussian with its mean and covariance, so a solver registered with
``gaussian_start`` takes its first interval (from t = 1, where :math:`b/a \ge 100`, down to
:data:`~sklearn_diffgen.schedules.GAUSSIAN_SIGMA_MAX`) by that map at no denoiser cost,
and spends its steps where the data's shape matters.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import torch
from torch import Tensor

from .schedules import LinearSchedule

__all__ = [
    "euler",
    "heun",
    "ddim",
    "dpmpp_2m",
    "dpmpp_3m",
    "gaussian_flow",
    "gaussian_start",
    "SOLVERS",
    "Solver",
]

Denoiser = Callable[[Tensor, float], Tensor]


def _velocity(denoiser: Denoiser, z: Tensor, t: float, s: LinearSchedule) -> Tensor:
    d = denoiser(z, t)
    return s.d_alpha(t) * d + s.d_log_sigma(t) * (z - s.alpha(t) * d)


def euler(denoiser: Denoiser, z: Tensor, ts: Tensor, schedule: LinearSchedule, callback=None):
    r"""Explicit Euler in t, the paper's solver: :math:`z \leftarrow z + (t_{i+1} - t_i)\, v(z, t_i)`.

    First order; one denoiser call per step.

    Examples
    --------
    >>> import torch
    >>> from sklearn_diffgen.schedules import SCHEDULES, time_grid
    >>> s = SCHEDULES["paper"]
    >>> ts = time_grid(s, 0.01, 500, "uniform")
    >>> z = euler(lambda z, t: torch.zeros_like(z), torch.ones(1, 1, dtype=torch.float64), ts, s)
    >>> round(float(z), 2)  # D = 0: exact map z -> b(t_end) z = 0.1
    0.1
    """
    t = ts.tolist()
    for i in range(len(t) - 1):
        z = z + (t[i + 1] - t[i]) * _velocity(denoiser, z, t[i], schedule)
        if callback is not None:
            callback(i, t[i + 1], z)
    return z


def heun(denoiser: Denoiser, z: Tensor, ts: Tensor, schedule: LinearSchedule, callback=None):
    """Heun's method (explicit trapezoid) in t: second order, two denoiser calls per step.

    Examples
    --------
    >>> import torch
    >>> from sklearn_diffgen.schedules import SCHEDULES, time_grid
    >>> s = SCHEDULES["paper"]
    >>> z = heun(lambda z, t: torch.zeros_like(z), torch.ones(1, 1, dtype=torch.float64),
    ...          time_grid(s, 0.01, 50), s)
    >>> round(float(z), 4)  # D = 0: exact map z -> b(t_end) z = 0.1
    0.1
    """
    t = ts.tolist()
    for i in range(len(t) - 1):
        h = t[i + 1] - t[i]
        v0 = _velocity(denoiser, z, t[i], schedule)
        v1 = _velocity(denoiser, z + h * v0, t[i + 1], schedule)
        z = z + 0.5 * h * (v0 + v1)
        if callback is not None:
            callback(i, t[i + 1], z)
    return z


def _ddim_step(z: Tensor, d: Tensor, s: LinearSchedule, t: float, t_next: float) -> Tensor:
    b, b_next = s.sigma(t), s.sigma(t_next)
    return s.alpha(t_next) * d + (b_next / b) * (z - s.alpha(t) * d)


def ddim(denoiser: Denoiser, z: Tensor, ts: Tensor, schedule: LinearSchedule, callback=None):
    r"""First-order exponential integrator (DDIM): exact for a denoiser frozen over the step.

    .. math:: z_{i+1} = a_{i+1} D_i + \frac{b_{i+1}}{b_i}\,(z_i - a_i D_i).

    References
    ----------
    J. Song, C. Meng, S. Ermon. Denoising diffusion implicit models. ICLR 2021.
    https://arxiv.org/abs/2010.02502

    Examples
    --------
    >>> import torch
    >>> from sklearn_diffgen.schedules import SCHEDULES, time_grid
    >>> s = SCHEDULES["paper"]
    >>> x0 = torch.tensor([[2.0]], dtype=torch.float64)  # one data point: D = x0, exact
    >>> z = ddim(lambda z, t: x0.expand_as(z), torch.zeros(1, 1, dtype=torch.float64),
    ...          time_grid(s, 0.01, 3), s)
    >>> round(float(z), 12)  # a(t_end) x0 = 0.99 * 2
    1.98
    """
    t = ts.tolist()
    for i in range(len(t) - 1):
        z = _ddim_step(z, denoiser(z, t[i]), schedule, t[i], t[i + 1])
        if callback is not None:
            callback(i, t[i + 1], z)
    return z


def _log_snr(s: LinearSchedule, t: float) -> float:
    a = s.alpha(t)
    return math.log(a / s.sigma(t)) if a > 0 else -math.inf


def dpmpp_2m(denoiser: Denoiser, z: Tensor, ts: Tensor, schedule: LinearSchedule, callback=None):
    r"""Second-order multistep exponential integrator in data-prediction form (DPM-Solver++(2M)).

    With :math:`\lambda = \log(a/b)` and :math:`h_i = \lambda_{i+1} - \lambda_i`,

    .. math::

        z_{i+1} = \frac{b_{i+1}}{b_i} z_i + a_{i+1} (1 - e^{-h_i})\,\hat D_i, \qquad
        \hat D_i = \Big(1 + \frac{h_i}{2 h_{i-1}}\Big) D_i - \frac{h_i}{2 h_{i-1}} D_{i-1},

    one denoiser call per step; the first step (and any after an infinite :math:`h`) is DDIM.

    References
    ----------
    C. Lu, Y. Zhou, F. Bao, J. Chen, C. Li, J. Zhu. DPM-Solver++: fast solver for guided
    sampling of diffusion probabilistic models. 2022. https://arxiv.org/abs/2211.01095

    Examples
    --------
    >>> import torch
    >>> from sklearn_diffgen.schedules import SCHEDULES, time_grid
    >>> s = SCHEDULES["paper"]
    >>> z = dpmpp_2m(lambda z, t: 0.5 * z, torch.ones(1, 1, dtype=torch.float64),
    ...              time_grid(s, 0.01, 20), s)
    >>> z.shape
    torch.Size([1, 1])
    """
    t = ts.tolist()
    d_prev, h_prev = None, math.inf
    for i in range(len(t) - 1):
        d = denoiser(z, t[i])
        h = _log_snr(schedule, t[i + 1]) - _log_snr(schedule, t[i])
        d_hat = d
        if d_prev is not None and math.isfinite(h_prev):
            c = h / (2.0 * h_prev)
            d_hat = (1.0 + c) * d - c * d_prev
        z = _ddim_step(z, d_hat, schedule, t[i], t[i + 1])
        d_prev, h_prev = d, h
        if callback is not None:
            callback(i, t[i + 1], z)
    return z


def dpmpp_3m(
    denoiser: Denoiser, z: Tensor, ts: Tensor, schedule: LinearSchedule, callback=None, history=None
):
    r"""Third-order multistep exponential integrator in data-prediction form (DPM-Solver++(3M)).

    With :math:`\lambda = \log(a/b)`, :math:`h = \lambda_{i+1} - \lambda_i`, the step sizes
    ratios :math:`r_0 = h_{i-1}/h`, :math:`r_1 = h_{i-2}/h` and the divided differences of the
    last three denoiser values

    .. math::

        \Delta_0 = \frac{D_i - D_{i-1}}{r_0}, \quad \Delta_1 = \frac{D_{i-1} - D_{i-2}}{r_1},
        \quad D' = \Delta_0 + \frac{r_0 (\Delta_0 - \Delta_1)}{r_0 + r_1},
        \quad D'' = \frac{\Delta_0 - \Delta_1}{r_0 + r_1},

    so that :math:`D(\lambda_i + \tau) \approx D_i + (\tau/h) D' + (\tau/h)^2 D''`, the step
    integrates that quadratic exactly:

    .. math::

        z_{i+1} = \frac{b_{i+1}}{b_i} z_i + a_{i+1} \big[(1 - e^{-h}) D_i + \varphi_2 D'
                  + \varphi_3 D''\big], \quad \varphi_2 = \frac{e^{-h} - 1}{h} + 1, \quad
        \varphi_3 = 1 - 2\,\frac{e^{-h} - 1 + h}{h^2}.

    The reference implementations (``dpm-solver``, ``diffusers``, ``k-diffusion``) weigh
    :math:`D''` by :math:`\varphi_3 / 2`; with it the observed order on the Gaussian problem
    falls to 2 (``tests/test_solvers.py``), with this weight it is 3.

    One denoiser call per step. The first step (and any after an infinite :math:`h`) is DDIM
    and the second is second order (:func:`dpmpp_2m`), while the history fills; a lower-order
    start costs an :math:`O(h^2)` error unless ``history`` supplies earlier values, as
    :func:`gaussian_start` does.

    ``history``, optional, is a list of up to two ``(D, lambda)`` pairs at earlier log-SNRs
    of the same trajectories, oldest first.

    References
    ----------
    C. Lu, Y. Zhou, F. Bao, J. Chen, C. Li, J. Zhu. DPM-Solver++: fast solver for guided
    sampling of diffusion probabilistic models. 2022. https://arxiv.org/abs/2211.01095

    Examples
    --------
    >>> import torch
    >>> from sklearn_diffgen.schedules import SCHEDULES, time_grid
    >>> s = SCHEDULES["paper"]
    >>> x0 = torch.tensor([[2.0]], dtype=torch.float64)  # one data point: D = x0, exact
    >>> z = dpmpp_3m(lambda z, t: x0.expand_as(z), torch.zeros(1, 1, dtype=torch.float64),
    ...              time_grid(s, 0.01, 6), s)
    >>> round(float(z), 12)  # a(t_end) x0 = 0.99 * 2
    1.98
    """
    t = ts.tolist()
    hist: list[tuple[Tensor, float]] = list(history or [])[-2:]  # (D, lambda), finite lambdas
    for i in range(len(t) - 1):
        d = denoiser(z, t[i])
        lam, lam_next = _log_snr(schedule, t[i]), _log_snr(schedule, t[i + 1])
        h = lam_next - lam
        hist = (hist + [(d, lam)])[-3:] if math.isfinite(lam) else []
        if len(hist) < 2:
            z = _ddim_step(z, d, schedule, t[i], t[i + 1])
        else:
            a_next = schedule.alpha(t[i + 1])
            em = math.expm1(-h)  # e^{-h} - 1
            z = (schedule.sigma(t[i + 1]) / schedule.sigma(t[i])) * z - a_next * em * d
            r0 = (lam - hist[-2][1]) / h
            delta0 = (d - hist[-2][0]) / r0
            if len(hist) == 2:  # DPM-Solver++(2M), as dpmpp_2m
                z = z - 0.5 * a_next * em * delta0
            else:
                r1 = (hist[-2][1] - hist[-3][1]) / h
                delta1 = (hist[-2][0] - hist[-3][0]) / r1
                d2 = (delta0 - delta1) / (r0 + r1)
                d1 = delta0 + r0 * d2
                z = z + a_next * (em / h + 1.0) * d1 + a_next * (1.0 - 2.0 * (em + h) / (h * h)) * d2
        if callback is not None:
            callback(i, t[i + 1], z)
    return z


def gaussian_flow(
    z: Tensor, mean: Tensor, cov: Tensor, schedule: LinearSchedule, t0: float, t1: float
) -> Tensor:
    r"""Exact probability-flow map from t0 to t1 when the data are :math:`N(\mu, \Sigma)`.

    With :math:`\Sigma = V \operatorname{diag}(\ell) V^\top`, the diffused law at t is
    :math:`N(a \mu, a^2 \Sigma + b^2 I)`, and the flow moves each eigen-coordinate linearly:

    .. math::

        z_{t_1} = a_1 \mu + V \operatorname{diag}\Big(\sqrt{\frac{a_1^2 \ell + b_1^2}
                  {a_0^2 \ell + b_0^2}}\Big) V^\top (z_{t_0} - a_0 \mu).

    For other data it is the flow of their Gaussian approximation, accurate when
    :math:`b/a` is large over the interval against the data's spread: the skewness and
    higher cumulants enter the score at relative order :math:`(a/b)^{3}` and beyond.

    Examples
    --------
    >>> from sklearn_diffgen.schedules import SCHEDULES
    >>> s = SCHEDULES["paper"]
    >>> mean, cov = torch.zeros(1, dtype=torch.float64), torch.eye(1, dtype=torch.float64)
    >>> gaussian_flow(torch.ones(1, 1, dtype=torch.float64), mean, cov, s, 1.0, 0.5)  # N(0, 1) stays put
    tensor([[1.]], dtype=torch.float64)
    """
    lam, vec = torch.linalg.eigh(cov.to(torch.float64))
    a0, b0, a1, b1 = schedule.alpha(t0), schedule.sigma(t0), schedule.alpha(t1), schedule.sigma(t1)
    gain = torch.sqrt((a1 * a1 * lam + b1 * b1) / (a0 * a0 * lam + b0 * b0))
    mean = mean.to(torch.float64)
    out = a1 * mean + (((z.to(torch.float64) - a0 * mean) @ vec) * gain) @ vec.T
    return out.to(z.dtype)


def gaussian_start(z: Tensor, x_mean: Tensor, x_cov: Tensor, schedule: LinearSchedule, ts: Tensor):
    r"""Take the first interval of ``ts`` by :func:`gaussian_flow`, and make a solver history.

    Returns z at ``ts[1]`` and, when ``ts`` has a step after that, the Gaussian denoiser

    .. math:: D(y) = \mu + \Sigma (\Sigma + \sigma^2 I)^{-1} (y - \mu), \qquad y = z / a,

    at the two log-SNRs :math:`\lambda_1 - h` and :math:`\lambda_1 - 2h` before ``ts[1]``
    (:math:`h` the first remaining step) along the same Gaussian flow, which in
    :math:`(y, \sigma = b/a)` does not depend on the schedule. Passed as ``history`` to
    :func:`dpmpp_3m`, they let it take third-order steps from the start: the Gaussian
    values are exact for Gaussian data and off by a relative :math:`O(\sigma^{-3})` for
    others, where :math:`\sigma \ge` :data:`~sklearn_diffgen.schedules.GAUSSIAN_SIGMA_MAX`.

    Examples
    --------
    >>> from sklearn_diffgen.schedules import SCHEDULES, time_grid
    >>> s = SCHEDULES["paper"]
    >>> ts = time_grid(s, 0.01, 5, "logsnr_end")
    >>> mean, cov = torch.zeros(2, dtype=torch.float64), torch.eye(2, dtype=torch.float64)
    >>> z, hist = gaussian_start(torch.ones(3, 2, dtype=torch.float64), mean, cov, s, ts)
    >>> z.shape, len(hist), [round(lam, 3) for _, lam in hist] < [_log_snr(s, float(ts[1]))] * 2
    (torch.Size([3, 2]), 2, True)
    """
    t0, t1 = float(ts[0]), float(ts[1])
    z1 = gaussian_flow(z, x_mean, x_cov, schedule, t0, t1)
    if len(ts) < 3:
        return z1, []
    lam1 = _log_snr(schedule, t1)
    h = _log_snr(schedule, float(ts[2])) - lam1
    ell, vec = torch.linalg.eigh(x_cov.to(torch.float64))
    mean = x_mean.to(torch.float64)
    u = ((z1.to(torch.float64) / schedule.alpha(t1) - mean) @ vec)  # y - mu in the eigenbasis
    s1 = schedule.ratio(t1) ** 2
    history = []
    for j in (2, 1):
        s2 = math.exp(-2.0 * (lam1 - j * h))  # sigma^2 at the earlier log-SNR
        uj = u * torch.sqrt((ell + s2) / (ell + s1))
        history.append(((mean + (uj * (ell / (ell + s2))) @ vec.T).to(z.dtype), lam1 - j * h))
    return z1, history


class Solver(NamedTuple):
    """A registry entry: the stepping function, its default grid and denoiser calls per step.

    ``gaussian_start`` says that the labeller takes the grid's first interval by
    :func:`gaussian_start` on the data's mean and covariance instead of a solver step, and
    passes the history it returns to ``fn``.

    Examples
    --------
    >>> SOLVERS["dpmpp_2m"].spacing, SOLVERS["heun"].evals_per_step, SOLVERS["dpmpp_3m"].gaussian_start
    ('logsnr', 2, True)
    """

    fn: Callable
    spacing: str
    evals_per_step: int
    gaussian_start: bool = False


#: Solvers by name, for the estimator's ``solver`` parameter.
SOLVERS: dict[str, Solver] = {
    "euler": Solver(euler, "uniform", 1),
    "heun": Solver(heun, "logsnr", 2),
    "ddim": Solver(ddim, "logsnr", 1),
    "dpmpp_2m": Solver(dpmpp_2m, "logsnr", 1),
    "dpmpp_3m": Solver(dpmpp_3m, "logsnr_end", 1, gaussian_start=True),
}
