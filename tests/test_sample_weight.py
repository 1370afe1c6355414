"""``fit(X, sample_weight=w)`` and ``sample(n, return_log_prob=True)``: the weighted kernel, teacher,
cross-validation and estimator, and the log-density of drawn rows.

References: scikit-learn's ``KernelDensity(sample_weight=...)`` and ``StandardScaler``, brute
force softmax sums, and the same data with integer weights written out as repeated rows.
"""

import numpy as np
import pytest
import torch
from sklearn.neighbors import KernelDensity
from sklearn.preprocessing import StandardScaler

from sklearn_diffgen import DiffusionSupervisedGenerator as DSG
from sklearn_diffgen.labeling import make_labels
from sklearn_diffgen.preprocessing import standardisation, zca_whitening
from sklearn_diffgen.schedules import SCHEDULES
from sklearn_diffgen.score import Kernel
from sklearn_diffgen.teacher import Teacher, cross_validated_log_likelihood, effective_size

from conftest import FAST


@pytest.fixture
def weighted():
    """20 points in 3-D, integer weights 1..4 (one 0), and the same points repeated."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20, 3, generator=g, dtype=torch.float64)
    counts = torch.randint(1, 5, (20,), generator=g)
    counts[3] = 0
    return x, counts, x.repeat_interleave(counts, dim=0)


def test_weighted_log_density_is_kernel_density_with_sample_weight(weighted):
    x, counts, _ = weighted
    q = torch.randn(7, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    keep = counts > 0
    ref = KernelDensity(bandwidth=0.4).fit(x.numpy(), sample_weight=counts.numpy()).score_samples(q.numpy())
    got = Kernel(x[keep], log_weights=counts[keep].double().log()).log_density(q, 1.0, 0.4)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-10)


def test_integer_weights_act_as_repeated_rows(weighted):
    x, counts, repeated = weighted
    keep = counts > 0
    wk = Kernel(x[keep], log_weights=counts[keep].double().log())
    rk = Kernel(repeated)
    z = torch.randn(9, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    for a, b in [(0.9, 0.3), (0.5, 0.8), (0.0, 1.0)]:
        torch.testing.assert_close(wk.denoise(z, a, b, "float64"), rk.denoise(z, a, b, "float64"))
        torch.testing.assert_close(wk.log_density(z, a, b), rk.log_density(z, a, b))
    for mine, ref in zip(wk.moments(), rk.moments()):
        torch.testing.assert_close(mine, ref)
    assert effective_size(counts[keep].double().log(), int(keep.sum())) < int(keep.sum())


def test_weighted_denoiser_against_brute_force(weighted):
    x, counts, _ = weighted
    keep = counts > 0
    lw = counts[keep].double().log()
    xk = x[keep]
    z = 3 * torch.randn(5, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    a, b = 0.7, 0.2
    logits = lw - ((z[:, None, :] - a * xk[None]) ** 2).sum(-1) / (2 * b * b)
    ref = torch.softmax(logits, dim=1) @ xk
    k = Kernel(xk, log_weights=lw)
    torch.testing.assert_close(k.denoise(z, a, b, "float64"), ref)
    torch.testing.assert_close(k.denoise(z, a, b, "auto"), ref, rtol=1e-5, atol=1e-5)
    sub = k.subset(torch.tensor([0, 2, 5]))
    torch.testing.assert_close(sub.log_weights.exp().sum(), torch.tensor(1.0, dtype=torch.float64))


def test_weighted_cross_validation_against_kernel_density():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(30, 2, generator=g, dtype=torch.float64)
    w = torch.rand(30, generator=g, dtype=torch.float64) + 0.1
    cv = cross_validated_log_likelihood(x, [0.5], n_folds=3, generator=torch.Generator().manual_seed(1),
                                        log_weights=w.log())
    perm = torch.randperm(30, generator=torch.Generator().manual_seed(1))
    total = 0.0
    for k in range(3):
        val, train = perm[k::3], perm[[i for i in range(30) if i % 3 != k]]
        kde = KernelDensity(bandwidth=0.5).fit(x[train].numpy(), sample_weight=w[train].numpy())
        total += float((kde.score_samples(x[val].numpy()) * w[val].numpy()).sum())
    assert abs(float(cv[0]) - total / float(w.sum())) < 1e-10


def test_weighted_labels_follow_the_repeated_rows(weighted):
    x, counts, repeated = weighted
    keep = counts > 0
    sched = SCHEDULES["paper"]
    kw = dict(solver="dpmpp_3m", precision="float64")
    zw, lw = make_labels(Teacher(x[keep], 0.3, 0.9, counts[keep].double().log()), 50, sched, 8,
                         generator=torch.Generator().manual_seed(5), **kw)
    zr, lr = make_labels(Teacher(repeated, 0.3, 0.9), 50, sched, 8,
                         generator=torch.Generator().manual_seed(5), **kw)
    torch.testing.assert_close(zw, zr)
    torch.testing.assert_close(lw, lr)


def test_weighted_standardisation_and_whitening_match_repeated_rows(weighted):
    x, counts, repeated = weighted
    X, R, c = x.numpy() * [1.0, 3.0, 0.5] + 2.0, repeated.numpy() * [1.0, 3.0, 0.5] + 2.0, counts.numpy()
    w = c[c > 0] / c.sum()
    mine, ref = standardisation(X[c > 0], w), standardisation(R)
    np.testing.assert_allclose(mine.mean, ref.mean)
    np.testing.assert_allclose(mine.scale, ref.scale)
    scaler = StandardScaler().fit(X, sample_weight=c)
    np.testing.assert_allclose(mine.scale, scaler.scale_)
    Wm, lm = zca_whitening(mine.standardise(X[c > 0]), w)
    Wr, lr = zca_whitening(ref.standardise(R))
    np.testing.assert_allclose(Wm, Wr, atol=1e-10)
    assert abs(lm - lr) < 1e-10


def test_estimator_weights_equal_and_zero(moons):
    X = moons[0][:300]
    params = dict(FAST, random_state=0)
    base = DSG(**params).fit(X)
    ones = DSG(**params).fit(X, sample_weight=np.full(len(X), 2.5))
    np.testing.assert_array_equal(base.sample(50, random_state=1), ones.sample(50, random_state=1))
    w = np.ones(len(X))
    w[::3] = 0
    dropped = DSG(**params).fit(X, sample_weight=w)
    subset = DSG(**params).fit(X[w > 0])
    np.testing.assert_array_equal(dropped.sample(50, random_state=1), subset.sample(50, random_state=1))


def test_estimator_integer_weights_give_the_teacher_of_repeated_rows(moons):
    X = moons[0][:200]
    counts = np.random.RandomState(0).randint(0, 4, len(X))
    params = dict(FAST, bandwidth=0.2, whiten=True, variance_correction=True, keep_training_data=True,
                  random_state=0)
    weighted = DSG(**params).fit(X, sample_weight=counts)
    repeated = DSG(**params).fit(np.repeat(X, counts, axis=0))
    np.testing.assert_allclose(weighted.mean_, repeated.mean_)
    np.testing.assert_allclose(weighted.whitening_, repeated.whitening_, atol=1e-10)
    probe = moons[1][:20]
    np.testing.assert_allclose(weighted.score_samples(probe, method="teacher"),
                               repeated.score_samples(probe, method="teacher"), rtol=1e-10)


def test_weights_move_the_samples():
    """Two clusters weighted 9 : 1: the samples follow the weights, not the row counts."""
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(-3, 0.3, (200, 1)), rng.normal(3, 0.3, (200, 1))]
    w = np.r_[np.full(200, 9.0), np.ones(200)]
    est = DSG(**dict(FAST, keep_training_data=True, random_state=0)).fit(X, sample_weight=w)
    share = float((est.sample(4000, random_state=0)[:, 0] < 0).mean())
    assert 0.86 < share < 0.94
    # the teacher's clusters have the same shape, so its density ratio at their centres is 9
    centres = np.array([[X[:200].mean()], [X[200:].mean()]])
    log_ratio = np.subtract(*est.score_samples(centres, method="teacher"))
    assert abs(log_ratio - np.log(9)) < 0.2


@pytest.mark.parametrize("weights, match", [
    (-np.ones(10), "Negative"),
    (np.zeros(10), "zero"),
    (np.r_[1.0, np.zeros(9)], "at least two positive"),
    (np.r_[np.nan, np.ones(9)], "NaN|finite"),
    (np.ones(9), "shape|samples"),
])
def test_bad_sample_weight(weights, match, rng):
    est = DSG(**FAST)
    with pytest.raises(ValueError, match=match):
        est.fit(rng.normal(size=(10, 2)), sample_weight=weights)
    assert not hasattr(est, "generator_")


def test_sample_return_log_prob_is_score_samples(moons):
    """The log-densities of sample(return_log_prob=True), inverted from each row's own z, are
    score_samples of those rows; the rows are those of a plain sample. 5,000 rows also take the
    task path of the scoring (more than SCORE_TASK_ROWS)."""
    est = DSG(**dict(FAST, random_state=0)).fit(moons[0])
    S, logp = est.sample(5000, random_state=3, return_log_prob=True)
    np.testing.assert_array_equal(S, est.sample(5000, random_state=3))
    np.testing.assert_allclose(logp, est.score_samples(S), rtol=0, atol=1e-6)


def test_vanishing_weights_are_left_out(moons):
    """Weights that vanish once normalised (5e-324 against 1e10) are rows of weight 0."""
    X = moons[0][:200]
    w = np.full(len(X), 1e10)
    w[:50] = 5e-324
    with np.errstate(divide="raise", invalid="raise"):  # no log(0) on the way
        tiny = DSG(**dict(FAST, random_state=0)).fit(X, sample_weight=w)
    rest = DSG(**dict(FAST, random_state=0)).fit(X[50:])
    np.testing.assert_array_equal(tiny.sample(20, random_state=0), rest.sample(20, random_state=0))
