"""Solvers against the exact probability-flow map of Gaussian data: accuracy and order."""

import math

import pytest
import torch

from sklearn_diffgen.schedules import SCHEDULES, time_grid
from sklearn_diffgen.solvers import SOLVERS

from conftest import GaussianProblem

#: Observed convergence order on the Gaussian problem, as measured from 32 to 128 steps.
ORDERS = {"euler": 1, "ddim": 1, "heun": 2, "dpmpp_2m": 2}


def errors(problem, solver, ns, t_end=0.01):
    z1 = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    want = problem.flow(z1, t_end)
    out = []
    for n in ns:
        ts = time_grid(problem.sched, t_end, n, SOLVERS[solver].spacing)
        got = SOLVERS[solver].fn(problem.denoise, z1, ts, problem.sched)
        out.append(float((got - want).abs().max()))
    return out


def test_registry_matches_orders():
    assert set(SOLVERS) == set(ORDERS)


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_convergence_order(solver, schedule):
    problem = GaussianProblem([0.5, -1.0], [0.3, 2.0], SCHEDULES[schedule])
    e = errors(problem, solver, [32, 64, 128])
    rates = [math.log2(e[i] / e[i + 1]) for i in range(2)]
    assert e[-1] < 0.1
    assert min(rates) > ORDERS[solver] - 0.25, rates


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_exact_for_point_mass(solver):
    # one data point: D is constant, the flow is z -> a x0 + (b / b(1)) z, and the
    # exponential integrators are exact in one step per interval
    x0 = torch.tensor([[0.7, -0.2]], dtype=torch.float64)
    s = SCHEDULES["paper"]
    z1 = torch.randn(5, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ts = time_grid(s, 0.04, 400, SOLVERS[solver].spacing)
    got = SOLVERS[solver].fn(lambda z, t: x0.expand_as(z), z1, ts, s)
    want = s.alpha(0.04) * x0 + s.sigma(0.04) * z1
    tol = 1e-12 if solver in ("ddim", "dpmpp_2m") else 1e-2
    torch.testing.assert_close(got, want, rtol=0, atol=tol)


def test_callback_sees_every_step():
    seen = []
    s = SCHEDULES["paper"]
    ts = time_grid(s, 0.1, 7, "logsnr")
    SOLVERS["dpmpp_2m"].fn(lambda z, t: z * 0, torch.zeros(1, 1, dtype=torch.float64), ts, s,
                           callback=lambda i, t, z: seen.append((i, t)))
    assert [i for i, _ in seen] == list(range(7))
    assert math.isclose(seen[-1][1], 0.1)
