"""Local-covariance kernels against autograd of the brute-force mixture density and closed forms."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from sklearn_diffgen.manifold import LocalKernel, local_covariances

f64 = torch.float64


def _mixture(d=3, n=40, r=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=f64)
    V = torch.linalg.qr(torch.randn(n, d, r, generator=g, dtype=f64)).Q
    mu = 0.5 * torch.rand(n, r, generator=g, dtype=f64)
    return x, V, mu, g


def _brute_log_density(z, x, V, mu, a, b, log_w=None):
    """log sum_n w_n N(z; a x_n, b^2 I + a^2 V_n diag(mu_n) V_n^T), with full covariances."""
    d = x.shape[1]
    cov = b * b * torch.eye(d, dtype=f64) + a * a * torch.einsum("ndr,nr,ner->nde", V, mu, V)
    diff = z[:, None, :] - a * x[None]
    sol = torch.linalg.solve(cov[None].expand(z.shape[0], -1, -1, -1), diff[..., None])[..., 0]
    logp = -0.5 * (diff * sol).sum(-1) - 0.5 * torch.logdet(cov) - 0.5 * d * math.log(2 * math.pi)
    lw = torch.full((x.shape[0],), -math.log(x.shape[0]), dtype=f64) if log_w is None else log_w - log_w.logsumexp(0)
    return torch.logsumexp(logp + lw, dim=1)


@pytest.mark.parametrize("a, b, weighted", [(0.9, 0.3, False), (0.99, 0.05, True), (0.5, 0.8, False)])
def test_local_kernel_score_and_density_match_autograd(a, b, weighted):
    x, V, mu, g = _mixture()
    log_w = torch.randn(40, generator=g, dtype=f64) if weighted else None
    z = (a * x[:15] + b * torch.randn(15, 3, generator=g, dtype=f64)).requires_grad_(True)
    ref = _brute_log_density(z, x, V, mu, a, b, log_w)
    (want,) = torch.autograd.grad(ref.sum(), z)
    k = LocalKernel(x, V, mu, 5000, log_weights=log_w)  # a few rows a block
    z = z.detach()
    got = (a * k.denoise(z, a, b) - z) / (b * b)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9 / b**2)
    torch.testing.assert_close(k.log_density(z, a, b), ref.detach(), rtol=1e-12, atol=1e-10)


def test_local_kernel_density_is_scipys_mixture_at_a_equal_1():
    x, V, mu, g = _mixture(d=2, n=5, r=1, seed=1)
    q = torch.randn(7, 2, generator=g, dtype=f64)
    h = 0.2
    cov = (h * h * torch.eye(2, dtype=f64) + torch.einsum("ndr,nr,ner->nde", V, mu, V)).numpy()
    ref = np.log(np.mean([multivariate_normal(x[n].numpy(), cov[n]).pdf(q.numpy()) for n in range(5)], axis=0))
    np.testing.assert_allclose(LocalKernel(x, V, mu).log_density(q, 1.0, h).numpy(), ref, rtol=1e-12)


def test_local_kernel_subsets_and_moments():
    x, V, mu, g = _mixture()
    k = LocalKernel(x, V, mu)
    sub = k.minibatch(10, torch.Generator().manual_seed(0))
    assert sub.x.shape == (10, 3) and sub.bases.shape == (10, 3, 2) and isinstance(sub, LocalKernel)
    mean, cov = k.moments()
    full = torch.einsum("ndr,nr,ner->de", V, mu, V) / 40 + torch.cov(x.T, correction=0)
    torch.testing.assert_close(mean, x.mean(0))
    torch.testing.assert_close(cov, full)
    with pytest.raises(ValueError, match="bases"):
        LocalKernel(x, V[:, :, :1], mu)


def test_local_covariances_are_the_neighbours_covariance():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(30, 4, generator=g, dtype=f64)
    ref = torch.arange(0, 30, 2)  # the even rows, in blocks of a few rows
    for reference_rows, budget in [(None, 2**20), (ref, 5000)]:
        V, mu = local_covariances(x, 6, 3, reference_rows=reference_rows, budget_bytes=budget)
        pool = torch.arange(30) if reference_rows is None else reference_rows
        for n in (0, 17):  # a reference row, and (with the subset) one that is not
            dist = (x[pool] - x[n]).norm(dim=1)
            dist[pool == n] = math.inf  # never its own neighbour
            nb = x[pool[dist.argsort()[:6]]] - x[n]
            w, U = torch.linalg.eigh(nb.T @ nb / 6)
            torch.testing.assert_close(mu[n], w.flip(0)[:3])
            torch.testing.assert_close((V[n] @ V[n].T), U[:, -3:] @ U[:, -3:].T)  # the same subspace
    with pytest.raises(ValueError, match="n_neighbors"):
        local_covariances(x, 30, 2)
