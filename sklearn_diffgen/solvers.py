r"""Solvers of the probability-flow ODE in denoiser form: one step signature, a registry, one driver.

For :math:`z_t = a(t)\,x + b(t)\,\epsilon` the probability-flow ODE, written with the
denoiser :math:`D(z, t) = E[x \mid z_t = z]` (so that the score is :math:`(a D - z)/b^2`), is

.. math::

    \frac{dz}{dt} = a'(t)\, D(z, t) + \frac{b'(t)}{b(t)}\,\big(z - a(t)\, D(z, t)\big).

This form has no singularity where :math:`a(t) = 0`. In the variables :math:`y = z / a`,
:math:`\sigma = b / a` it is :math:`dy/d\sigma = (y - D)/\sigma`, linear in y, which the
exponential integrators below solve exactly for frozen D.

Every solver is a step with the signature ``step(denoiser, z, t, t_next, schedule, history)``:
``denoiser(z, t)`` returns D, and ``history`` is a list of ``(D, lambda)`` pairs at earlier
finite log-SNRs :math:`\lambda = \log(a/b)` of the same trajectories, which multistep solvers
read and extend (the others leave it alone). :data:`SOLVERS` registers each step with its
grid, its denoiser calls per step and its order; :func:`integrate` runs a step over a grid,
and :func:`solve` builds the grid and takes the Gaussian start.

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

from .schedules import LinearSchedule, time_grid

__all__ = ["euler", "heun", "ddim", "dpmpp_2m", "dpmpp_3m", "gaussian_flow", "gaussian_start",
           "integrate", "solve", "SOLVERS", "Solver"]

Denoiser = Callable[[Tensor, float], Tensor]
History = list  # of (D, lambda) pairs, oldest first


def _velocity(denoiser: Denoiser, z: Tensor, t: float, s: LinearSchedule) -> Tensor:
    d = denoiser(z, t)
    return s.d_alpha(t) * d + s.d_log_sigma(t) * (z - s.alpha(t) * d)


def _log_snr(s: LinearSchedule, t: float) -> float:
    a = s.alpha(t)
    return math.log(a / s.sigma(t)) if a > 0 else -math.inf


def _ddim_update(z: Tensor, d: Tensor, s: LinearSchedule, t: float, t_next: float) -> Tensor:
    return s.alpha(t_next) * d + (s.sigma(t_next) / s.sigma(t)) * (z - s.alpha(t) * d)


def _record(history: History, d: Tensor, lam: float, keep: int) -> None:
    """Append (D, lambda) and keep the last ``keep``; an infinite lambda clears the history."""
    if math.isfinite(lam):
        history.append((d, lam))
        del history[:-keep]
    else:
        history.clear()


# ------------------------------------------------------------------------------ steps
def euler(denoiser: Denoiser, z: Tensor, t: float, t_next: float, schedule: LinearSchedule,
          history: History) -> Tensor:
    r"""Explicit Euler in t, the paper's solver: :math:`z \leftarrow z + (t_{i+1} - t_i)\, v(z, t_i)`.

    First order; one denoiser call per step.

    Examples
    --------
    >>> from sklearn_diffgen.schedules import SCHEDULES, time_grid
    >>> s = SCHEDULES["paper"]
    >>> z = integrate("euler", lambda z, t: torch.zeros_like(z), torch.ones(1, 1, dtype=torch.float64),
    ...               time_grid(s, 0.01, 500, "uniform"), s)
    >>> round(float(z), 2)  # D = 0: exact map z -> b(t_end) z = 0.1
    0.1
    """
    return z + (t_next - t) * _velocity(denoiser, z, t, schedule)


def heun(denoiser: Denoiser, z: Tensor, t: float, t_next: float, schedule: LinearSchedule,
         history: History) -> Tensor:
    """Heun's method (explicit trapezoid) in t: second order, two denoiser calls per step.

    Examples
    --------
    >>> from sklearn_diffgen.schedules import SCHEDULES, time_grid
    >>> s = SCHEDULES["paper"]
    >>> z = integrate("heun", lambda z, t: torch.zeros_like(z), torch.ones(1, 1, dtype=torch.float64),
    ...               time_grid(s, 0.01, 50), s)
    >>> round(float(z), 4)  # D = 0: exact map z -> b(t_end) z = 0.1
    0.1
    """
    h = t_next - t
    v0 = _velocity(denoiser, z, t, schedule)
    v1 = _velocity(denoiser, z + h * v0, t_next, schedule)
    return z + 0.5 * h * (v0 + v1)


def ddim(denoiser: Denoiser, z: Tensor, t: float, t_next: float, schedule: LinearSchedule,
         history: History) -> Tensor:
    r"""First-order exponential integrator (DDIM): exact for a denoiser frozen over the step.

    .. math:: z_{i+1} = a_{i+1} D_i + \frac{b_{i+1}}{b_i}\,(z_i - a_i D_i).

    References
    ----------
    J. Song, C. Meng, S. Ermon. Denoising diffusion implicit models. ICLR 2021.
    https://arxiv.org/abs/2010.02502

    Examples
    --------
    >>> from sklearn_diffgen.schedules import SCHEDULES, time_grid
    >>> s = SCHEDULES["paper"]
    >>> x0 = torch.tensor([[2.0]], dtype=torch.float64)  # one data point: D = x0, exact
    >>> z = integrate("ddim", lambda z, t: x0.expand_as(z), torch.zeros(1, 1, dtype=torch.float64),
    ...               time_grid(s, 0.01, 3), s)
    >>> round(float(z), 12)  # a(t_end) x0 = 0.99 * 2
    1.98
    """
    return _ddim_update(z, denoiser(z, t), schedule, t, t_next)


def dpmpp_2m(denoiser: Denoiser, z: Tensor, t: float, t_next: float, schedule: LinearSchedule,
             history: History) -> Tensor:
    r"""Second-order multistep exponential integrator in data-prediction form (DPM-Solver++(2M)).

    With :math:`\lambda = \log(a/b)` and :math:`h_i = \lambda_{i+1} - \lambda_i`,

    .. math::

        z_{i+1} = \frac{b_{i+1}}{b_i} z_i + a_{i+1} (1 - e^{-h_i})\,\hat D_i, \qquad
        \hat D_i = \Big(1 + \frac{h_i}{2 h_{i-1}}\Big) D_i - \frac{h_i}{2 h_{i-1}} D_{i-1},

    one denoiser call per step; without a previous value (the first step, or after an
    infinite :math:`\lambda`) the step is DDIM.

    References
    ----------
    C. Lu, Y. Zhou, F. Bao, J. Chen, C. Li, J. Zhu. DPM-Solver++: fast solver for guided
    sampling of diffusion probabilistic models. 2022. https://arxiv.org/abs/2211.01095

    Examples
    --------
    >>> from sklearn_diffgen.schedules import SCHEDULES, time_grid
    >>> s = SCHEDULES["paper"]
    >>> integrate("dpmpp_2m", lambda z, t: 0.5 * z, torch.ones(1, 1, dtype=torch.float64),
    ...           time_grid(s, 0.01, 20), s).shape
    torch.Size([1, 1])
    """
    d = denoiser(z, t)
    lam = _log_snr(schedule, t)
    d_hat = d
    if history and math.isfinite(lam):
        d_prev, lam_prev = history[-1]
        c = (_log_snr(schedule, t_next) - lam) / (2.0 * (lam - lam_prev))
        d_hat = (1.0 + c) * d - c * d_prev
    _record(history, d, lam, keep=1)
    return _ddim_update(z, d_hat, schedule, t, t_next)


def dpmpp_3m(denoiser: Denoiser, z: Tensor, t: float, t_next: float, schedule: LinearSchedule,
             history: History) -> Tensor:
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

    One denoiser call per step. While the history holds fewer than two earlier values the
    step is DDIM, then second order (:func:`dpmpp_2m`); a lower-order start costs an
    :math:`O(h^2)` error unless the history is filled beforehand, as :func:`gaussian_start`
    does.

    References
    ----------
    C. Lu, Y. Zhou, F. Bao, J. Chen, C. Li, J. Zhu. DPM-Solver++: fast solver for guided
    sampling of diffusion probabilistic models. 2022. https://arxiv.org/abs/2211.01095

    Examples
    --------
    >>> from sklearn_diffgen.schedules import SCHEDULES, time_grid
    >>> s = SCHEDULES["paper"]
    >>> x0 = torch.tensor([[2.0]], dtype=torch.float64)  # one data point: D = x0, exact
    >>> z = integrate("dpmpp_3m", lambda z, t: x0.expand_as(z), torch.zeros(1, 1, dtype=torch.float64),
    ...               time_grid(s, 0.01, 6), s)
    >>> round(float(z), 12)  # a(t_end) x0 = 0.99 * 2
    1.98
    """
    d = denoiser(z, t)
    lam, lam_next = _log_snr(schedule, t), _log_snr(schedule, t_next)
    h = lam_next - lam
    _record(history, d, lam, keep=3)
    if len(history) < 2:
        return _ddim_update(z, d, schedule, t, t_next)
    a_next = schedule.alpha(t_next)
    em = math.expm1(-h)  # e^{-h} - 1
    z = (schedule.sigma(t_next) / schedule.sigma(t)) * z - a_next * em * d
    r0 = (lam - history[-2][1]) / h
    delta0 = (d - history[-2][0]) / r0
    if len(history) == 2:  # DPM-Solver++(2M), as dpmpp_2m
        return z - 0.5 * a_next * em * delta0
    r1 = (history[-2][1] - history[-3][1]) / h
    delta1 = (history[-2][0] - history[-3][0]) / r1
    d2 = (delta0 - delta1) / (r0 + r1)
    d1 = delta0 + r0 * d2
    return z + a_next * (em / h + 1.0) * d1 + a_next * (1.0 - 2.0 * (em + h) / (h * h)) * d2


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
    """A registry entry: the step, its default grid, denoiser calls per step and its order.

    ``gaussian_start`` says that :func:`solve` takes the grid's first interval by
    :func:`gaussian_start` on the data's moments instead of a step, and hands the history it
    returns to the step. ``order`` is the convergence order observed on Gaussian data
    (``tests/test_solvers.py``).

    Examples
    --------
    >>> SOLVERS["dpmpp_2m"].spacing, SOLVERS["heun"].evals_per_step, SOLVERS["dpmpp_3m"].order
    ('logsnr', 2, 3)
    """

    step: Callable
    spacing: str
    evals_per_step: int
    order: int
    gaussian_start: bool = False


#: Solvers by name, for the estimator's ``solver`` parameter.
SOLVERS: dict[str, Solver] = {
    "euler": Solver(euler, "uniform", 1, 1),
    "heun": Solver(heun, "logsnr", 2, 2),
    "ddim": Solver(ddim, "logsnr", 1, 1),
    "dpmpp_2m": Solver(dpmpp_2m, "logsnr", 1, 2),
    "dpmpp_3m": Solver(dpmpp_3m, "logsnr_end", 1, 3, gaussian_start=True),
}


def integrate(solver: str, denoiser: Denoiser, z: Tensor, ts: Tensor, schedule: LinearSchedule, *,
              history: History | None = None, callback=None) -> Tensor:
    """Run the registered step of ``solver`` over the decreasing grid ``ts``; z at ``ts[-1]``.

    ``history`` seeds the multistep solvers (see the module docstring); ``callback(i, t, z)``
    is called after each step.
    """
    step = SOLVERS[solver].step
    history = list(history or [])
    t = ts.tolist()
    for i in range(len(t) - 1):
        z = step(denoiser, z, t[i], t[i + 1], schedule, history)
        if callback is not None:
            callback(i, t[i + 1], z)
    return z


def solve(solver: str, denoiser: Denoiser, z: Tensor, schedule: LinearSchedule, t_end: float,
          n_steps: int, *, moments: tuple[Tensor, Tensor] | None = None, callback=None) -> Tensor:
    r"""Carry z from t = 1 to ``t_end`` in ``n_steps`` intervals of the solver's own grid.

    A solver registered with ``gaussian_start`` takes the first interval by
    :func:`gaussian_start` on ``moments`` (the data's mean and covariance), at no denoiser
    cost, and its steps start from the Gaussian history; ``callback(i, t, z)`` is called
    after that interval too.

    Examples
    --------
    For Gaussian data the start is the exact flow, and one data point is a Gaussian of zero
    covariance:

    >>> from sklearn_diffgen.schedules import SCHEDULES
    >>> s, x0 = SCHEDULES["paper"], torch.tensor([[2.0]], dtype=torch.float64)
    >>> z = solve("dpmpp_3m", lambda z, t: x0.expand_as(z), torch.ones(1, 1, dtype=torch.float64), s,
    ...           0.01, 5, moments=(x0[0], torch.zeros(1, 1, dtype=torch.float64)))
    >>> round(float(z), 12)  # a(t_end) x0 + b(t_end) z = 1.98 + 0.1
    2.08
    """
    ts = time_grid(schedule, t_end, n_steps, SOLVERS[solver].spacing)
    history = None
    if SOLVERS[solver].gaussian_start:
        if moments is None:
            raise ValueError(f"solver={solver!r} starts from the data's moments: pass moments")
        z, history = gaussian_start(z, *moments, schedule, ts)
        ts = ts[1:]
        if callback is not None:
            callback(-1, float(ts[0]), z)
    return integrate(solver, denoiser, z, ts, schedule, history=history, callback=callback)
