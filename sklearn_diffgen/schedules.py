"""Noise schedules a(t), b(t) of the forward diffusion and the time grids that solvers step on."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["LinearSchedule", "SCHEDULES", "GRIDS", "time_grid", "SIGMA_MAX", "GAUSSIAN_SIGMA_MAX"]

#: Largest noise-to-signal ratio b/a that a log-SNR grid resolves. Schedules whose a(1) is 0
#: start with one exact jump from b/a = inf to SIGMA_MAX: its relative error for standardised
#: data is about 1 / (2 SIGMA_MAX^2) = 5e-5.
SIGMA_MAX = 100.0

#: Where ``logsnr_end`` grids start after their first interval: b/a = 10. A solver that takes
#: that interval by the Gaussian flow of the data's moments
#: (:func:`~sklearn_diffgen.solvers.gaussian_flow`) leaves a bias there of about 1e-3 in
#: standardised units (two moons, a two-cluster 10-D set), and saves the steps that a
#: log-SNR grid spends between b/a = 100 and 10.
GAUSSIAN_SIGMA_MAX = 10.0

#: Exponent of the ``logsnr_end`` grid: steps in log(b/a) shrink as (1 - u)^(1/0.8 - 1)
#: towards the end, where the denoiser of the smoothed data changes fastest.
LOGSNR_END_WARP = 0.8


@dataclass(frozen=True)
class LinearSchedule:
    r"""The linear family of the paper: :math:`z_t = a(t)\,x + b(t)\,\epsilon`.

    .. math::

        a(t) = 1 - (1 - a_1)\,t, \qquad b(t)^2 = b_0^2 + (1 - b_0^2)\,t, \qquad t \in [0, 1].

    ``a_end = b0_sq = 0`` is the paper's schedule (:math:`a = 1 - t`, :math:`b^2 = t`);
    ``a_end = b0_sq = 0.01`` is the one in the authors' released code. All methods accept
    floats or tensors.

    Parameters
    ----------
    a_end : float
        Signal coefficient :math:`a(1) = a_1` at the end of the forward process, in [0, 1).
    b0_sq : float
        Noise variance :math:`b(0)^2` at t = 0, in [0, 1). It bounds the smallest bandwidth
        :math:`b(0) / a(0) = b_0` that labelling can stop at.

    References
    ----------
    Y. Liu, M. Yang, Z. Zhang, F. Bao, Y. Cao, G. Zhang. Diffusion-model-assisted supervised
    learning of generative models for density estimation. 2023. https://arxiv.org/abs/2310.14458

    Examples
    --------
    >>> s = LinearSchedule()
    >>> s.alpha(0.25), s.sigma(0.25)
    (0.75, 0.5)
    >>> round(s.ratio(s.t_from_ratio(0.1)), 12)
    0.1
    """

    a_end: float = 0.0
    b0_sq: float = 0.0

    def __post_init__(self):
        if not (0.0 <= self.a_end < 1.0 and 0.0 <= self.b0_sq < 1.0):
            raise ValueError(f"need 0 <= a_end < 1 and 0 <= b0_sq < 1, got {self}")

    def alpha(self, t):
        """Signal coefficient :math:`a(t)`."""
        return 1.0 - (1.0 - self.a_end) * t

    def sigma(self, t):
        """Noise standard deviation :math:`b(t)`."""
        v = self.b0_sq + (1.0 - self.b0_sq) * t
        return torch.sqrt(v) if isinstance(v, torch.Tensor) else math.sqrt(v)

    def d_alpha(self, t):
        """Derivative :math:`a'(t)`."""
        return -(1.0 - self.a_end) + 0.0 * t

    def d_log_sigma(self, t):
        r""":math:`b'(t) / b(t) = (1 - b_0^2) / (2 b(t)^2)`."""
        return (1.0 - self.b0_sq) / (2.0 * (self.b0_sq + (1.0 - self.b0_sq) * t))

    def ratio(self, t):
        """Noise-to-signal ratio :math:`b(t) / a(t)`: the data-space smoothing width at t."""
        a = self.alpha(t)
        return self.sigma(t) / a if a > 0 else math.inf

    @property
    def min_ratio(self) -> float:
        """Smallest reachable ratio, :math:`b(0) / a(0) = b_0`."""
        return math.sqrt(self.b0_sq)

    def t_from_ratio(self, r: float) -> float:
        r"""Time at which :math:`b(t)/a(t) = r`.

        Solves :math:`r^2 (1 - c t)^2 = b_0^2 + (1 - b_0^2) t` with :math:`c = 1 - a_1`, a
        quadratic whose root in [0, 1] is unique because b/a increases in t.
        """
        r = float(r)
        if not math.isfinite(r) or r < self.min_ratio:
            raise ValueError(f"ratio (bandwidth) {r!r} must be finite and >= {self.min_ratio:g}, the "
                             "smallest that this schedule reaches")
        c, s0, q = 1.0 - self.a_end, self.b0_sq, r * r
        # q c^2 t^2 - (2 q c + 1 - s0) t + (q - s0) = 0; the smaller root is the one in [0, 1]
        A, B, C = q * c * c, 2.0 * q * c + 1.0 - s0, q - s0
        disc = math.sqrt(max(B * B - 4.0 * A * C, 0.0))
        t = 2.0 * C / (B + disc)  # stable form of (B - disc) / (2 A)
        return min(max(t, 0.0), 1.0)


#: Named members of the family, for the estimator's ``schedule`` parameter.
SCHEDULES: dict[str, LinearSchedule] = {
    "paper": LinearSchedule(0.0, 0.0),
    "authors": LinearSchedule(0.01, 0.01),
}


def _uniform_grid(schedule: LinearSchedule, t_end: float, n_steps: int) -> torch.Tensor:
    return torch.linspace(1.0, t_end, n_steps + 1, dtype=torch.float64)


def _logsnr_grid(
    schedule: LinearSchedule, t_end: float, n_steps: int, sigma_max: float = SIGMA_MAX, warp: float = 1.0
) -> torch.Tensor:
    r_start, r_end = schedule.ratio(1.0), schedule.ratio(t_end)
    if r_end >= min(r_start, sigma_max):
        raise ValueError(f"a log-SNR grid needs b/a at t_end ({r_end:g}) below {min(r_start, sigma_max):g}")
    head = []
    if r_start > sigma_max:  # a(1) == 0 (or tiny): jump from t = 1 to b/a = sigma_max first
        head, r_start, n_steps = [1.0], sigma_max, n_steps - 1
    if n_steps < 1:
        raise ValueError(f"a log-SNR grid from b/a = {r_start:g} > {sigma_max:g} needs n_steps >= 2")
    u = torch.linspace(0.0, 1.0, n_steps + 1, dtype=torch.float64)
    log_r = math.log(r_end) + (1.0 - u) ** (1.0 / warp) * (math.log(r_start) - math.log(r_end))
    ts = [schedule.t_from_ratio(math.exp(v)) for v in log_r.tolist()]
    ts[-1] = t_end
    if not head:
        ts[0] = 1.0
    return torch.tensor(head + ts, dtype=torch.float64)


def _logsnr_end_grid(schedule: LinearSchedule, t_end: float, n_steps: int) -> torch.Tensor:
    # start at least 4 h away from the end, so that very wide bandwidths still get a grid
    sigma_max = max(GAUSSIAN_SIGMA_MAX, 4.0 * schedule.ratio(t_end))
    return _logsnr_grid(schedule, t_end, n_steps, sigma_max, LOGSNR_END_WARP)


#: Time-grid builders by name: ``uniform`` in t (the paper's), ``logsnr`` uniform in log(b/a)
#: from b/a = :data:`SIGMA_MAX`, ``logsnr_end`` from b/a = :data:`GAUSSIAN_SIGMA_MAX` with
#: steps shrinking towards the end (:data:`LOGSNR_END_WARP`).
GRIDS = {"uniform": _uniform_grid, "logsnr": _logsnr_grid, "logsnr_end": _logsnr_end_grid}


def time_grid(
    schedule: LinearSchedule, t_end: float, n_steps: int, spacing: str = "logsnr"
) -> torch.Tensor:
    r"""Decreasing float64 times :math:`1 = t_0 > t_1 > \dots > t_n = t_{\mathrm{end}}`.

    Parameters
    ----------
    schedule : LinearSchedule
        The noise schedule.
    t_end : float
        Where integration stops, in (0, 1).
    n_steps : int
        Number of intervals n.
    spacing : {"uniform", "logsnr", "logsnr_end"}
        ``uniform`` spaces the times evenly, as the paper's Euler solver does; ``logsnr``
        spaces :math:`\log(b/a)` evenly, which suits exponential integrators. When
        :math:`a(1) = 0` the first interval jumps from t = 1 to
        :math:`b/a =` :data:`SIGMA_MAX`. ``logsnr_end`` jumps to
        :data:`GAUSSIAN_SIGMA_MAX` (or 4 h, when the bandwidth h is above 2.5) instead, for
        solvers that take that interval by the Gaussian flow, and shrinks its log-SNR steps
        towards the end: with
        :math:`u_i = i / n`, :math:`\log(b/a)_i = \log h + (1 - u_i)^{1/0.8}
        (\log 10 - \log h)`.

    Returns
    -------
    ts : Tensor of shape (n_steps + 1,)

    Examples
    --------
    >>> time_grid(SCHEDULES["paper"], 0.01, 4, "uniform")
    tensor([1.0000, 0.7525, 0.5050, 0.2575, 0.0100], dtype=torch.float64)
    """
    if spacing not in GRIDS:
        raise ValueError(f"unknown spacing {spacing!r}; choose from {sorted(GRIDS)}")
    if not 0.0 < t_end < 1.0:
        raise ValueError(f"t_end must be in (0, 1), got {t_end!r}")
    return GRIDS[spacing](schedule, t_end, int(n_steps))
