"""Training-free denoiser and score against a Gaussian closed form and a brute-force mixture."""

import math

import pytest
import torch

from sklearn_diffgen.schedules import SCHEDULES
from sklearn_diffgen.score import Kernel, choose_precision, denoise, logit_error_bound, score

f64 = torch.float64


def brute_force_score(z, x, a, b):
    """Autograd of log sum_n N(z; a x_n, b^2 I): the score of the diffused empirical law."""
    z = z.clone().requires_grad_(True)
    d2 = ((z[:, None, :] - a * x[None, :, :]) ** 2).sum(-1)
    (g,) = torch.autograd.grad(torch.logsumexp(-d2 / (2 * b * b), dim=1).sum(), z)
    return g


@pytest.mark.parametrize("d, a, b", [(2, 0.9, 0.3), (3, 0.99, 0.01), (50, 0.95, 0.05), (4, 0.0, 1.0)])
def test_score_matches_brute_force_mixture(d, a, b):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, d, generator=g, dtype=f64)
    z = a * x[:40] + b * torch.randn(40, d, generator=g, dtype=f64) + 0.1
    got = score(z, x, a, b, precision="float64")
    want = brute_force_score(z, x, a, b)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-8 / b**2)


def test_denoiser_matches_gaussian_closed_form(gaussian):
    # with many samples of N(m, S), the empirical denoiser approaches the Gaussian one
    g = torch.Generator().manual_seed(1)
    x = gaussian.m + gaussian.S.sqrt() * torch.randn(40000, 2, generator=g, dtype=f64)
    t = 0.5
    s = gaussian.sched
    z = s.alpha(t) * gaussian.m + gaussian.cov(t).sqrt() * torch.randn(200, 2, generator=g, dtype=f64)
    got = denoise(z, x, s.alpha(t), s.sigma(t))
    want = gaussian.denoise(z, t)
    assert (got - want).abs().max() < 0.05


def test_no_underflow_far_from_data():
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=f64)
    z = torch.tensor([[1e3, 1e3], [-50.0, 0.0]], dtype=f64)
    d = denoise(z, x, 1.0, 1e-3)
    torch.testing.assert_close(d, torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=f64))


def test_chunking_does_not_change_result():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(500, 3, generator=g, dtype=f64)
    z = torch.randn(64, 3, generator=g, dtype=f64)
    big = denoise(z, x, 0.8, 0.4, budget_bytes=2**30, precision="float64")
    tiny = denoise(z, x, 0.8, 0.4, budget_bytes=1, precision="float64")  # a row at a time
    torch.testing.assert_close(big, tiny, rtol=1e-12, atol=1e-12)


def test_auto_precision_uses_float32_only_where_safe():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(400, 4, generator=g, dtype=f64)
    z = torch.randn(32, 4, generator=g, dtype=f64)
    # the bound picks float32 at large noise and float64 at small noise
    z_max, x_max = float(z.norm(dim=1).max()), float(x.norm(dim=1).max())
    assert choose_precision(0.5, 0.8, z_max, x_max, 4) == "float32"
    assert choose_precision(0.999, 0.01, z_max, x_max, 4) == "float64"
    for a, b in [(0.5, 0.8), (0.999, 0.01)]:
        ref = denoise(z, x, a, b, precision="float64")
        auto = denoise(z, x, a, b, precision="auto")
        assert auto.dtype == f64
        torch.testing.assert_close(auto, ref, rtol=0, atol=1e-3 * x.abs().max().item())
    # at b = 0.01 float32 logits would be off by far more than 1e-3 nats: auto must be exact
    torch.testing.assert_close(denoise(z, x, 0.999, 0.01), denoise(z, x, 0.999, 0.01, precision="float64"))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_error_bound_holds_for_the_logits_denoise_computes(dtype):
    # the logits of denoise's own blocks, against exact ones, stay under the bound: in high
    # dimension, near the data and far from it, and for data far from the origin, where
    # the bias term dominates
    g = torch.Generator().manual_seed(6)
    ratios = []
    for d, a, b, shift in [(2, 0.9, 0.5, 0.0), (10, 0.95, 0.2, 0.0), (10, 0.9, 0.3, 6.0),
                           (64, 0.95, 0.3, 0.0), (3, 0.99, 0.05, 20.0)]:
        x = torch.randn(400, d, generator=g, dtype=f64) + shift
        z = a * x[:60] + b * torch.randn(60, d, generator=g, dtype=f64)
        z = torch.cat([z, 3 * torch.randn(4, d, generator=g, dtype=f64)])  # and far from it
        xc, zc = x.to(dtype), z.to(dtype)
        exact = (a * z.to(dtype).double() @ xc.double().T - 0.5 * a * a * (xc.double() ** 2).sum(1)) / b**2
        (_, got), = Kernel(xc, 2**30).logits(zc, a, b, dtype)
        err = float((got.double() - exact).abs().max())
        bound = logit_error_bound(a, b, float(z.norm(dim=1).max()), float(x.norm(dim=1).max()),
                                  torch.finfo(dtype).eps, d)
        assert err <= bound
        ratios.append(err / bound)
    assert max(ratios) > 1e-3  # the bound is not vacuously loose


def test_denoise_rejects_zero_noise():
    with pytest.raises(ValueError, match="positive"):
        denoise(torch.zeros(1, 1), torch.zeros(1, 1), 1.0, 0.0)


def test_minibatch_draws_distinct_rows_reproducibly():
    k = Kernel(torch.arange(100.0)[:, None])
    a = k.minibatch(30, torch.Generator().manual_seed(0)).x
    b = k.minibatch(30, torch.Generator().manual_seed(0)).x
    assert a.shape == (30, 1) and torch.equal(a, b)
    assert a.unique().numel() == 30
    assert k.minibatch(None, torch.Generator()) is k
    assert k.minibatch(1000, torch.Generator()) is k


def test_schedule_start_gives_data_mean():
    # a(1) = 0 in the paper's schedule: every weight is equal and D is the mean
    x = torch.tensor([[0.0], [3.0]], dtype=f64)
    s = SCHEDULES["paper"]
    d = denoise(torch.randn(5, 1, dtype=f64), x, s.alpha(1.0), s.sigma(1.0))
    torch.testing.assert_close(d, torch.full((5, 1), 1.5, dtype=f64))


# ------------------------------------------------------------------------ the kernel object


def brute_force_weights(z, x, a, b):
    """Softmax weights of -|z - a x_n|^2 / (2 b^2), one explicit row per query, in float64."""
    d2 = ((z[:, None, :] - a * x[None, :, :]) ** 2).sum(-1)
    return torch.softmax(-d2 / (2 * b * b), dim=1)


def brute_force_log_density(q, x, a, b):
    """log mean_n N(q; a x_n, b^2 I), one explicit row per query."""
    d2 = ((q[:, None, :] - a * x[None, :, :]) ** 2).sum(-1)
    n, d = x.shape
    return torch.logsumexp(-d2 / (2 * b * b), dim=1) - math.log(n) - 0.5 * d * math.log(2 * math.pi * b * b)


def test_kernel_scratch_block_is_reused_and_regrown():
    g = torch.Generator().manual_seed(10)
    x, z = torch.randn(50, 2, generator=g, dtype=f64), torch.randn(7, 2, generator=g, dtype=f64)
    k = Kernel(x, budget_bytes=8 * 50 * 3)  # three rows a block
    want = brute_force_weights(z, x, 0.8, 0.3) @ x
    torch.testing.assert_close(k.denoise(z, 0.8, 0.3, "float64"), want)
    assert k.nbytes == 8 * 50 * 3
    # a subset shares the block: its contents do not leak into the next call
    sub = k.subset(torch.arange(10))
    k._buffer[0].fill_(255)  # NaN bytes
    torch.testing.assert_close(sub.denoise(z, 0.8, 0.3, "float64"), brute_force_weights(z, x[:10], 0.8, 0.3) @ x[:10])
    assert sub._buffer is k._buffer and k.nbytes == 8 * 50 * 3
    k.budget_bytes = 2**20  # a larger budget regrows it
    torch.testing.assert_close(k.denoise(z, 0.8, 0.3, "float64"), want)
    assert k.nbytes == 8 * 50 * 7


def test_kernel_caches_the_cast_data_for_each_dtype():
    g = torch.Generator().manual_seed(11)
    x, z = torch.randn(60, 3, generator=g, dtype=f64), torch.randn(9, 3, generator=g, dtype=f64)
    k = Kernel(x)
    for prec, tol in (("float32", 1e-4), ("float64", 1e-12)):
        got = k.denoise(z, 0.8, 0.3, prec)
        torch.testing.assert_close(got, brute_force_weights(z, x, 0.8, 0.3) @ x, rtol=0, atol=tol)
        assert k.denoise(z, 0.8, 0.3, prec).equal(got)
    xc, xt = k._data(torch.float32)
    assert k._data(torch.float32)[1] is xt
    torch.testing.assert_close(xt, x.float().T)


def test_schedule_start_skips_the_block_and_matches_uniform_weights():
    g = torch.Generator().manual_seed(12)
    x, z = torch.randn(80, 4, generator=g, dtype=f64), torch.randn(6, 4, generator=g, dtype=f64)
    k = Kernel(x)
    d = k.denoise(z, 0.0, 1.0)
    assert k.nbytes == 0  # no (queries x data) block was filled
    torch.testing.assert_close(d, brute_force_weights(z, x, 0.0, 1.0) @ x, rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="positive"):
        denoise(z, x, 0.0, 0.0)


@pytest.mark.parametrize("budget", [1, 10**3, 10**8])
def test_log_densities_are_the_brute_force_diffused_density(budget):
    # several (a, b) at once, against the explicit mixture, far from the data too
    g = torch.Generator().manual_seed(13)
    x = torch.randn(200, 3, generator=g, dtype=f64)
    q = torch.cat([torch.randn(30, 3, generator=g, dtype=f64), 8 + torch.randn(3, 3, generator=g, dtype=f64)])
    pairs = [(1.0, 0.2), (0.7, 0.5), (0.0, 1.0)]
    got = Kernel(x, budget).log_densities(q, pairs)
    assert got.shape == (3, 33) and got.dtype == f64
    for row, (a, b) in zip(got, pairs):
        torch.testing.assert_close(row, brute_force_log_density(q, x, a, b), rtol=1e-12, atol=1e-10)
    torch.testing.assert_close(Kernel(x).log_density(q, 0.7, 0.5), got[1])


def test_kernel_moments_are_the_data_mean_and_covariance():
    g = torch.Generator().manual_seed(14)
    x = torch.randn(500, 3, generator=g, dtype=f64) @ torch.tensor([[1.0, 0.5, 0], [0, 1, 0], [0, 0, 2]], dtype=f64)
    mean, cov = Kernel(x).moments()
    torch.testing.assert_close(mean, x.mean(0))
    torch.testing.assert_close(cov, torch.cov(x.T) * 499 / 500)


def test_moments_leave_a_single_weighted_point_as_it_was():
    # torch.cov(aweights=...) centres a one-row input in place: the kernel's data must survive
    x = torch.tensor([[1.0, -2.0, 0.5]], dtype=f64)
    mean, cov = Kernel(x, log_weights=torch.zeros(1, dtype=f64)).moments()
    torch.testing.assert_close(x, torch.tensor([[1.0, -2.0, 0.5]], dtype=f64))
    torch.testing.assert_close(mean, x[0])
    torch.testing.assert_close(cov, torch.zeros(3, 3, dtype=f64))


def _spread_log_density(z, x, var, a, b, log_w=None):
    """log sum_n w_n N(z; a x_n, (a^2 k_n^2 + b^2) I), brute force."""
    s2 = a * a * var + b * b
    d = x.shape[1]
    d2 = ((z[:, None, :] - a * x[None, :, :]) ** 2).sum(-1)
    lw = torch.full((x.shape[0],), -math.log(x.shape[0]), dtype=f64) if log_w is None else log_w - torch.logsumexp(log_w, 0)
    return torch.logsumexp(lw - 0.5 * d2 / s2 - 0.5 * d * torch.log(2 * math.pi * s2), dim=1)


@pytest.mark.parametrize("d, a, b, weighted", [(2, 0.9, 0.3, False), (3, 0.99, 0.02, True), (20, 0.7, 0.5, False)])
def test_spread_kernel_score_and_density_match_autograd_of_the_mixture(d, a, b, weighted):
    # points with their own variances: the denoiser gives the score of the diffused mixture,
    # and log_density its value, against autograd of the brute-force log-density
    g = torch.Generator().manual_seed(7)
    x = torch.randn(200, d, generator=g, dtype=f64)
    var = 0.3 * torch.rand(200, generator=g, dtype=f64) ** 2
    var[0] = 0.0
    log_w = torch.randn(200, generator=g, dtype=f64) if weighted else None
    z = (a * x[:30] + b * torch.randn(30, d, generator=g, dtype=f64)).requires_grad_(True)
    ref = _spread_log_density(z, x, var, a, b, log_w)
    (want,) = torch.autograd.grad(ref.sum(), z)
    k = Kernel(x, 4000, log_weights=log_w, variances=var)
    z = z.detach()
    got = (a * k.denoise(z, a, b, precision="float64") - z) / (b * b)
    torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-8 / b**2)
    torch.testing.assert_close(k.log_density(z, a, b), ref.detach(), rtol=1e-12, atol=1e-10)
    # auto precision stays within the tolerance of the exact denoiser
    scale = x.abs().max().item()
    torch.testing.assert_close(k.denoise(z, a, b), k.denoise(z, a, b, precision="float64"), rtol=0, atol=2e-3 * scale)
    # zero variances are the empirical kernel
    torch.testing.assert_close(Kernel(x, variances=torch.zeros(200, dtype=f64)).denoise(z, a, b, precision="float64"),
                               Kernel(x).denoise(z, a, b, precision="float64"), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_error_bound_holds_for_spread_logits(dtype):
    g = torch.Generator().manual_seed(8)
    ratios = []
    for d, a, b, shift in [(2, 0.9, 0.5, 0.0), (10, 0.95, 0.2, 3.0), (64, 0.95, 0.3, 0.0), (3, 0.99, 0.05, 20.0)]:
        x = torch.randn(300, d, generator=g, dtype=f64) + shift
        var = 0.2 * torch.rand(300, generator=g, dtype=f64)
        z = torch.cat([a * x[:50] + b * torch.randn(50, d, generator=g, dtype=f64),
                       3 * torch.randn(4, d, generator=g, dtype=f64)])
        k = Kernel(x.to(dtype), 2**30, variances=var)
        s2 = a * a * var + b * b
        xc = x.to(dtype).double()
        # the product carries -|z|^2 / (2 s_n^2) itself, so the logits are the log-densities
        # up to the row's -d/2 log 2 pi
        exact = -0.5 * ((z[:, None] - a * xc[None]) ** 2).sum(-1) / s2 - 0.5 * d * s2.log()
        (_, got), = k.logits(z, a, b, dtype)
        err = float((got.double() - exact).abs().max())
        lw = 0.5 * d * float(s2.log().abs().max())
        bound = logit_error_bound(a, b, float(z.norm(dim=1).max()), float(x.norm(dim=1).max()),
                                  torch.finfo(dtype).eps, d, lw, quadratic=True)
        assert err <= bound
        ratios.append(err / bound)
    assert max(ratios) > 1e-4


def test_spread_moments_add_the_mean_variance():
    x = torch.tensor([[0.0, 0.0], [2.0, 0.0]], dtype=f64)
    mean, cov = Kernel(x, variances=torch.tensor([1.0, 3.0], dtype=f64)).moments()
    torch.testing.assert_close(mean, torch.tensor([1.0, 0.0], dtype=f64))
    torch.testing.assert_close(cov, torch.tensor([[3.0, 0.0], [0.0, 2.0]], dtype=f64))
    with pytest.raises(ValueError, match="non-negative"):
        Kernel(x, variances=torch.tensor([1.0, -1.0], dtype=f64))
