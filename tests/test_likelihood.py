"""Maximum-likelihood fine-tuning: exact gradients of the Laplace log-likelihood, the Gaussian fit, stopping."""

import copy
import math

import numpy as np
import pytest
import torch

from sklearn_diffgen.density import NearestAnchor, generator_log_density, jacobian, log_density
from sklearn_diffgen.likelihood import fit_likelihood, laplace_nll
from sklearn_diffgen.networks import MLP


def _exact_nll(F, x, z0, noise):
    """Mean negative Laplace log-density, z* solved to convergence in float64."""
    with torch.no_grad():
        res = log_density(F, x, z0, noise=noise)
    assert bool(res.converged.all())
    return -float(res.log_density.mean()), res.z


class Residual(torch.nn.Module):
    """z + strength phi(z B) C, smooth for tanh and silu; with small weights, one preimage a row."""

    def __init__(self, activation, seed, strength=0.4):
        super().__init__()
        self.strength = strength
        g = torch.Generator().manual_seed(seed)
        self.B = torch.nn.Parameter(torch.randn(2, 16, generator=g, dtype=torch.float64) / 4)
        self.C = torch.nn.Parameter(torch.randn(16, 2, generator=g, dtype=torch.float64) / 4)
        self.phi = {"tanh": torch.tanh, "silu": torch.nn.functional.silu}[activation]

    def forward(self, z):
        return z + self.strength * self.phi(z @ self.B) @ self.C


@pytest.mark.parametrize("activation", ["tanh", "silu"])
def test_gradient_is_the_derivative_of_the_log_likelihood(activation):
    # the surrogate's gradient against a central difference of the re-solved Laplace NLL
    g = torch.Generator().manual_seed(0)
    F, noise = Residual(activation, 0), 0.05
    x = F(2 * torch.randn(64, 2, generator=g, dtype=torch.float64)).detach()
    x = x + noise * torch.randn(x.shape, generator=g, dtype=torch.float64)
    _, z = _exact_nll(F, x, x, noise)
    laplace_nll(F, x, z, noise).mean().backward()
    direction = [torch.randn(p.shape, generator=g, dtype=torch.float64) for p in F.parameters()]
    predicted = sum(float((p.grad * v).sum()) for p, v in zip(F.parameters(), direction))
    assert _central_difference(F, x, z, noise, direction) == pytest.approx(predicted, rel=1e-3)


def _central_difference(F, x, z, noise, direction, eps=1e-4):
    moved = []
    for sign in (1, -1):
        F2 = copy.deepcopy(F)
        with torch.no_grad():
            for p, v in zip(F2.parameters(), direction):
                p.add_(sign * eps * v)
        moved.append(_exact_nll(F2, x, z, noise)[0])
    return (moved[0] - moved[1]) / (2 * eps)


def test_the_log_determinant_term_through_the_latents_matters():
    # for a smooth F the envelope term alone (z* held fixed) misses the derivative by far more
    g = torch.Generator().manual_seed(1)
    F, noise = Residual("tanh", 1, strength=1.5), 0.05
    x = F(2 * torch.randn(64, 2, generator=g, dtype=torch.float64)).detach()
    _, z = _exact_nll(F, x, x, noise)
    laplace_nll(F, x, z, noise).mean().backward()
    full = [p.grad.clone() for p in F.parameters()]
    F.zero_grad()
    y, J = jacobian(F, z)
    e = 0.5 * (z * z).sum(1) + 0.5 * ((x - y) ** 2).sum(1) / noise**2
    H = noise**2 * torch.eye(2, dtype=torch.float64) + J.transpose(1, 2) @ J
    (e + 0.5 * torch.logdet(H)).mean().backward()
    envelope = [p.grad.clone() for p in F.parameters()]
    direction = [a - b for a, b in zip(full, envelope)]
    actual = _central_difference(F, x, z, noise, direction)
    err_full = abs(actual - sum(float((a * v).sum()) for a, v in zip(full, direction)))
    err_envelope = abs(actual - sum(float((a * v).sum()) for a, v in zip(envelope, direction)))
    assert err_envelope > 10 * err_full


def test_linear_generator_reaches_the_gaussian_maximum_likelihood():
    # F(z) = A z + c: the model is N(c, A A^T + s^2 I); its best fit is the sample mean and covariance
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1024, 2, generator=g, dtype=torch.float64) @ torch.tensor(
        [[1.5, 0.0], [0.8, 0.4]], dtype=torch.float64) + torch.tensor([1.0, -2.0], dtype=torch.float64)
    F = MLP(2, 2, (), generator=g, dtype=torch.float64)
    noise = 0.01
    res = fit_likelihood(F, x, torch.zeros_like(x), noise=noise, generator=g, learning_rate=0.02,
                         max_iter=400, validation_fraction=None, n_iter_no_change=400)
    xc = x - x.mean(0)
    cov = xc.T @ xc / x.shape[0]
    best = 0.5 * float(torch.logdet(2 * math.pi * math.e * cov))  # the ML Gaussian's mean NLL
    W, c = F.net[0].weight.detach(), F.net[0].bias.detach()
    assert torch.allclose(c, x.mean(0), atol=0.02)
    assert torch.allclose(W @ W.T + noise**2 * torch.eye(2, dtype=torch.float64), cov, atol=0.02)
    assert _exact_nll(F, x, torch.zeros_like(x), noise)[0] == pytest.approx(best, abs=2e-3)
    assert res.loss_curve[-1] < res.loss_curve[0]


@pytest.mark.parametrize("learning_rate", [3e-3, 0.1])
def test_early_stopping_keeps_the_best_held_out_weights(learning_rate):
    # the weights kept are those of the best-scored epoch, the start (epoch 0) included
    x = torch.randn(400, 2, generator=torch.Generator().manual_seed(0))

    def fit(max_iter):
        F = MLP(2, 2, (16,), "silu", generator=torch.Generator().manual_seed(1))
        res = fit_likelihood(F, x, torch.zeros_like(x), noise=0.05,
                             generator=torch.Generator().manual_seed(2), learning_rate=learning_rate, max_iter=max_iter, n_iter_no_change=3)
        return F, res

    F, res = fit(12)
    assert len(res.validation_scores) == res.n_iter + 1  # the start is scored first
    k = int(np.argmin(res.validation_scores))
    assert res.best_loss == res.validation_scores[k]
    F_k, _ = fit(k) if k else (MLP(2, 2, (16,), "silu", generator=torch.Generator().manual_seed(1)), None)
    assert all(torch.equal(v, F_k.state_dict()[key]) for key, v in F.state_dict().items())


def test_held_out_score_is_the_one_given_and_the_kept_weights_reach_it():
    # with a score callable (here score_samples' own computation), the best held-out score is what
    # the kept weights score; relu on a curved set: the fine-tuning's first epochs make it worse
    g = torch.Generator().manual_seed(0)
    t = torch.rand(500, generator=g) * math.pi
    x = torch.stack([torch.cos(t), torch.sin(t)], 1) + 0.05 * torch.randn(500, 2, generator=g)
    F = MLP(2, 2, (32, 32), "relu", generator=torch.Generator().manual_seed(1))
    fit_likelihood(F, x, torch.randn(500, 2, generator=g), noise=0.05, generator=g, learning_rate=3e-3,
                   max_iter=100, validation_fraction=None)  # a rough start
    start = copy.deepcopy(F.state_dict())

    def score(net, u):
        return generator_log_density(net, NearestAnchor.draw(net, 2000, 2, 0), u, noise=0.01, rows=256)

    res = fit_likelihood(F, x, NearestAnchor.draw(F, 2000, 2, 0)(x), noise=0.01,
                         generator=torch.Generator().manual_seed(5), learning_rate=0.03, max_iter=8,
                         n_iter_no_change=4, score=score)
    held = x[torch.randperm(500, generator=torch.Generator().manual_seed(5))[:50]]
    k = int(np.argmin(res.validation_scores))
    assert res.best_loss == res.validation_scores[k] == pytest.approx(-float(score(F, held).mean()), abs=1e-6)
    assert k == 0 and all(torch.equal(v, start[key]) for key, v in F.state_dict().items())


def test_epoch_loss_is_the_weighted_mean_over_batches():
    # with a zero step the weights stay put, and the epoch's loss is the weighted mean over all its rows
    # (relu: no implicit term, so each row's loss is minus the log-density at the latent reached)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(100, 2, generator=g, dtype=torch.float64)
    w = torch.rand(100, generator=g, dtype=torch.float64) + 0.1
    F = MLP(2, 2, (8,), "relu", generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    res = fit_likelihood(F, x, torch.zeros_like(x), noise=0.1, generator=g, weights=w, batch_size=16,
                         learning_rate=0.0, max_iter=1, validation_fraction=None)
    with torch.no_grad():
        exact = log_density(F, x, torch.zeros_like(x), noise=0.1, ftol=1e-4, max_iter=30)
    assert res.loss_curve[0] == pytest.approx(float((w * -exact.log_density).sum() / w.sum()), rel=1e-6)


def test_weights_weigh_the_rows():
    # doubling a row's weight is the same objective as repeating it (no held-out rows, full batches)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 2, generator=g)
    w = torch.ones(50)
    w[:10] = 2.0
    fits = []
    for rows, weights in ((torch.cat([x, x[:10]]), None), (x, w)):
        F = MLP(2, 2, (8,), "tanh", generator=torch.Generator().manual_seed(3), dtype=torch.float64)
        res = fit_likelihood(F, rows.double(), torch.zeros_like(rows).double(), noise=0.1,
                             generator=torch.Generator().manual_seed(4), weights=weights, batch_size=100,
                             learning_rate=0.01, max_iter=5, validation_fraction=None)
        fits.append((res.loss_curve, F.net[0].weight.detach().clone()))
    assert fits[0][0] == pytest.approx(fits[1][0], rel=1e-9)
    assert torch.allclose(fits[0][1], fits[1][1], atol=1e-9)
