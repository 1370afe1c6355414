"""Training-free denoiser and score against a Gaussian closed form and a brute-force mixture."""

import pytest
import torch

from sklearn_diffgen.schedules import SCHEDULES
from sklearn_diffgen.score import choose_precision, denoise, logit_error_bound, minibatch, score

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


def test_error_bound_holds_for_float32_logits():
    # the measured float32 logit error stays under the bound, in high dimension too
    g = torch.Generator().manual_seed(6)
    for d, a, b in [(2, 0.9, 0.5), (64, 0.95, 0.3)]:
        x = torch.randn(300, d, generator=g, dtype=f64)
        z = a * x[:50] + b * torch.randn(50, d, generator=g, dtype=f64)
        exact = (a * z @ x.T - 0.5 * a * a * (x * x).sum(1)) / b**2
        x32, z32 = x.float(), z.float()
        approx = (a * z32 @ x32.T - 0.5 * a * a * (x32 * x32).sum(1)) / b**2
        err = float((approx.double() - exact).abs().max())
        bound = logit_error_bound(a, b, float(z.norm(dim=1).max()), float(x.norm(dim=1).max()),
                                  torch.finfo(torch.float32).eps, d)
        assert err <= bound


def test_denoise_rejects_zero_noise():
    with pytest.raises(ValueError, match="positive"):
        denoise(torch.zeros(1, 1), torch.zeros(1, 1), 1.0, 0.0)


def test_minibatch_draws_distinct_rows_reproducibly():
    x = torch.arange(100.0)[:, None]
    a = minibatch(x, 30, torch.Generator().manual_seed(0))
    b = minibatch(x, 30, torch.Generator().manual_seed(0))
    assert a.shape == (30, 1) and torch.equal(a, b)
    assert a.unique().numel() == 30
    assert minibatch(x, None, torch.Generator()) is x
    assert minibatch(x, 1000, torch.Generator()) is x


def test_schedule_start_gives_data_mean():
    # a(1) = 0 in the paper's schedule: every weight is equal and D is the mean
    x = torch.tensor([[0.0], [3.0]], dtype=f64)
    s = SCHEDULES["paper"]
    d = denoise(torch.randn(5, 1, dtype=f64), x, s.alpha(1.0), s.sigma(1.0))
    torch.testing.assert_close(d, torch.full((5, 1), 1.5, dtype=f64))
