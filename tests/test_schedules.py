"""Schedules: coefficients, derivatives, ratio inversion and time grids."""

import math

import pytest
import torch

from sklearn_diffgen.schedules import (
    GAUSSIAN_SIGMA_MAX,
    GRIDS,
    SCHEDULES,
    SIGMA_MAX,
    LinearSchedule,
    time_grid,
)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_endpoints(name):
    s = SCHEDULES[name]
    assert s.alpha(0.0) == 1.0 and math.isclose(s.sigma(1.0), 1.0)
    assert math.isclose(s.sigma(0.0), s.min_ratio)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_derivatives_match_autograd(name):
    s = SCHEDULES[name]
    t = torch.linspace(0.05, 0.95, 7, dtype=torch.float64, requires_grad=True)
    (da,) = torch.autograd.grad(s.alpha(t).sum(), t)
    (dlogb,) = torch.autograd.grad(torch.log(s.sigma(t)).sum(), t)
    torch.testing.assert_close(da, s.d_alpha(t.detach()) * torch.ones_like(da))
    torch.testing.assert_close(dlogb, s.d_log_sigma(t.detach()))


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@pytest.mark.parametrize("r", [0.1, 0.3, 1.0, 5.0])
def test_t_from_ratio_inverts_ratio(name, r):
    s = SCHEDULES[name]
    t = s.t_from_ratio(r)
    assert 0.0 <= t <= 1.0
    assert math.isclose(s.ratio(t), r, rel_tol=1e-12)


def test_t_from_ratio_rejects_below_minimum():
    with pytest.raises(ValueError, match=">= 0.1"):
        SCHEDULES["authors"].t_from_ratio(0.05)


def test_invalid_schedule():
    with pytest.raises(ValueError):
        LinearSchedule(a_end=1.0)


@pytest.mark.parametrize("spacing", sorted(GRIDS))
@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_grids_decrease_from_one_to_t_end(spacing, name):
    s = SCHEDULES[name]
    ts = time_grid(s, 0.01, 12, spacing)
    assert ts.shape == (13,) and ts.dtype == torch.float64
    assert ts[0] == 1.0 and math.isclose(float(ts[-1]), 0.01)
    assert bool((ts[1:] < ts[:-1]).all())


def test_logsnr_grid_is_uniform_in_log_ratio():
    s = SCHEDULES["paper"]
    ts = time_grid(s, 0.01, 9, "logsnr")
    # a(1) = 0: one jump to SIGMA_MAX, then even steps in log(b/a)
    log_r = torch.tensor([math.log(s.ratio(float(t))) for t in ts[1:]])
    assert math.isclose(s.ratio(float(ts[1])), SIGMA_MAX, rel_tol=1e-9)
    steps = log_r[1:] - log_r[:-1]
    torch.testing.assert_close(steps, steps.mean().expand_as(steps))


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_logsnr_end_grid_starts_at_gaussian_sigma_max_and_shrinks_its_steps(name):
    s = SCHEDULES[name]
    ts = time_grid(s, s.t_from_ratio(0.1), 11, "logsnr_end")
    log_r = torch.tensor([math.log(s.ratio(float(t))) for t in ts[1:]], dtype=torch.float64)
    assert math.isclose(s.ratio(float(ts[1])), GAUSSIAN_SIGMA_MAX, rel_tol=1e-9)
    assert math.isclose(float(log_r[-1]), math.log(0.1), rel_tol=1e-9)
    steps = log_r[:-1] - log_r[1:]
    assert bool((steps[1:] < steps[:-1]).all()) and float(steps[0] / steps[-1]) > 2


def test_logsnr_end_grid_handles_wide_bandwidths():
    # h = 10, the widest the estimator accepts: the grid starts at 4 h instead of b/a = 10
    s = SCHEDULES["paper"]
    ts = time_grid(s, s.t_from_ratio(10.0), 5, "logsnr_end")
    assert math.isclose(s.ratio(float(ts[1])), 40.0, rel_tol=1e-9) and bool((ts[1:] < ts[:-1]).all())


def test_grid_errors():
    with pytest.raises(ValueError, match="t_end"):
        time_grid(SCHEDULES["paper"], 1.5, 4)
    with pytest.raises(ValueError, match="spacing"):
        time_grid(SCHEDULES["paper"], 0.1, 4, "cosine")
    with pytest.raises(ValueError, match="below"):  # b/a at t_end beyond the grid's start
        time_grid(SCHEDULES["paper"], SCHEDULES["paper"].t_from_ratio(150.0), 10, "logsnr")
    with pytest.raises(ValueError, match="n_steps >= 2"):
        time_grid(SCHEDULES["paper"], 0.1, 1, "logsnr")
