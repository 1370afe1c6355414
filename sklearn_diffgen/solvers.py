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
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

from torch import Tensor

from .schedules import LinearSchedule

__all__ = ["euler", "heun", "ddim", "dpmpp_2m", "SOLVERS", "Solver"]

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


class Solver(NamedTuple):
    """A registry entry: the stepping function, its default grid and denoiser calls per step.

    Examples
    --------
    >>> SOLVERS["dpmpp_2m"].spacing, SOLVERS["heun"].evals_per_step
    ('logsnr', 2)
    """

    fn: Callable
    spacing: str
    evals_per_step: int


#: Solvers by name, for the estimator's ``solver`` parameter.
SOLVERS: dict[str, Solver] = {
    "euler": Solver(euler, "uniform", 1),
    "heun": Solver(heun, "logsnr", 2),
    "ddim": Solver(ddim, "logsnr", 1),
    "dpmpp_2m": Solver(dpmpp_2m, "logsnr", 1),
}
