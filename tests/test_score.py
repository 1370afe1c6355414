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


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_error_bound_holds_for_the_logits_denoise_computes(dtype):
    # the logits of denoise's own blocks, against exact ones, stay under the bound: in high
    # dimension, near the data and far from it, and for data far from the origin, where
    # the bias term dominates
    from sklearn_diffgen.score import Workspace, _logit_blocks

    g = torch.Generator().manual_seed(6)
    ratios = []
    for d, a, b, shift in [(2, 0.9, 0.5, 0.0), (10, 0.95, 0.2, 0.0), (10, 0.9, 0.3, 6.0),
                           (64, 0.95, 0.3, 0.0), (3, 0.99, 0.05, 20.0)]:
        x = torch.randn(400, d, generator=g, dtype=f64) + shift
        z = a * x[:60] + b * torch.randn(60, d, generator=g, dtype=f64)
        z = torch.cat([z, 3 * torch.randn(4, d, generator=g, dtype=f64)])  # and far from it
        xc, zc = x.to(dtype), z.to(dtype)
        exact = (a * z.to(dtype).double() @ xc.double().T - 0.5 * a * a * (xc.double() ** 2).sum(1)) / b**2
        (_, got), = _logit_blocks(zc, xc, a, b, None, 2**30, Workspace())
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


# ------------------------------------------------------------- nearest-neighbour truncation


def brute_force_weights(z, x, a, b):
    """Softmax weights of -|z - a x_n|^2 / (2 b^2), one explicit row per query, in float64."""
    d2 = ((z[:, None, :] - a * x[None, :, :]) ** 2).sum(-1)
    return torch.softmax(-d2 / (2 * b * b), dim=1)


@pytest.mark.parametrize("b, expect_truncated", [(0.003, True), (0.7, False)])
def test_topk_matches_exact_denoiser_within_bound(b, expect_truncated):
    from sklearn_diffgen.score import denoise_topk

    g = torch.Generator().manual_seed(7)
    x = torch.randn(3000, 2, generator=g, dtype=f64)
    a, k, tol = 0.999, 32, 1e-6
    z = a * x[:200] + b * torch.randn(200, 2, generator=g, dtype=f64)
    got, mask = denoise_topk(z, x, a, b, k, tol=tol, precision="float64", return_mask=True)
    w = brute_force_weights(z, x, a, b)
    want = w @ x
    assert bool(mask.any()) == expect_truncated and bool(mask.all()) == expect_truncated
    err = (got - want).norm(dim=1)
    assert float(err.max()) <= 2 * tol * float(x.norm(dim=1).max())
    if not expect_truncated:  # every row fell back to the full softmax
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    # the mass dropped from each truncated row is below the tolerance, as the bound says
    kept = torch.zeros_like(w).scatter_(1, torch.topk(w, k, dim=1).indices, 1.0)
    dropped = (w * (1 - kept)).sum(1)
    if expect_truncated:
        assert float(dropped[mask].max()) <= tol


def test_topk_with_k_at_least_n_is_exact():
    from sklearn_diffgen.score import denoise_topk

    g = torch.Generator().manual_seed(8)
    x = torch.randn(20, 3, generator=g, dtype=f64)
    z = torch.randn(5, 3, generator=g, dtype=f64)
    torch.testing.assert_close(denoise_topk(z, x, 0.9, 0.1, 20), denoise(z, x, 0.9, 0.1))


def test_truncated_denoiser_follows_a_trajectory_exactly():
    # points drifting towards the data as sigma shrinks: the cached neighbours are reused,
    # and every call stays within 2 tol max|x| of the exact denoiser
    from sklearn_diffgen.score import TruncatedDenoiser

    g = torch.Generator().manual_seed(9)
    x = torch.randn(4000, 2, generator=g, dtype=f64)
    tol = 1e-6
    den = TruncatedDenoiser(x, 32, tol, sigma_first=0.05)
    target = x[:100] + 0.02 * torch.randn(100, 2, generator=g, dtype=f64)
    worst = 0.0
    for i, sigma in enumerate([0.2, 0.04, 0.02, 0.01, 0.005, 0.0025]):
        y = target + sigma * torch.randn(100, 2, generator=g, dtype=f64) * 0.3
        got = den(y, 1.0, sigma, precision="float64")
        worst = max(worst, float((got - brute_force_weights(y, x, 1.0, sigma) @ x).norm(dim=1).max()))
    assert worst <= 2 * tol * float(x.norm(dim=1).max())
    st = den.stats
    assert st["rows"] == 600 and st["cached"] > 100 and st["topk"] > 0
    assert st["cached"] + st["topk"] + st["exact"] == st["rows"]


def test_truncated_denoiser_validates():
    from sklearn_diffgen.score import TruncatedDenoiser

    x = torch.zeros(5, 1, dtype=f64)
    with pytest.raises(ValueError, match="tol"):
        TruncatedDenoiser(x, 2, tol=0.0)
    with pytest.raises(ValueError, match="k must"):
        TruncatedDenoiser(x, 0)


def test_workspace_is_reused_and_regrown():
    from sklearn_diffgen.score import Workspace

    ws = Workspace()
    a = ws.block(10, 10, f64, "cpu")
    b = ws.block(5, 10, torch.float32, "cpu")
    assert a.data_ptr() == b.data_ptr() and ws.nbytes == 800
    ws.block(20, 10, f64, "cpu")
    assert ws.nbytes == 1600
    # denoise gives the same answer with a shared workspace of any prior contents
    g = torch.Generator().manual_seed(10)
    x, z = torch.randn(50, 2, generator=g, dtype=f64), torch.randn(7, 2, generator=g, dtype=f64)
    ws.block(20, 10, f64, "cpu").fill_(float("nan"))
    torch.testing.assert_close(denoise(z, x, 0.8, 0.3, workspace=ws), denoise(z, x, 0.8, 0.3))


def test_workspace_caches_the_cast_data_until_it_changes():
    from sklearn_diffgen.score import Workspace

    g = torch.Generator().manual_seed(11)
    x, z = torch.randn(60, 3, generator=g, dtype=f64), torch.randn(9, 3, generator=g, dtype=f64)
    ws = Workspace()
    xc, xt = ws.data(x, torch.float32)
    assert ws.data(x, torch.float32)[0] is xc and ws.data(x, torch.float32)[1] is xt
    torch.testing.assert_close(xt, x.float().T)
    for prec in ("float32", "float64"):
        kw = dict(precision=prec, workspace=ws)
        torch.testing.assert_close(denoise(z, x, 0.8, 0.3, **kw), denoise(z, x, 0.8, 0.3, precision=prec))
        # an in-place change of x, and a new tensor of the same shape, are seen
        x.mul_(2.0)
        torch.testing.assert_close(denoise(z, x, 0.8, 0.3, **kw), denoise(z, x, 0.8, 0.3, precision=prec))
        y = torch.randn(60, 3, generator=g, dtype=f64)
        torch.testing.assert_close(denoise(z, y, 0.8, 0.3, **kw), denoise(z, y, 0.8, 0.3, precision=prec))
        want = brute_force_weights(z, y, 0.8, 0.3) @ y
        torch.testing.assert_close(denoise(z, y, 0.8, 0.3, **kw), want, rtol=0, atol=1e-4)


def test_schedule_start_skips_the_block_and_matches_uniform_weights():
    from sklearn_diffgen.score import Workspace

    g = torch.Generator().manual_seed(12)
    x, z = torch.randn(80, 4, generator=g, dtype=f64), torch.randn(6, 4, generator=g, dtype=f64)
    ws = Workspace()
    d = denoise(z, x, 0.0, 1.0, workspace=ws)
    assert ws.nbytes == 0  # no (queries x data) block was filled
    torch.testing.assert_close(d, brute_force_weights(z, x, 0.0, 1.0) @ x, rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="positive"):
        denoise(z, x, 0.0, 0.0)
