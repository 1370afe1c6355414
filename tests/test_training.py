"""Regression training: fits known maps, stops as documented, reproducible, restores best weights."""

import pytest
import torch

from sklearn_diffgen.networks import MLP
from sklearn_diffgen.training import fit_regression


def problem(seed=0, n=512):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(n, 2, generator=g)
    v = torch.stack([torch.sin(u[:, 0]) + u[:, 1], u[:, 0] * 0.5], dim=1)
    return u, v


def net(seed=0, activation="silu"):
    return MLP(2, 2, (32, 32), activation, generator=torch.Generator().manual_seed(seed))


def test_fits_a_smooth_map():
    u, v = problem()
    f = net()
    res = fit_regression(f, u, v, generator=torch.Generator().manual_seed(0), max_iter=200,
                         learning_rate_init=3e-3, batch_size=64, n_iter_no_change=20)
    u_test, v_test = problem(seed=1, n=256)
    with torch.no_grad():
        test_mse = float(((f(u_test) - v_test) ** 2).mean())
    assert test_mse < 0.01 * float(v_test.var())
    assert res.loss_curve[-1] < res.loss_curve[0] / 20
    assert len(res.validation_scores) == res.n_iter == len(res.loss_curve)


def test_reproducible_bitwise():
    u, v = problem()
    outs = []
    for _ in range(2):
        f = net()
        fit_regression(f, u, v, generator=torch.Generator().manual_seed(3), max_iter=5)
        outs.append(f(u))
    assert torch.equal(outs[0], outs[1])


def test_not_converged_at_max_iter():
    u, v = problem()
    res = fit_regression(net(), u, v, generator=torch.Generator().manual_seed(0), max_iter=3)
    assert not res.converged and res.n_iter == 3


def test_stops_when_no_improvement():
    u = torch.randn(200, 2, generator=torch.Generator().manual_seed(0))
    v = torch.randn(200, 2, generator=torch.Generator().manual_seed(1))  # pure noise
    res = fit_regression(net(), u, v, generator=torch.Generator().manual_seed(0), max_iter=500,
                         n_iter_no_change=5, tol=1e-2)
    assert res.converged and res.n_iter < 500


def test_early_stopping_restores_best_weights():
    u, v = problem(n=300)
    f = net()
    res = fit_regression(f, u, v, generator=torch.Generator().manual_seed(0), max_iter=30,
                         learning_rate_init=0.05, validation_fraction=0.2, n_iter_no_change=3)
    # the same split: the first 60 rows of the permutation drawn first by a generator seeded 0
    perm = torch.randperm(300, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        val = float(((f(u[perm[:60]]) - v[perm[:60]]) ** 2).mean())
    assert val == pytest.approx(min(res.validation_scores), rel=1e-5)
    assert res.best_loss == pytest.approx(val, rel=1e-5)


def test_without_early_stopping_monitors_training_loss():
    u, v = problem(n=100)
    res = fit_regression(net(), u, v, generator=torch.Generator().manual_seed(0), max_iter=4,
                         early_stopping=False)
    assert res.validation_scores == [] and res.best_loss == min(res.loss_curve)


def test_callback_can_stop():
    u, v = problem(n=100)
    calls = []
    res = fit_regression(net(), u, v, generator=torch.Generator().manual_seed(0), max_iter=50,
                         callback=lambda e, tr, va: calls.append(e) or e == 2)
    assert calls == [0, 1, 2] and res.n_iter == 3


def test_divergence_raises_instead_of_returning_broken_weights():
    u, v = problem()
    with pytest.raises(ValueError, match="diverged"):
        fit_regression(net(), u, 1e30 * v, generator=torch.Generator().manual_seed(0), max_iter=5,
                       learning_rate_init=1e12, early_stopping=False)


def test_logdet_loss_leaves_out_rows_with_a_singular_jacobian():
    from sklearn_diffgen.training import logdet_loss

    lin = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[2.0, 0.0], [0.0, 0.0]]))  # singular everywhere
    loss = logdet_loss(lin, torch.randn(8, 2), torch.zeros(8))
    loss.backward()
    assert float(loss) == 0.0 and torch.isfinite(lin.weight.grad).all()
    # a ReLU net that is singular on part of the plane: only those rows drop out
    relu = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())
    with torch.no_grad():
        relu[0].weight.copy_(torch.eye(2))
        relu[0].bias.zero_()
    u = torch.tensor([[1.0, 1.0], [2.0, 3.0], [-1.0, 1.0]])  # the last row has a dead unit
    loss = logdet_loss(relu, u, torch.ones(3))
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in relu.parameters())
    assert float(loss) == float(logdet_loss(relu, u[:2], torch.ones(2))) > 0  # the mean of the other rows
