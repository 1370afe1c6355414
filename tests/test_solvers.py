"""Solvers against the exact probability-flow map of Gaussian data: accuracy and order."""

import math

import pytest
import torch

from sklearn_diffgen.schedules import SCHEDULES, time_grid
from sklearn_diffgen.solvers import SOLVERS, gaussian_flow, gaussian_start, integrate, solve

from conftest import GaussianProblem

def errors(problem, solver, ns, t_end=0.01):
    """Errors of solve (as the labeller runs it: Gaussian start where registered) against the exact map."""
    z1 = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    want = problem.flow(z1, t_end)
    moments = (problem.m, torch.diag(problem.S))
    return [float((solve(solver, problem.denoise, z1, problem.sched, t_end, n, moments=moments) - want).abs().max())
            for n in ns]


def test_registry_orders_and_calls():
    assert {k: v.order for k, v in SOLVERS.items()} == {"euler": 1, "ddim": 1, "heun": 2, "dpmpp_2m": 2,
                                                        "dpmpp_3m": 3}
    # every step makes the registered number of denoiser calls, and the Gaussian start none
    problem = GaussianProblem([0.5, -1.0], [0.3, 2.0])
    for name, entry in SOLVERS.items():
        calls = []

        def den(z, t):
            calls.append(t)
            return problem.denoise(z, t)

        solve(name, den, torch.zeros(3, 2, dtype=torch.float64), problem.sched, 0.01, 9,
              moments=(problem.m, torch.diag(problem.S)))
        assert len(calls) == entry.evals_per_step * (9 - entry.gaussian_start), name


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_convergence_order(solver, schedule):
    problem = GaussianProblem([0.5, -1.0], [0.3, 2.0], SCHEDULES[schedule])
    e = errors(problem, solver, [32, 64, 128])
    rates = [math.log2(e[i] / e[i + 1]) for i in range(2)]
    assert e[-1] < 0.1
    assert min(rates) > SOLVERS[solver].order - 0.25, rates


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_exact_for_point_mass(solver):
    # one data point: D is constant, the flow is z -> a x0 + (b / b(1)) z, and the
    # exponential integrators are exact in one step per interval
    x0 = torch.tensor([[0.7, -0.2]], dtype=torch.float64)
    s = SCHEDULES["paper"]
    z1 = torch.randn(5, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ts = time_grid(s, 0.04, 400, SOLVERS[solver].spacing)
    got = integrate(solver, lambda z, t: x0.expand_as(z), z1, ts, s)  # no Gaussian start here
    want = s.alpha(0.04) * x0 + s.sigma(0.04) * z1
    tol = 1e-12 if solver in ("ddim", "dpmpp_2m", "dpmpp_3m") else 1e-2
    torch.testing.assert_close(got, want, rtol=0, atol=tol)


def test_callback_sees_every_step():
    seen = []
    s = SCHEDULES["paper"]
    ts = time_grid(s, 0.1, 7, "logsnr")
    integrate("dpmpp_2m", lambda z, t: z * 0, torch.zeros(1, 1, dtype=torch.float64), ts, s,
              callback=lambda i, t, z: seen.append((i, t)))
    assert [i for i, _ in seen] == list(range(7))
    assert math.isclose(seen[-1][1], 0.1)


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
def test_exponential_multistep_solvers_on_their_own_grids(schedule):
    # dpmpp_3m is third order on logsnr grids too, without the Gaussian start, when there is
    # no jump from a(1) = 0 (the authors' schedule); with the jump its error stops at the
    # jump's bias, 1 / (2 SIGMA_MAX^2) relative
    problem = GaussianProblem([0.5, -1.0], [0.3, 2.0], SCHEDULES[schedule])
    z1 = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    want = problem.flow(z1, 0.01)
    e = []
    for n in (16, 32, 64):
        ts = time_grid(problem.sched, 0.01, n, "logsnr")
        e.append(float((integrate("dpmpp_3m", problem.denoise, z1, ts, problem.sched) - want).abs().max()))
    if schedule == "authors":
        assert math.log2(e[1] / e[2]) > 2.75, e
    else:
        assert e[-1] < 1e-3, e


def test_gaussian_flow_is_the_exact_map():
    # a rotated diagonal problem: the flow commutes with the rotation, and composes
    problem = GaussianProblem([0.5, -1.0], [0.3, 2.0])
    c, s = math.cos(0.7), math.sin(0.7)
    q = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    mean, cov = q @ problem.m, q @ torch.diag(problem.S) @ q.T
    z1 = torch.randn(32, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    sched = problem.sched
    got = gaussian_flow(z1 @ q.T, mean, cov, sched, 1.0, 0.2)
    torch.testing.assert_close(got, problem.flow(z1, 0.2) @ q.T, rtol=1e-12, atol=1e-12)
    mid = gaussian_flow(z1 @ q.T, mean, cov, sched, 1.0, 0.6)
    torch.testing.assert_close(gaussian_flow(mid, mean, cov, sched, 0.6, 0.2), got, rtol=1e-12, atol=1e-12)


def test_gaussian_start_history_is_the_gaussian_denoiser_on_the_flow():
    # the history's D values are the exact denoiser of the Gaussian problem at points of
    # its exact flow, at the log-SNRs before ts[1]
    problem = GaussianProblem([0.5, -1.0], [0.3, 2.0], SCHEDULES["authors"])
    sched = problem.sched
    ts = time_grid(sched, 0.01, 12, "logsnr_end")
    z1 = torch.randn(16, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    z, hist = gaussian_start(z1, problem.m, torch.diag(problem.S), sched, ts)
    torch.testing.assert_close(z, problem.flow(z1, float(ts[1])), rtol=1e-12, atol=1e-12)
    for d, lam in hist:
        t = sched.t_from_ratio(math.exp(-lam))
        torch.testing.assert_close(d, problem.denoise(problem.flow(z1, t), t), rtol=1e-10, atol=1e-10)


def test_solve_needs_moments_for_a_gaussian_start_and_reports_it():
    problem = GaussianProblem([0.5, -1.0], [0.3, 2.0])
    z1 = torch.zeros(2, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="moments"):
        solve("dpmpp_3m", problem.denoise, z1, problem.sched, 0.01, 5)
    seen = []
    solve("dpmpp_3m", problem.denoise, z1, problem.sched, 0.01, 5, moments=(problem.m, torch.diag(problem.S)),
          callback=lambda i, t, z: seen.append(i))
    assert seen == [-1, 0, 1, 2, 3]


def test_gaussian_start_helps_solvers_without_a_history():
    # ddim after a Gaussian start (not its registered use): the first interval is exact,
    # so on Gaussian data its error is that of its own steps only
    problem = GaussianProblem([0.5, -1.0], [0.3, 2.0])
    ts = time_grid(problem.sched, 0.01, 16, "logsnr_end")
    z1 = torch.randn(32, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    z, hist = gaussian_start(z1, problem.m, torch.diag(problem.S), problem.sched, ts)
    got = integrate("ddim", problem.denoise, z, ts[1:], problem.sched, history=hist)
    plain = integrate("ddim", problem.denoise, z1, time_grid(problem.sched, 0.01, 16, "logsnr"), problem.sched)
    want = problem.flow(z1, 0.01)
    assert (got - want).abs().max() < (plain - want).abs().max()
