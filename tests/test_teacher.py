"""The teacher's closed-form density and log-determinants, against KernelDensity and autograd."""

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from sklearn.neighbors import KernelDensity

from sklearn_diffgen.labeling import make_labels
from sklearn_diffgen.networks import MLP
from sklearn_diffgen.schedules import SCHEDULES
from sklearn_diffgen.teacher import (AUTO_TEACHERS, Teacher, TeacherChoice, abramson_widths, build_teacher,
                                     cross_validated_log_likelihood, cross_validated_mixture_log_likelihood,
                                     mixture_teacher, select_teacher, standard_normal_log_density, variance_scale)
from sklearn_diffgen.training import fit_regression, logdet_loss

SCHED = SCHEDULES["paper"]


@pytest.mark.parametrize("budget", [10**3, 10**8])
def test_teacher_density_is_kernel_density(budget):
    g = torch.Generator().manual_seed(0)
    data = torch.randn(300, 3, generator=g, dtype=torch.float64)
    x = 2 * torch.randn(40, 3, generator=g, dtype=torch.float64)
    out = Teacher(data, 0.2).log_prob(x, budget_bytes=budget).numpy()
    d2 = ((x.numpy()[:, None] - data.numpy()[None]) ** 2).sum(-1)
    brute = logsumexp(-d2 / (2 * 0.04), axis=1) - math.log(300) - 1.5 * math.log(2 * math.pi * 0.04)
    np.testing.assert_allclose(out, brute, rtol=1e-12)
    # KernelDensity agrees where its tree search is exact (it drifts far in the tails)
    ref = KernelDensity(bandwidth=0.2).fit(data.numpy()).score_samples(x.numpy())
    bulk = brute > -20
    np.testing.assert_allclose(out[bulk], ref[bulk], rtol=1e-8)


def _denoiser(z, a, b, data):
    logits = -((z[:, None, :] - a * data[None]) ** 2).sum(-1) / (2 * b * b)
    return torch.softmax(logits, dim=1) @ data


def _rk4_map(z, data, t_end, n_steps=600):
    """The probability-flow ODE dz/dt = a' D(z) + b' (z - a D(z)) / b, by RK4 from t = 1, in plain torch."""

    def velocity(z, t):
        a, b = 1.0 - t, math.sqrt(t)
        D = _denoiser(z, a, b, data)
        return -D + (0.5 / b) * (z - a * D) / b

    ts = torch.linspace(1.0, t_end, n_steps + 1, dtype=torch.float64).tolist()
    for t0, t1 in zip(ts[:-1], ts[1:]):
        h = t1 - t0
        k1 = velocity(z, t0)
        k2 = velocity(z + 0.5 * h * k1, t0 + 0.5 * h)
        k3 = velocity(z + 0.5 * h * k2, t0 + 0.5 * h)
        k4 = velocity(z + h * k3, t1)
        z = z + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return z / (1.0 - t_end)


def test_logdet_targets_match_autograd_through_the_teacher_map():
    # the closed form log N(z) - log p_h(T(z)) against the Jacobian of T by autograd
    g = torch.Generator().manual_seed(1)
    data = torch.randn(6, 2, generator=g, dtype=torch.float64)
    h = 0.4
    t_end = SCHED.t_from_ratio(h)
    z = torch.randn(8, 2, generator=g, dtype=torch.float64)
    z.requires_grad_(True)
    x = _rk4_map(z, data, t_end)
    # rows are independent, so the gradient of column k summed over rows is row k of each Jacobian
    J = torch.stack([torch.autograd.grad(x[:, k].sum(), z, retain_graph=True)[0] for k in range(2)], dim=1)
    x, z = x.detach(), z.detach()
    autograd = torch.linalg.slogdet(J).logabsdet
    closed = Teacher(data, h).logdet_targets(z, x)
    np.testing.assert_allclose(closed.numpy(), autograd.numpy(), atol=2e-3)
    # and the package's solver reaches the same labels
    z2, labels = make_labels(Teacher(data, h), 8, SCHED, 61, solver="dpmpp_3m",
                             generator=torch.Generator().manual_seed(5))
    np.testing.assert_allclose(labels.numpy(), _rk4_map(z2, data, t_end).numpy(), atol=2e-3)


def test_logdet_targets_for_a_gaussian_are_the_linear_map():
    # one centre: T(z) = c + h z exactly, so the targets are d log h everywhere
    z = torch.randn(10, 3, dtype=torch.float64)
    c = torch.tensor([[1.0, -2.0, 0.5]], dtype=torch.float64)
    out = Teacher(c, 0.3).logdet_targets(z, c + 0.3 * z)
    np.testing.assert_allclose(out.numpy(), 3 * math.log(0.3), atol=1e-12)
    assert torch.allclose(standard_normal_log_density(torch.zeros(1, 3, dtype=torch.float64)),
                          torch.tensor([-1.5 * math.log(2 * math.pi)], dtype=torch.float64))


def test_logdet_loss_is_zero_at_the_target_and_pulls_towards_it():
    g = torch.Generator().manual_seed(0)
    u = torch.randn(512, 2, generator=g)
    v = 2.0 * u  # values say det = 4
    target = torch.full((512,), 2 * math.log(3.0))  # the log-det targets say det = 9
    dets = {}
    for w in (0.0, 10.0):
        net = MLP(2, 2, (), generator=torch.Generator().manual_seed(1))
        fit_regression(net, u, v, generator=torch.Generator().manual_seed(2), max_iter=60, learning_rate_init=0.02, batch_size=32,
                       logdet_targets=target, logdet_weight=w, early_stopping=False, tol=0)
        dets[w] = float(torch.linalg.det(net.net[0].weight.detach()).abs())
    assert abs(dets[0.0] - 4.0) < 0.05
    assert dets[10.0] > 4.5  # the Jacobian term moved the fit towards det 9
    lin = MLP(2, 2, (), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        lin.net[0].weight.copy_(3 * torch.eye(2))
    assert float(logdet_loss(lin, u[:8], target[:8]).detach()) < 1e-10


@pytest.mark.parametrize("correction", [False, True])
def test_cross_validated_log_likelihood_is_brute_force(correction):
    # fold k: rows perm[k::K] scored under the mixture of N(c x_n, c^2 h^2 I) over the others
    g = torch.Generator().manual_seed(0)
    x = torch.randn(61, 3, generator=g, dtype=torch.float64) @ torch.tensor(
        [[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 0.2]], dtype=torch.float64)
    hs = [0.1, 0.4, 3.0]
    out = cross_validated_log_likelihood(x, hs, variance_correction=correction, n_folds=4,
                                         generator=torch.Generator().manual_seed(5), budget_bytes=2000)
    perm = torch.randperm(61, generator=torch.Generator().manual_seed(5)).numpy()
    X = x.numpy()
    for i, h in enumerate(hs):
        c = 1 / math.sqrt(1 + h * h) if correction else 1.0
        folds = []
        for k in range(4):
            val = X[perm[np.arange(61) % 4 == k]]
            train = X[perm[np.arange(61) % 4 != k]]
            d2 = ((val[:, None] - c * train[None]) ** 2).sum(-1)
            s2 = (c * h) ** 2
            logp = logsumexp(-d2 / (2 * s2), axis=1) - math.log(len(train)) - 1.5 * math.log(2 * math.pi * s2)
            folds.append(logp.mean())
        assert float(out[i]) == pytest.approx(np.mean(folds), rel=1e-10)
    with pytest.raises(ValueError, match="n_folds"):
        cross_validated_log_likelihood(x, hs, n_folds=1)


def test_variance_corrected_teacher_tends_to_the_gaussian_fit():
    # q_h = mean of N(c x_n, c^2 h^2 I): as h grows it tends to N(mean, covariance) of the
    # data (here whitened: N(0, I)), at rate O(1/h^2) in the log-density
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 2, generator=g, dtype=torch.float64)
    x = (x - x.mean(0)) / x.std(0, unbiased=False)
    pts = torch.randn(50, 2, generator=g, dtype=torch.float64)
    want = standard_normal_log_density(pts)
    errs = [float((Teacher(x, h, variance_scale(h)).log_prob(pts) - want).abs().max()) for h in (2.0, 10.0, 50.0)]
    assert errs[2] < 2e-3 and errs[1] < 0.05 and errs[0] > 5 * errs[1]


def test_variance_corrected_logdet_targets_add_d_log_c():
    # the corrected map is c T: its log-determinant is that of T plus d log c, and the
    # teacher with scale c must say so
    g = torch.Generator().manual_seed(0)
    data = torch.randn(200, 3, generator=g, dtype=torch.float64)
    z = torch.randn(30, 3, generator=g, dtype=torch.float64)
    labels = data[:30] + 0.4 * torch.randn(30, 3, generator=g, dtype=torch.float64)
    h = 0.4
    c = variance_scale(h)
    plain = Teacher(data, h).logdet_targets(z, labels)
    corrected = Teacher(data, h, c).logdet_targets(z, c * labels)
    torch.testing.assert_close(corrected, plain + 3 * math.log(c))


def test_corrected_teacher_is_the_mixture_of_scaled_centres():
    # q(u) = mean_n N(u; c x_n, c^2 h^2 I), brute force
    g = torch.Generator().manual_seed(2)
    data, u = torch.randn(40, 2, generator=g, dtype=torch.float64), torch.randn(7, 2, generator=g, dtype=torch.float64)
    h, c = 0.6, variance_scale(0.6)
    d2 = ((u.numpy()[:, None] - c * data.numpy()[None]) ** 2).sum(-1)
    s2 = (c * h) ** 2
    brute = logsumexp(-d2 / (2 * s2), axis=1) - math.log(40) - math.log(2 * math.pi * s2)
    np.testing.assert_allclose(Teacher(data, h, c).log_prob(u).numpy(), brute, rtol=1e-12)
    assert Teacher(data, h, c).width == pytest.approx(c * h)


@pytest.mark.parametrize("whiten, correction", [("auto", "auto"), (False, "auto"), ("auto", False)])
def test_select_teacher_picks_the_best_cross_validated_candidate(whiten, correction):
    # brute force: score every candidate with cross_validated_log_likelihood on the same
    # folds (whitened ones get log|det W|) and take the best
    g = torch.Generator().manual_seed(3)
    x = torch.randn(300, 2, generator=g, dtype=torch.float64) @ torch.tensor([[1.0, 0.9], [0.0, 0.4]],
                                                                             dtype=torch.float64)
    x = (x - x.mean(0)) / x.std(0, unbiased=False)
    lam, V = torch.linalg.eigh(x.T @ x / 300)
    W, logdet = (V / lam.sqrt()) @ V.T, float(-0.5 * lam.log().sum())
    choice = select_teacher(x, 300, "auto", whiten, correction, whitening=(W, logdet), fold_seed=7)
    grid = [*(300 ** (-1 / 6) * torch.logspace(-1.3, 0.3, 17, dtype=torch.float64)).tolist(), 2.5, 5.0, 10.0]
    best = (-math.inf, None)
    for w in ([False, True] if whiten == "auto" else [whiten]):
        for c in ([False, True] if correction == "auto" else [correction]):
            cv = cross_validated_log_likelihood(x @ W if w else x, grid, variance_correction=c,
                                                generator=torch.Generator().manual_seed(7))
            for h, v in zip(grid, cv.tolist()):
                if v + (logdet if w else 0.0) > best[0]:
                    best = (v + (logdet if w else 0.0), (h, w, c))
    assert (choice.bandwidth, choice.whiten, choice.variance_correction) == best[1]
    assert choice.score == pytest.approx(best[0], rel=1e-12)
    if whiten == "auto":
        assert choice.whiten  # strongly correlated columns: whitening wins


def test_select_teacher_rescales_a_subset_bandwidth_and_passes_fixed_settings_through():
    x = torch.randn(200, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    W = (torch.eye(2, dtype=torch.float64), 0.0)
    sub = select_teacher(x, 200, "auto", False, False, whitening=W)
    full = select_teacher(x, 20000, "auto", False, False, whitening=W)
    assert full.bandwidth == pytest.approx(sub.bandwidth * (200 / 20000) ** (1 / 6))
    fixed = select_teacher(x, 200, 0.3, True, False, whitening=W)
    assert fixed[:3] == (0.3, True, False) and math.isnan(fixed.score)
    assert select_teacher(x, 10**6, "scott", False, True, whitening=W).bandwidth == pytest.approx(0.1)


# ----------------------------------------------------------------- the adaptive teacher
def _adaptive_widths_brute(x, pilot, h, alpha):
    d = x.shape[1]
    d2 = ((x[:, None] - pilot[None]) ** 2).sum(-1)
    log_f = logsumexp(-d2 / (2 * h * h), axis=1) - math.log(len(pilot)) - 0.5 * d * math.log(2 * math.pi * h * h)
    return np.exp(-alpha * (log_f - log_f.mean()))


def test_abramson_widths_are_the_square_root_law():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(80, 2, generator=g, dtype=torch.float64) ** 3
    lam = abramson_widths(x, 0.3).numpy()
    np.testing.assert_allclose(lam, _adaptive_widths_brute(x.numpy(), x.numpy(), 0.3, 0.5), rtol=1e-10)
    assert abs(np.log(lam).mean()) < 1e-12  # geometric mean 1
    # with a subset as pilot, each other row joins its own pilot: its density is that of pilot + row
    got = abramson_widths(x, 0.3, pilot_rows=torch.arange(20)).numpy()
    X, S = x.numpy(), x.numpy()[:20]
    log_f = np.array([np.log(np.exp(-(((S if n < 20 else np.vstack([S, r])) - r) ** 2).sum(1) / 0.18).mean()
                             / (2 * math.pi * 0.09)) for n, r in enumerate(X)])
    np.testing.assert_allclose(got, np.exp(-0.5 * (log_f - log_f.mean())), rtol=1e-8)


def test_adaptive_teacher_density_is_the_adaptive_mixture():
    g = torch.Generator().manual_seed(1)
    data = torch.randn(150, 3, generator=g, dtype=torch.float64)
    lam = abramson_widths(data, 0.4)
    u = torch.randn(30, 3, generator=g, dtype=torch.float64)
    t = Teacher(data, 0.4, 0.9, widths=lam)
    w = (0.9 * 0.4 * lam).numpy()
    d2 = ((u.numpy()[:, None] - 0.9 * data.numpy()[None]) ** 2).sum(-1)
    brute = logsumexp(-d2 / (2 * w**2) - 3 * np.log(w), axis=1) - math.log(150) - 1.5 * math.log(2 * math.pi)
    np.testing.assert_allclose(t.log_prob(u, budget_bytes=3000).numpy(), brute, rtol=1e-12)
    assert t.kind == "adaptive" and t.ode_bandwidth == pytest.approx(0.4 * float(lam.min()))
    assert t.without_data().widths is None and t.without_data().kind == "adaptive" and t.to("cpu").widths is lam


def test_adaptive_labels_are_the_quantile_map_in_one_dimension():
    # in 1-D the ODE map is the monotone map that pushes N(0, 1) onto the teacher: its
    # quantile transform F^-1(Phi(z)), here of a mixture of widths h * lambda_n
    from scipy.optimize import brentq
    from scipy.stats import norm
    data = torch.tensor([[-1.5], [-1.2], [0.0], [0.1], [0.15], [2.0]], dtype=torch.float64)
    h = 0.3
    lam = abramson_widths(data, h)
    assert float(lam.max() / lam.min()) > 1.5  # the widths differ
    teacher = Teacher(data, h, widths=lam)
    z, labels = make_labels(teacher, 64, SCHED, 200, solver="dpmpp_3m", generator=torch.Generator().manual_seed(3))
    mu, sd = data.numpy()[:, 0], h * lam.numpy()
    cdf = lambda v: norm.cdf((v - mu) / sd).mean()  # noqa: E731
    want = np.array([brentq(lambda v: cdf(v) - norm.cdf(zi), -20, 20, xtol=1e-12) for zi in z.numpy()[:, 0]])
    np.testing.assert_allclose(labels.numpy()[:, 0], want, atol=2e-3)
    # and the log-det targets are the quantile map's log-derivative
    q = np.exp(teacher.log_prob(labels).numpy())
    np.testing.assert_allclose(teacher.logdet_targets(z, labels).numpy(), np.log(norm.pdf(z.numpy()[:, 0]) / q),
                               rtol=1e-10)


@pytest.mark.parametrize("correction", [False, True])
def test_adaptive_cross_validated_log_likelihood_is_brute_force(correction):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(40, 2, generator=g, dtype=torch.float64) ** 3
    hs = [0.2, 0.5]
    out = cross_validated_log_likelihood(x, hs, variance_correction=correction, n_folds=3, kind="adaptive",
                                         generator=torch.Generator().manual_seed(4))
    perm = torch.randperm(40, generator=torch.Generator().manual_seed(4)).numpy()
    X = x.numpy()
    for i, h in enumerate(hs):
        folds = []
        for k in range(3):
            val, train = X[perm[np.arange(40) % 3 == k]], X[perm[np.arange(40) % 3 != k]]
            lam = _adaptive_widths_brute(train, train, h, 0.5)
            c = 1 / math.sqrt(1 + h * h * (lam**2).mean()) if correction else 1.0
            w = c * h * lam
            d2 = ((val[:, None] - c * train[None]) ** 2).sum(-1)
            folds.append((logsumexp(-d2 / (2 * w**2) - 2 * np.log(w), axis=1) - math.log(len(train))
                          - math.log(2 * math.pi)).mean())
        assert float(out[i]) == pytest.approx(np.mean(folds), rel=1e-10)


def test_select_teacher_picks_the_adaptive_teacher_for_heavy_tails():
    # Student-t data with 2 degrees of freedom: one width is too wide in the centre or too
    # narrow in the tails, and the adaptive teacher's cross-validated likelihood is higher
    x = torch.as_tensor(np.random.RandomState(0).standard_t(2, size=(600, 1)))
    x = (x - x.mean()) / x.std()
    W = (torch.eye(1, dtype=torch.float64), 0.0)
    kde = select_teacher(x, 600, "auto", False, False, whitening=W, teacher="kde")
    adaptive = select_teacher(x, 600, "auto", False, False, whitening=W, teacher="adaptive")
    auto = select_teacher(x, 600, "auto", False, False, whitening=W, teacher="auto")
    assert adaptive.score > kde.score + 0.02  # measured: +0.030 nats
    assert auto.kind == "adaptive" and auto.score == adaptive.score
    t = build_teacher(x, auto)
    assert t.kind == "adaptive" and float(t.widths.max() / t.widths.min()) > 3


# ------------------------------------------------------------------- the local teacher
def test_local_teacher_labels_are_the_gaussian_map():
    # one point with kernel N(x0, h^2 I + mu v v^T): the ODE map is x0 + Sigma^(1/2) z exactly
    x0 = torch.tensor([[1.0, -0.5, 2.0]], dtype=torch.float64)
    v = torch.tensor([1.0, 2.0, 2.0], dtype=torch.float64) / 3
    h, mu = 0.2, 1.5
    teacher = Teacher(x0, h, bases=v.reshape(1, 3, 1), local_variances=torch.tensor([[mu]], dtype=torch.float64))
    assert teacher.kind == "local" and teacher.ode_bandwidth == h
    # the solver's error falls as steps^-3 (1.6e-2 at 10 steps, 3.7e-4 at 30, 3e-7 at 300)
    z, labels = make_labels(teacher, 50, SCHED, 300, generator=torch.Generator().manual_seed(0))
    sigma = h * h * torch.eye(3, dtype=torch.float64) + mu * torch.outer(v, v)
    w, U = torch.linalg.eigh(sigma)
    root = U @ torch.diag(w.sqrt()) @ U.T
    np.testing.assert_allclose(labels.numpy(), (x0 + z @ root).numpy(), atol=2e-6)
    exact = teacher.logdet_targets(z, x0 + z @ root)  # of the exact map: log det Sigma^(1/2)
    np.testing.assert_allclose(exact.numpy(), 0.5 * float(torch.logdet(sigma)), atol=1e-10)


def test_select_teacher_picks_the_local_teacher_near_a_curve():
    # a noisy circle in 5-D: kernels along the curve beat one round width
    rng = np.random.RandomState(0)
    angle = rng.uniform(0, 2 * np.pi, 600)
    x = np.zeros((600, 5))
    x[:, 0], x[:, 1] = np.cos(angle), np.sin(angle)
    x = torch.as_tensor((x + 0.02 * rng.normal(size=x.shape)) @ np.linalg.qr(rng.normal(size=(5, 5)))[0])
    x = (x - x.mean(0)) / x.std(0)
    W = (torch.eye(5, dtype=torch.float64), 0.0)
    kde = select_teacher(x, 600, "auto", False, False, whitening=W, teacher="kde")
    local = select_teacher(x, 600, "auto", False, False, whitening=W, teacher="local")
    auto = select_teacher(x, 600, "auto", False, False, whitening=W, teacher="auto")
    assert local.score > kde.score + 0.5 and local.rank in (1, 4)  # measured: +1.19 nats, rank 4
    assert auto.kind in AUTO_TEACHERS  # the local teacher is chosen by hand
    t = build_teacher(x, local)
    assert t.kind == "local" and t.bases.shape == (600, 5, local.rank)
    with pytest.raises(ValueError, match="2 features"):
        select_teacher(x[:, :1], 600, "auto", False, False, whitening=(torch.eye(1, dtype=torch.float64), 0.0),
                       teacher="local")


# ------------------------------------------------------------------- the mixture teacher
def _three_clusters(rng, n=600):
    """Three 2-D clusters of very different spreads and shapes."""
    covs = [np.diag([0.05, 0.01]), np.array([[1.0, 0.8], [0.8, 1.0]]), np.diag([0.3, 2.0])]
    means = [np.array([-4.0, 0.0]), np.array([0.0, 3.0]), np.array([5.0, -2.0])]
    parts = [rng.multivariate_normal(m, c, size=n // 3) for m, c in zip(means, covs)]
    x = np.concatenate(parts)
    return torch.as_tensor((x - x.mean(0)) / x.std(0))


@pytest.mark.parametrize("a, b", [(1.0, 0.0), (0.8, 0.6), (0.3, 1.2)])
def test_mixture_teacher_diffuses_the_fitted_mixture(a, b):
    # brute force: p_t(z) = sum_k pi_k N(z; a mu_k, a^2 Sigma_k + b^2 I), and its score by autograd
    from scipy.stats import multivariate_normal
    from sklearn.mixture import GaussianMixture

    x = _three_clusters(np.random.RandomState(0))
    gm = GaussianMixture(3, random_state=0).fit(x.numpy())
    teacher = mixture_teacher(gm)
    kernel, h = teacher.kernel(), teacher.bandwidth
    # the kernel holds the rank-d part; its isotropic b' covers a h (the teacher's) and b (the noise's)
    b_kernel = math.sqrt(a * a * h * h + b * b)
    z = torch.randn(7, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ref = logsumexp([np.log(p) + multivariate_normal(a * m, a * a * c + b * b * np.eye(2)).logpdf(z.numpy())
                     for p, m, c in zip(gm.weights_, gm.means_, gm.covariances_)], axis=0)
    np.testing.assert_allclose(kernel.log_density(z, a, b_kernel).numpy(), ref, rtol=1e-10)
    if b > 0:  # Tweedie: E[x | z] = (z + b^2 grad log p_t(z)) / a
        zg = z.clone().requires_grad_(True)
        covs = torch.as_tensor(gm.covariances_) * a * a + b * b * torch.eye(2, dtype=torch.float64)
        comps = torch.distributions.MultivariateNormal(a * torch.as_tensor(gm.means_), covs)
        logp = torch.logsumexp(comps.log_prob(zg[:, None, :]) + torch.as_tensor(gm.weights_).log(), dim=1)
        (grad,) = torch.autograd.grad(logp.sum(), zg)
        # the kernel's denoiser is E[centre | z]; the data's is that plus a h^2-part: Tweedie on the
        # kernel's own diffusion (a, b') gives the kernel's
        np.testing.assert_allclose(kernel.denoise(z, a, b_kernel).numpy(),
                                   ((z + b_kernel**2 * grad) / a).numpy(), atol=1e-10)


def test_mixture_teacher_floors_eigenvalues_below_the_schedules_reach():
    from scipy.stats import multivariate_normal
    from sklearn.mixture import GaussianMixture

    x = _three_clusters(np.random.RandomState(0))
    gm = GaussianMixture(3, random_state=0).fit(x.numpy())
    smallest = float(np.linalg.eigvalsh(gm.covariances_).min())
    teacher = mixture_teacher(gm, min_width=2 * smallest**0.5)
    assert teacher.bandwidth == pytest.approx(2 * smallest**0.5) and teacher.ode_bandwidth == teacher.bandwidth
    floored = []  # each covariance with its eigenvalues raised to min_width^2
    for c in gm.covariances_:
        w, V = np.linalg.eigh(c)
        floored.append(V @ np.diag(np.maximum(w, teacher.bandwidth**2)) @ V.T)
    u = x[:9]
    ref = logsumexp([np.log(p) + multivariate_normal(m, c).logpdf(u.numpy())
                     for p, m, c in zip(gm.weights_, gm.means_, floored)], axis=0)
    np.testing.assert_allclose(teacher.log_prob(u).numpy(), ref, rtol=1e-10)


def test_one_component_mixture_labels_are_the_gaussian_map():
    # K = 1: the teacher is N(mu, Sigma) and the probability-flow map is mu + Sigma^(1/2) z
    from sklearn.mixture import GaussianMixture

    rng = np.random.RandomState(0)
    x = rng.multivariate_normal([1.0, -2.0, 0.5], [[1.0, 0.6, 0.2], [0.6, 1.0, 0.1], [0.2, 0.1, 0.5]], size=400)
    gm = GaussianMixture(1, random_state=0).fit(x)
    teacher = mixture_teacher(gm)
    z, labels = make_labels(teacher, 50, SCHED, 300, generator=torch.Generator().manual_seed(0))
    w, U = np.linalg.eigh(gm.covariances_[0])
    root = U @ np.diag(np.sqrt(w)) @ U.T
    np.testing.assert_allclose(labels.numpy(), gm.means_[0] + z.numpy() @ root, atol=2e-6)
    # the log-det targets of the exact map are log det Sigma^(1/2)
    exact = teacher.logdet_targets(z, torch.as_tensor(gm.means_[0] + z.numpy() @ root))
    np.testing.assert_allclose(exact.numpy(), 0.5 * np.linalg.slogdet(gm.covariances_[0])[1], atol=1e-8)


def test_mixture_cross_validation_is_sklearns_on_the_same_folds():
    from sklearn.mixture import GaussianMixture

    x = _three_clusters(np.random.RandomState(1), n=300)
    cv = cross_validated_mixture_log_likelihood(x, [1, 3], generator=torch.Generator().manual_seed(2), seed=5)
    perm = torch.randperm(300, generator=torch.Generator().manual_seed(2)).numpy()
    for j, k in enumerate([1, 3]):
        ref = np.mean([GaussianMixture(k, random_state=5).fit(x.numpy()[np.delete(perm, np.s_[f::3])])
                       .score(x.numpy()[perm[f::3]]) for f in range(3)])
        assert float(cv[j]) == pytest.approx(ref, abs=1e-10)


def test_select_teacher_picks_the_mixture_for_clusters_of_different_spreads():
    x = _three_clusters(np.random.RandomState(0))
    W = (torch.eye(2, dtype=torch.float64), 0.0)
    plain = select_teacher(x, 600, "auto", False, False, whitening=W, teacher="kde")
    gmm = select_teacher(x, 600, "auto", False, False, whitening=W, teacher="gmm")
    assert gmm.kind == "gmm" and gmm.n_components in (2, 4) and gmm.score > plain.score + 0.1
    assert not gmm.variance_correction
    t = build_teacher(x, gmm, seed=0)
    assert t.kind == "gmm" and t.data.shape == (gmm.n_components, 2)
    with pytest.raises(ValueError, match="sample weights"):
        select_teacher(x, 600, "auto", False, False, whitening=W, teacher="gmm",
                       log_weights=torch.zeros(600, dtype=torch.float64))
    with pytest.raises(ValueError, match="rows in each"):
        select_teacher(x[:3], 3, "auto", False, False, whitening=W, teacher="gmm")
    # a fixed bandwidth still cross-validates the number of components
    fixed = select_teacher(x, 600, 0.3, False, False, whitening=W, teacher="gmm")
    assert fixed.kind == "gmm" and fixed.n_components == gmm.n_components
    with pytest.raises(ValueError, match="sample weights"):
        build_teacher(x, TeacherChoice(0.3, False, False, math.nan, "gmm", n_components=2),
                      log_weights=torch.zeros(600, dtype=torch.float64))
