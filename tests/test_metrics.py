"""Sample-quality metrics against closed forms, scipy, brute-force loops and hand-computed cases."""

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import cdist, pdist
from sklearn import config_context
from threadpoolctl import threadpool_limits

from sklearn_diffgen.metrics import (
    _median_heuristic,
    c2st_accuracy,
    column_ks,
    column_wasserstein,
    correlation_gap,
    dcr_ratio,
    distance_to_closest_record,
    energy_distance,
    mmd,
    wasserstein_l1,
    coverage,
)

PAIR_METRICS = [energy_distance, mmd, c2st_accuracy, column_ks, column_wasserstein, correlation_gap,
                distance_to_closest_record]


def rbf(A, B, h):
    return np.exp(-cdist(A, B, "sqeuclidean") / (2 * h * h))


def u_statistic_se(Kxx, Kyy, Kxy):
    """First-order standard error of a two-sample U-statistic E h(X,X') + E h(Y,Y') - 2 E h(X,Y).

    Its Hoeffding projections are 2 (E[h(x, X')] - E[h(x, Y)]) for x and the same for y, so
    Var ~ Var_x / n + Var_y / m.
    """
    hx = 2 * Kxx.mean(1) - 2 * Kxy.mean(1)
    hy = 2 * Kyy.mean(1) - 2 * Kxy.mean(0)
    return math.sqrt(hx.var() / len(hx) + hy.var() / len(hy))


# --------------------------------------------------------------------------------------------
# energy distance


def test_identical_samples_score_zero():
    X = np.random.default_rng(0).normal(size=(300, 4))
    assert energy_distance(X, X.copy()) == 0.0
    assert correlation_gap(X, X.copy()) == 0.0
    np.testing.assert_array_equal(column_ks(X, X.copy()), np.zeros(4))
    np.testing.assert_array_equal(column_wasserstein(X, X.copy()), np.zeros(4))
    # and a shift is seen by all of them
    Y = X + [1.0, 0.0, 0.0, 0.0]
    assert energy_distance(X, Y) > 0.1
    assert column_ks(X, Y)[0] > 0.2 and column_wasserstein(X, Y)[0] == pytest.approx(1.0)


@pytest.mark.parametrize("n, m, ties", [(300, 200, False), (40, 40, False), (150, 90, True)])
def test_energy_distance_is_square_of_scipy_in_1d(n, m, ties):
    # scipy returns sqrt(2 E|X-Y| - E|X-X'| - E|Y-Y'|) with V-statistic (empirical) expectations
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=n), rng.standard_t(3, size=m) + 0.3
    if ties:
        x, y = np.round(x), np.round(y)
    got = energy_distance(x[:, None], y[:, None], max_samples=10_000)
    assert got == pytest.approx(stats.energy_distance(x, y) ** 2, rel=1e-10, abs=1e-14)


def folded_normal_mean(mu, sigma):
    return sigma * math.sqrt(2 / math.pi) * math.exp(-mu * mu / (2 * sigma * sigma)) + mu * (
        1 - 2 * stats.norm.cdf(-mu / sigma)
    )


@pytest.mark.parametrize("d, shift, n", [(1, 1.0, 1000), (3, 0.7, 600)])
def test_energy_distance_gaussian_closed_form(d, shift, n):
    # X ~ N(0, I), Y ~ N(mu, I): X - X' ~ N(0, 2 I), X - Y ~ N(-mu, 2 I), so |X - X'| / sqrt(2) is
    # chi(d) and |X - Y|^2 / 2 is noncentral chi-square(d, |mu|^2 / 2); in 1-D E|X - X'| = 2/sqrt(pi)
    # and E|X - Y| is the folded-normal mean.
    mu = np.full(d, shift)
    e_xx = math.sqrt(2) * stats.chi(d).mean()
    if d == 1:
        assert e_xx == pytest.approx(2 / math.sqrt(math.pi))
        e_xy = folded_normal_mean(shift, math.sqrt(2))
    else:
        e_xy = math.sqrt(2) * stats.ncx2(d, mu @ mu / 2).expect(np.sqrt)
    truth = 2 * e_xy - 2 * e_xx
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(n, d)), rng.normal(size=(n, d)) + mu
    got = energy_distance(X, Y)
    # the V-statistic's mean exceeds the truth by E|X-X'|/n + E|Y-Y'|/m
    expected = truth + 2 * e_xx / n
    se = u_statistic_se(cdist(X, X), cdist(Y, Y), cdist(X, Y))
    assert abs(got - expected) < 4 * se
    assert se < 0.15 * truth  # the check has power


# --------------------------------------------------------------------------------------------
# MMD


@pytest.mark.parametrize("d, s, h, shift, n", [(2, 1.0, 1.5, 0.5, 500), (5, 0.7, 2.0, 0.4, 400)])
def test_mmd_gaussian_closed_form(d, s, h, shift, n):
    # E k(U, V) for U - V ~ N(delta, 2 s^2 I) is (h^2/(h^2+2s^2))^(d/2) exp(-|delta|^2/(2(h^2+2s^2)))
    mu = np.full(d, shift)
    c = (h * h / (h * h + 2 * s * s)) ** (d / 2)
    truth = 2 * c * (1 - math.exp(-(mu @ mu) / (2 * (h * h + 2 * s * s))))
    rng = np.random.default_rng(3)
    X, Y = s * rng.normal(size=(n, d)), s * rng.normal(size=(n, d)) + mu
    got = mmd(X, Y, bandwidth=h)
    se = u_statistic_se(rbf(X, X, h), rbf(Y, Y, h), rbf(X, Y, h))
    assert abs(got - truth) < 4 * se
    assert se < 0.25 * truth


def test_mmd_matches_double_loop():
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(6, 3)), rng.normal(size=(5, 3)) + 0.5
    Z = np.vstack([X, Y])
    dists = [np.linalg.norm(Z[i] - Z[j]) for i in range(len(Z)) for j in range(i + 1, len(Z))]
    for bandwidth, h in [(0.8, 0.8), ("median", np.median(dists))]:
        def k(a, b):
            return math.exp(-np.sum((a - b) ** 2) / (2 * h * h))

        n, m = len(X), len(Y)
        kxx = sum(k(X[i], X[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
        kyy = sum(k(Y[i], Y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        kxy = sum(k(X[i], Y[j]) for i in range(n) for j in range(m)) / (n * m)
        assert mmd(X, Y, bandwidth=bandwidth) == pytest.approx(kxx + kyy - 2 * kxy, rel=1e-12)


def test_median_heuristic_is_median_of_pooled_pdist():
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(200, 3)), 2.0 * rng.normal(size=(150, 3))
    h = np.median(pdist(np.vstack([X, Y])))
    assert mmd(X, Y) == mmd(X, Y, bandwidth=h)
    assert mmd(X, Y) != mmd(X, Y, bandwidth=1.01 * h)


def test_median_heuristic_subsamples_rows_beyond_working_memory():
    Z = np.random.default_rng(6).normal(size=(700, 2))
    with config_context(working_memory=1):  # 1 MiB: sqrt(2^20 / 4) = 512 rows
        got = _median_heuristic(Z, np.random.RandomState(0))
    rows = np.random.RandomState(0).choice(700, 512, replace=False)
    assert got == np.median(pdist(Z[rows]))
    assert got == pytest.approx(np.median(pdist(Z)), rel=0.03)


def test_chunking_does_not_change_the_result():
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(700, 3)), rng.normal(size=(600, 3)) + 0.2
    whole = energy_distance(X, Y), mmd(X, Y, bandwidth=1.0)
    with config_context(working_memory=1):  # blocks of about 190 rows
        chunked = energy_distance(X, Y), mmd(X, Y, bandwidth=1.0)
    np.testing.assert_allclose(chunked, whole, rtol=1e-12)


# --------------------------------------------------------------------------------------------
# classifier two-sample test


@pytest.fixture
def one_thread():
    # HistGradientBoosting's OpenMP threads crawl when other jobs share the two cores
    with threadpool_limits(1, user_api="openmp"):
        yield


def test_c2st_chance_on_same_law_and_one_on_separated(one_thread):
    rng = np.random.default_rng(8)
    X = rng.normal(size=(300, 2))
    same = c2st_accuracy(X, rng.normal(size=(500, 2)), cv=3, random_state=0)
    apart = c2st_accuracy(X, rng.normal(size=(300, 2)) + 6.0, cv=3, random_state=0)
    assert abs(same - 0.5) < 0.1
    assert apart > 0.97


# --------------------------------------------------------------------------------------------
# distance to closest record


@pytest.mark.parametrize("d", [2, 30])  # tree search and brute force
def test_distance_to_closest_record_is_brute_force_min(d):
    rng = np.random.default_rng(9)
    X, X_ref = rng.normal(size=(80, d)), rng.normal(size=(120, d))
    np.testing.assert_allclose(distance_to_closest_record(X, X_ref), cdist(X, X_ref).min(axis=1), rtol=1e-10)


def test_dcr_ratio_near_one_for_fresh_rows_and_small_for_copies():
    rng = np.random.default_rng(10)
    train, holdout, fresh = (rng.normal(size=(1000, 2)) for _ in range(3))
    assert 0.85 < dcr_ratio(fresh, train, holdout) < 1.15
    copies = train[rng.choice(1000, 500)]
    assert dcr_ratio(copies, train, holdout) == 0.0
    assert dcr_ratio(copies + 1e-3 * rng.normal(size=copies.shape), train, holdout) < 0.05


# --------------------------------------------------------------------------------------------
# marginals and correlations


def test_column_ks_and_wasserstein_match_scipy_and_brute_force():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(120, 3))
    Y = np.column_stack([rng.normal(0.3, 1.0, 120), rng.exponential(size=120), rng.normal(size=120).round()])
    ks, w = column_ks(X, Y), column_wasserstein(X, Y)
    assert ks.shape == w.shape == (3,)
    for k in range(3):
        x, y = X[:, k], Y[:, k]
        assert ks[k] == pytest.approx(stats.ks_2samp(x, y).statistic, abs=1e-15)
        assert w[k] == pytest.approx(stats.wasserstein_distance(x, y), rel=1e-12)
        # sup of the ECDF difference over the pooled points; equal sizes: mean |sorted x - sorted y|
        t = np.concatenate([x, y])
        ecdf_gap = np.abs((x[:, None] <= t).mean(0) - (y[:, None] <= t).mean(0)).max()
        assert ks[k] == pytest.approx(ecdf_gap, abs=1e-12)
        assert w[k] == pytest.approx(np.abs(np.sort(x) - np.sort(y)).mean(), rel=1e-12)


def test_correlation_gap_hand_computed():
    # 2 x 2: correlations +1 and -1
    assert correlation_gap([[0, 0], [1, 1], [2, 2]], [[0, 2], [1, 1], [2, 0]]) == pytest.approx(2.0)
    # 3 x 3: X has r_ab = 1, r_ac = r_bc = 0.5 (centred a = (-1, 0, 1), c = (-1, 1, 0));
    # Y has r_ab = -1, r_ac = 1, r_bc = -1: gaps 2, 0.5, 1.5
    X = np.array([[1, 1, 1], [2, 2, 3], [3, 3, 2]], dtype=float)
    Y = np.array([[1, 3, 1], [2, 2, 2], [3, 1, 3], [2, 2, 2]], dtype=float)
    assert correlation_gap(X, Y) == pytest.approx(4 / 3)
    assert correlation_gap(X[:, :1], Y[:, :1]) == 0.0


# --------------------------------------------------------------------------------------------
# seeding and validation


def test_subsampling_is_seeded_and_leaves_global_rng_alone(one_thread):
    rng = np.random.default_rng(12)
    X, Y = rng.normal(size=(400, 2)), rng.normal(size=(300, 2)) + 0.3
    state = np.random.get_state()[1].copy()
    for metric in (energy_distance, mmd):
        a = metric(X, Y, max_samples=100, random_state=0)
        assert metric(X, Y, max_samples=100, random_state=0) == a
        assert metric(X, Y, max_samples=100, random_state=1) != a
        # no subsampling: the seed plays no part
        assert metric(X, Y, random_state=0) == metric(X, Y, random_state=1)
    a = c2st_accuracy(X, Y, cv=3, max_samples=150, random_state=0)
    assert c2st_accuracy(X, Y, cv=3, max_samples=150, random_state=0) == a
    np.testing.assert_array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize("metric", PAIR_METRICS, ids=lambda f: f.__name__)
def test_mismatched_columns_raise(metric):
    with pytest.raises(ValueError, match="same number of columns"):
        metric(np.zeros((10, 3)), np.ones((10, 2)))


def test_invalid_inputs_raise():
    X = np.random.default_rng(13).normal(size=(20, 2))
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        energy_distance(X, bad)
    with pytest.raises(ValueError, match="2D array"):
        mmd(X[:, 0], X[:, 1])
    with pytest.raises(ValueError, match="X_holdout has 3"):
        dcr_ratio(X, X, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="bandwidth"):
        mmd(X, X, bandwidth=-1.0)
    with pytest.raises(ValueError, match="zero bandwidth"):
        mmd(np.zeros((10, 2)), np.zeros((10, 2)))


# ------------------------------------------------------------------ W1 and coverage
def test_wasserstein_l1_against_brute_force_and_one_column():
    import itertools

    rng = np.random.RandomState(0)
    X, Y = rng.normal(size=(6, 3)), rng.normal(1.0, 2.0, size=(6, 3))
    cost = cdist(X, Y, metric="cityblock")
    brute = min(cost[range(6), list(p)].mean() for p in itertools.permutations(range(6)))
    assert wasserstein_l1(X, Y) == pytest.approx(brute, rel=1e-12)
    a, b = rng.normal(size=(300, 1)), rng.exponential(size=(300, 1))
    assert wasserstein_l1(a, b) == pytest.approx(stats.wasserstein_distance(a[:, 0], b[:, 0]), rel=1e-10)
    assert wasserstein_l1(X, X) == 0.0


def test_wasserstein_l1_subsamples_to_equal_sizes_reproducibly():
    rng = np.random.RandomState(1)
    X, Y = rng.normal(size=(500, 2)), rng.normal(size=(300, 2))
    assert wasserstein_l1(X, Y, random_state=0) == wasserstein_l1(X, Y, random_state=0)
    assert wasserstein_l1(X, Y, max_samples=50, random_state=0) > wasserstein_l1(X, Y, random_state=0)


def test_coverage_against_brute_force():
    rng = np.random.RandomState(2)
    real, synth = rng.normal(size=(200, 3)), rng.normal(0.3, 1.2, size=(150, 3))
    d_rr = cdist(real, real)
    radius = np.sort(d_rr, axis=1)[:, 5]  # the 5th nearest other row (index 0 is the row itself)
    expected = np.mean(cdist(real, synth).min(axis=1) <= radius)
    assert coverage(real, synth, n_neighbors=5) == pytest.approx(expected)
    assert coverage(real, real) == 1.0
    assert coverage(real, real + 100.0) == 0.0
    with pytest.raises(ValueError, match="more than n_neighbors"):
        coverage(real[:3], synth, n_neighbors=5)
