"""DiffusionSupervisedSampler: a sampler of an unnormalised density, against closed forms."""

import math
import pickle

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from sklearn.base import clone

from sklearn_diffgen import DiffusionSupervisedGenerator, DiffusionSupervisedSampler
from sklearn_diffgen.smc import importance_estimate, next_temperature, tempered_smc

from conftest import FAST

SMALL = DiffusionSupervisedGenerator(**{**FAST, "verbose": 0})
MEAN, STD = np.array([2.0, -1.0]), np.array([0.5, 1.5])


def gaussian_log_prob(x):
    """N(MEAN, diag(STD^2)) without its normaliser, whose log is log(2 pi) + sum(log STD)."""
    return -0.5 * (((np.asarray(x) - MEAN) / STD) ** 2).sum(axis=1)


LOG_Z = math.log(2 * math.pi) + float(np.log(STD).sum())


def test_importance_estimate_against_closed_form():
    rng = np.random.RandomState(0)
    x = rng.normal(size=200_000)  # q = N(0, 1), p = N(0, 1) * e^3 unnormalised -> Z = e^3
    log_z, se, ess = importance_estimate(3.0 + np.zeros_like(x))
    assert abs(log_z - 3.0) < 1e-12 and se == 0 and ess == pytest.approx(200_000)
    # p = N(0.5, 1) and q = N(0, 1), both normalised: Z = 1
    log_w = -0.5 * (x - 0.5) ** 2 + 0.5 * x**2
    log_z, se, ess = importance_estimate(log_w)
    assert abs(log_z) < 4 * se and 0 < se < 0.01
    assert 0.5 * len(x) < ess < len(x)


def test_gaussian_target_moments_and_normaliser():
    est = DiffusionSupervisedSampler(gaussian_log_prob, 2, n_rounds=2, n_proposals=3000, initial_scale=4.0,
                                     generator=SMALL, random_state=0).fit()
    S = est.sample(20_000, random_state=1)
    np.testing.assert_allclose(S.mean(axis=0), MEAN, atol=0.1)
    np.testing.assert_allclose(S.std(axis=0), STD, rtol=0.1)
    assert abs(est.log_normalizer_[0] - LOG_Z) < 0.1
    assert est.n_target_evaluations_ == 3 * 3000
    assert len(est.ess_history_) == 3 and est.ess_history_[-1] > est.ess_history_[0]
    # score_samples is the sampler's own normalised density: on the target's rows its mean is
    # below the target's by KL(p || q) >= 0, small for a good sampler
    X = MEAN + STD * np.random.RandomState(4).normal(size=(4000, 2))
    kl = float(np.mean(gaussian_log_prob(X) - LOG_Z) - est.score(X))
    assert -0.03 < kl < 0.15


def test_mixture_weights_are_found():
    """Two far-apart modes weighted 0.3 / 0.7: the samples split 0.3 / 0.7."""
    def log_prob(x):
        x = np.asarray(x)[:, 0]
        return logsumexp(np.stack([np.log(0.3) - 0.5 * (x + 4) ** 2, np.log(0.7) - 0.5 * (x - 4) ** 2]), axis=0)

    est = DiffusionSupervisedSampler(log_prob, 1, n_rounds=2, n_proposals=3000, initial_scale=6.0,
                                     generator=SMALL, random_state=0).fit()
    share = float((est.sample(20_000, random_state=2)[:, 0] < 0).mean())
    assert abs(share - 0.3) < 0.04
    assert abs(est.log_normalizer_[0] - 0.5 * math.log(2 * math.pi)) < 0.1


def torch_log_prob(x):
    return -0.5 * (torch.as_tensor(x) ** 2).sum(dim=1)


def test_torch_log_prob_reproducible_clone_and_pickle():
    kw = dict(n_rounds=1, n_proposals=500, generator=SMALL, random_state=3)
    a = DiffusionSupervisedSampler(torch_log_prob, 2, **kw).fit()
    b = clone(a).fit()
    np.testing.assert_array_equal(a.sample(10, random_state=0), b.sample(10, random_state=0))
    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(a.sample(10, random_state=0), c.sample(10, random_state=0))


@pytest.mark.parametrize("log_prob, match", [
    (lambda x: np.full(len(x), np.nan), "NaN"),
    (lambda x: np.zeros(len(x) - 1), "values for"),
    (lambda x: np.full(len(x), -np.inf), "weight 0"),
])
def test_bad_log_prob(log_prob, match):
    est = DiffusionSupervisedSampler(log_prob, 2, n_rounds=1, n_proposals=100, generator=SMALL)
    with pytest.raises(ValueError, match=match):
        est.fit()
    assert not hasattr(est, "generator_")


@pytest.mark.parametrize("params", [dict(n_features=0), dict(n_proposals=5), dict(initial_scale=-1.0),
                                    dict(verbose="loud"), dict(log_prob="not callable")])
def test_bad_parameters(params):
    est = DiffusionSupervisedSampler(**{"log_prob": gaussian_log_prob, "n_features": 2, **params})
    with pytest.raises(ValueError):
        est.fit()


def test_bad_tempering_parameters():
    for params in (dict(min_ess=1.0), dict(min_ess=-0.1), dict(n_moves=-1)):
        with pytest.raises(ValueError):
            DiffusionSupervisedSampler(gaussian_log_prob, 2, **params).fit()


# --------------------------------------------------------------------------- tempering
D_FAR, SHIFT, WIDTH = 8, 3.0, 0.4


def far_log_prob(x):
    """N(3, 0.4^2 I) in 8-D, unnormalised: a Gaussian first proposal N(0, I) weighs it with ESS ~ 1."""
    return -0.5 * (((np.asarray(x) - SHIFT) / WIDTH) ** 2).sum(axis=1)


FAR_LOG_Z = D_FAR * (0.5 * math.log(2 * math.pi) + math.log(WIDTH))


def test_tempered_smc_against_closed_form():
    """Particles carried from N(0, I) to N(3, 0.4^2 I): moments and Z against the closed forms."""
    rng = np.random.RandomState(0)
    log_q0 = lambda x: -0.5 * (x * x).sum(1) - 0.5 * D_FAR * math.log(2 * math.pi)  # noqa: E731
    x0 = rng.standard_normal((4000, D_FAR))
    assert importance_estimate(far_log_prob(x0) - log_q0(x0))[2] < 20  # plain weights are degenerate
    x, log_z, se, betas = tempered_smc(far_log_prob, log_q0, x0, far_log_prob(x0), rng, n_moves=10)
    assert betas[-1] == 1.0 and len(betas) > 2 and np.all(np.diff(betas) > 0)
    np.testing.assert_allclose(x.mean(axis=0), SHIFT, atol=0.05)
    np.testing.assert_allclose(x.std(axis=0), WIDTH, rtol=0.1)
    assert abs(log_z - FAR_LOG_Z) < max(4 * se, 0.1) and 0 < se < 0.1


def test_next_temperature_keeps_the_effective_size():
    rng = np.random.RandomState(1)
    x = rng.standard_normal(5000)
    log_q = -0.5 * x**2
    log_p = -0.5 * ((x - 5) / 0.3) ** 2
    b = next_temperature(log_p, log_q, log_q, 0.0, 0.5)
    ess = importance_estimate((1 - b) * log_q + b * log_p - log_q)[2]
    assert 0 < b < 1 and ess == pytest.approx(0.5 * 5000, rel=1e-3)
    assert next_temperature(log_q, log_q, log_q, 0.0, 0.5) == 1.0  # p = q: no tempering needed


def test_sampler_tempers_when_the_proposal_weights_are_degenerate():
    est = DiffusionSupervisedSampler(far_log_prob, D_FAR, n_rounds=2, n_proposals=3000, generator=SMALL,
                                     random_state=0).fit()
    assert est.ess_history_[0] < 0.05 * 3000 and est.temperatures_[-1] == 1.0
    S = est.sample(10_000, random_state=1)
    np.testing.assert_allclose(S.mean(axis=0), SHIFT, atol=0.1)
    np.testing.assert_allclose(S.std(axis=0), WIDTH, rtol=0.2)
    assert abs(est.log_normalizer_[0] - FAR_LOG_Z) < 0.3
    # every Metropolis move is one evaluation per row, on top of the rounds' draws
    n_steps = len(est.temperatures_)
    assert est.n_target_evaluations_ >= 3000 * (1 + n_steps * 10)
    # min_ess=0 turns tempering off: round 0 fits the Gaussian proposal's degenerate weights
    plain = DiffusionSupervisedSampler(far_log_prob, D_FAR, n_rounds=1, n_proposals=3000, generator=SMALL,
                                       min_ess=0.0, random_state=0).fit()
    assert plain.temperatures_ == [] and plain.n_target_evaluations_ == 2 * 3000
    assert plain.ess_history_[0] == est.ess_history_[0]  # the same first draw


def test_tempering_that_cannot_move_on_raises():
    """A finite penalty instead of -inf on most rows: no temperature keeps the weights, so it says so."""
    def penalised(x):
        x = np.asarray(x)
        return np.where(x[:, 0] > 1.5, 0.0, -1e300)

    rng = np.random.RandomState(0)
    x0 = rng.standard_normal((1000, 2))
    log_q0 = lambda x: -0.5 * (x * x).sum(1) - math.log(2 * math.pi)  # noqa: E731
    with pytest.raises(ValueError, match="tempering cannot reach the target"):
        tempered_smc(penalised, log_q0, x0, penalised(x0), rng)


def test_a_round_below_min_ess_stops_and_gives_the_final_draw():
    """A later round whose weights fall below min_ess is not fitted, and its draw is the final estimate's."""
    seen = []
    est = DiffusionSupervisedSampler(far_log_prob, D_FAR, n_rounds=3, n_proposals=3000, generator=SMALL,
                                     min_ess=0.9, random_state=0,
                                     callback=lambda r, g, e: seen.append(r)).fit()
    assert seen == [0]  # only round 0 (tempered) was fitted
    assert len(est.ess_history_) == 2 and est.ess_history_[-1] == est.ess_ < 0.9 * 3000
    n_steps = len(est.temperatures_)
    # round 0's draw, the moves, and one more draw (round 1's, reused for the estimate)
    assert est.n_target_evaluations_ == 3000 * (1 + n_steps * 10) + 3000
    # the final weights fall below min_ess, so log Z is the tempering's
    assert abs(est.log_normalizer_[0] - FAR_LOG_Z) < 0.5
