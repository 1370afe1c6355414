"""The estimator: contract, input checks, reproducibility, densities against closed forms and peers."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import multivariate_normal
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity
from sklearn.pipeline import make_pipeline

import sklearn_diffgen._progress
from sklearn_diffgen import DiffusionSupervisedGenerator as DSG
from sklearn_diffgen.solvers import SOLVERS

from conftest import FAST


@pytest.fixture(scope="module")
def gauss_data():
    rng = np.random.RandomState(0)
    mean, cov = np.array([1.0, -2.0]), np.array([[2.0, 0.9], [0.9, 1.0]])
    X = rng.multivariate_normal(mean, cov, size=3000)
    return X[:2000], X[2000:], multivariate_normal(mean, cov)


@pytest.fixture(scope="module")
def fitted(gauss_data):
    Xtr, _, _ = gauss_data
    return DSG(bandwidth=0.1, random_state=0, **{**FAST, "max_iter": 60}).fit(Xtr)


def test_sample_units_and_shape(fitted, gauss_data):
    Xtr = gauss_data[0]
    S = fitted.sample(4000, random_state=1)
    assert S.shape == (4000, 2) and S.dtype == np.float64
    np.testing.assert_allclose(S.mean(0), Xtr.mean(0), atol=0.1)
    np.testing.assert_allclose(np.cov(S.T), np.cov(Xtr.T), atol=0.2)


def test_heldout_loglik_near_truth_and_peers(fitted, gauss_data):
    Xtr, Xte, law = gauss_data
    ours = fitted.score(Xte)
    truth = law.logpdf(Xte).mean()
    gmm = GaussianMixture(1, random_state=0).fit(Xtr).score(Xte)
    assert ours == pytest.approx(truth, abs=0.1)
    assert ours > gmm - 0.1
    assert np.isfinite(fitted.score_samples(Xte)).all()


def test_density_integrates_to_one(fitted):
    g1 = np.linspace(-5, 7, 121)
    g2 = np.linspace(-6, 2, 81)
    xx, yy = np.meshgrid(g1, g2, indexing="ij")
    p = np.exp(fitted.score_samples(np.c_[xx.ravel(), yy.ravel()]))
    assert p.sum() * (g1[1] - g1[0]) * (g2[1] - g2[0]) == pytest.approx(1.0, abs=0.03)


def test_moons_against_kde_and_gmm(moons):
    # a multimodal set: within reach of the KDE whose bandwidth GridSearchCV picked
    Xtr, Xte = moons
    params = dict(n_labels=4000, n_steps=10, hidden_layer_sizes=(64, 64), max_iter=100)
    est = DSG(bandwidth=0.15, random_state=0, **params).fit(Xtr)
    kde = GridSearchCV(KernelDensity(), {"bandwidth": np.logspace(-1.5, -0.3, 12)}).fit(Xtr)
    gmm1 = GaussianMixture(1, random_state=0).fit(Xtr)
    ours, ref = est.score(Xte), kde.best_estimator_.score(Xte) / len(Xte)
    assert ours > gmm1.score(Xte) + 0.3  # far better than one Gaussian
    assert ours > ref - 0.5  # the generator's loss to its teacher is issue 5's work


def test_fit_is_bitwise_reproducible(moons):
    Xtr = moons[0][:300]
    a = DSG(random_state=3, **FAST).fit(Xtr)
    b = DSG(random_state=3, **FAST).fit(Xtr)
    np.testing.assert_array_equal(a.sample(50, random_state=0), b.sample(50, random_state=0))
    np.testing.assert_array_equal(a.score_samples(Xtr[:20]), b.score_samples(Xtr[:20]))
    c = DSG(random_state=4, **FAST).fit(Xtr)
    assert not np.array_equal(a.sample(50, random_state=0), c.sample(50, random_state=0))


def test_sample_seeding(fitted):
    a = fitted.sample(200, random_state=0)
    for m in (1, 3, 10, 63, 64, 65, 199):  # prefix property, at every size
        np.testing.assert_array_equal(a[:m], fitted.sample(m, random_state=0))
    small_chunks = clone(fitted).set_params(working_memory=0.001)
    small_chunks.__dict__.update({k: v for k, v in fitted.__dict__.items() if k.endswith("_")})
    np.testing.assert_array_equal(a, small_chunks.sample(200, random_state=0))
    a = a[:10]
    np.testing.assert_array_equal(a, fitted.sample(10, random_state=np.random.RandomState(0)))
    state = np.random.get_state()[1].copy()
    b, c = fitted.sample(10), fitted.sample(10)
    assert not np.array_equal(b, c)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # global state untouched


@pytest.mark.parametrize("n", [0, -1, 2.5, "3", True])
def test_bad_n_samples(fitted, n):
    with pytest.raises(ValueError, match="n_samples"):
        fitted.sample(n)


def test_score_samples_batch_invariant(fitted, gauss_data):
    Xte = gauss_data[1][:30]
    full = fitted.score_samples(Xte)
    alone = np.array([fitted.score_samples(Xte[i : i + 1])[0] for i in range(30)])
    np.testing.assert_allclose(full, alone, rtol=0, atol=1e-9)


def test_score_is_mean_of_score_samples(fitted, gauss_data):
    Xte = gauss_data[1]
    assert fitted.score(Xte) == pytest.approx(fitted.score_samples(Xte).mean())


def test_units_shift_log_density(gauss_data):
    # scaling X by c shifts every log-density by -d log c
    Xtr, Xte, _ = gauss_data
    a = DSG(random_state=0, **FAST).fit(Xtr[:500])
    b = DSG(random_state=0, **FAST).fit(10 * Xtr[:500])
    want = a.score_samples(Xte[:20]) - 2 * np.log(10)
    np.testing.assert_allclose(b.score_samples(10 * Xte[:20]), want, atol=1e-5)
    np.testing.assert_allclose(b.sample(5, random_state=0), 10 * a.sample(5, random_state=0), rtol=1e-5)


def test_fit_leaves_global_random_states_alone(rng):
    import torch

    np_state, torch_state = np.random.get_state()[1].copy(), torch.random.get_rng_state()
    est = DSG(**FAST).fit(rng.normal(size=(100, 2)))  # random_state=None
    est.sample(5)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)
    assert torch.equal(torch.random.get_rng_state(), torch_state)


def test_tiny_and_huge_scales(rng):
    X = rng.normal(size=(200, 2))
    a = DSG(random_state=0, **FAST).fit(X)
    b = DSG(random_state=0, **FAST).fit(X * 1e-16)  # not constant: constancy is relative
    assert not b.constant_.any()
    np.testing.assert_allclose(b.sample(5, random_state=0), 1e-16 * a.sample(5, random_state=0), rtol=1e-6)
    with pytest.raises(ValueError, match="too large"):
        DSG(**FAST).fit(X * 1e300)


def test_constant_columns(rng):
    X = np.c_[rng.normal(size=(300, 2)), np.full(300, 7.0)]
    est = DSG(random_state=0, **FAST).fit(X)
    assert est.constant_.tolist() == [False, False, True]
    S = est.sample(20, random_state=0)
    assert (S[:, 2] == 7.0).all()
    ok = est.score_samples(X[:5])
    off = X[:5].copy()
    off[:, 2] += 0.5
    assert np.isfinite(ok).all() and (est.score_samples(off) < ok - 10).all()
    ref = DSG(random_state=0, **FAST).fit(X[:, :2])
    np.testing.assert_allclose(ok, ref.score_samples(X[:5, :2]), atol=1e-8)


def test_constant_column_is_found_whatever_the_rounding_of_its_mean(rng):
    # 0.1 repeated 300 times has a mean off by rounding and a std of 5e-16: constant
    # all the same (the bound of StandardScaler's test grows with n), and scored as such
    X = rng.normal(size=(300, 3))
    X[:, 1] = 0.1
    est = DSG(random_state=0, **FAST).fit(X)
    assert est.constant_.tolist() == [False, True, False]
    B = X[:3].copy()
    B[:, 1] = 0.1 * (1 + 1e-9)
    assert np.all(est.score_samples(B) > est.score_samples(X[:3]) - 1)  # a 1e-10 offset costs nothing
    with pytest.raises(ValueError, match="every column of X is constant"):
        DSG(**FAST).fit(np.tile(X[:1], (300, 1)))  # one row, repeated


def test_values_below_the_float64_variance_range_are_refused_as_such(rng):
    with pytest.raises(ValueError, match="underflows float64: rescale"):
        DSG(**FAST).fit(rng.normal(size=(50, 2)) * 1e-300)


@pytest.mark.parametrize("sizes", [[[8, 8]], [[8, 8], [3]], [(8,), 4]])
def test_nested_hidden_layer_sizes_are_refused(rng, sizes):
    with pytest.raises(ValueError, match="flat sequence"):
        DSG(**{**FAST, "hidden_layer_sizes": sizes}).fit(rng.normal(size=(50, 2)))


def test_single_column_works(rng):
    X = rng.normal(size=(500, 1))
    est = DSG(random_state=0, **FAST).fit(X)
    assert est.sample(3).shape == (3, 1)
    assert est.score(X) == pytest.approx(multivariate_normal(0, 1).logpdf(X).mean(), abs=0.2)


@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[1.0, np.nan], [2.0, 3.0]]), "NaN"),
        (np.array([[1.0, np.inf], [2.0, 3.0]]), "infinity"),
        (np.empty((0, 2)), "0 sample"),
        (np.array([[1.0, 2.0]]), "1 sample"),
        (np.array([[1 + 1j, 2.0], [1.0, 0.0]]), "[Cc]omplex"),
        (np.array([["a", "b"], ["c", "d"]], dtype=object), "convert|could not"),
        (np.ones((5, 3)), "constant"),
        ([1.0, 2.0, 3.0], "2D array"),
    ],
)
def test_bad_fit_input(X, match):
    with pytest.raises(ValueError, match=match):
        DSG(**FAST).fit(X)


def test_sparse_input_rejected():
    with pytest.raises(TypeError, match="[Ss]parse"):
        DSG(**FAST).fit(sp.csr_matrix(np.eye(5)))


def test_score_input_errors(fitted):
    with pytest.raises(ValueError, match="features"):
        fitted.score_samples(np.ones((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        fitted.score_samples(np.array([[np.nan, 1.0]]))
    with pytest.raises(NotFittedError):
        DSG().score_samples(np.ones((3, 2)))
    with pytest.raises(NotFittedError):
        DSG().sample(2)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(bandwidth=-1.0), "bandwidth"),
        (dict(bandwidth="wide"), "bandwidth"),
        (dict(solver="rk45"), "solver"),
        (dict(hidden_layer_sizes=(4, 0)), "hidden_layer_sizes"),
        (dict(schedule="authors", bandwidth=0.05), "smallest"),
        (dict(device="cuda:0"), "CUDA is not available"),
        (dict(device="foo"), "not a valid torch device"),
        (dict(device="mps"), "only 'cpu' and 'cuda'"),
        (dict(bandwidth=50.0), "bandwidth"),
    ],
)
def test_bad_parameters(params, match, rng):
    import torch

    if params.get("device") == "cuda:0" and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match=match):
        DSG(**{**FAST, **params}).fit(rng.normal(size=(50, 2)))


def test_fine_tuning_moves_the_density_towards_the_truth(gauss_data):
    # an undertrained regression (3 epochs) far from N(m, S); maximum likelihood on the rows closes most of the gap
    Xtr, Xte, law = gauss_data
    kw = dict(bandwidth=0.1, random_state=0, activation="silu", **{**FAST, "max_iter": 3})
    with pytest.warns(ConvergenceWarning):
        base = DSG(**kw).fit(Xtr)
    with pytest.warns(ConvergenceWarning):
        tuned = DSG(**kw, fine_tune_iter=40, fine_tune_learning_rate=1e-3).fit(Xtr)
    truth = law.logpdf(Xte).mean()
    assert truth - tuned.score(Xte) < 0.5 * (truth - base.score(Xte))
    scores = tuned.fine_tune_scores_
    assert len(scores) == len(tuned.fine_tune_loss_curve_) + 1 and min(scores) < scores[0]
    assert tuned.fit_times_["fine_tuning"] > 0
    with pytest.warns(ConvergenceWarning):
        again = DSG(**kw, fine_tune_iter=40, fine_tune_learning_rate=1e-3).fit(Xtr)
    np.testing.assert_array_equal(again.sample(50, random_state=1), tuned.sample(50, random_state=1))


def test_fine_tuning_with_weights_and_without_early_stopping(gauss_data):
    Xtr = gauss_data[0][:300]
    w = np.r_[np.full(150, 3.0), np.ones(150)]
    fits = [DSG(random_state=0, early_stopping=False, fine_tune_iter=2, **FAST).fit(Xtr, sample_weight=sw)
            for sw in (w, None)]
    assert [len(f.fine_tune_loss_curve_) for f in fits] == [2, 2] and fits[0].fine_tune_scores_ == []
    assert fits[0].fine_tune_loss_curve_ != fits[1].fine_tune_loss_curve_  # the weights count
    assert np.isfinite(fits[0].score(Xtr))


def test_diverged_fine_tuning_says_what_to_lower_and_keeps_the_fit(rng):
    X = rng.normal(size=(60, 3))
    est = DSG(random_state=0, fine_tune_iter=2, **{**FAST, "max_iter": 3})
    with pytest.warns(ConvergenceWarning):
        est.fit(X)
    before, scores = est.sample(5, random_state=0), list(est.fine_tune_scores_)
    with pytest.raises(ValueError, match="lower fine_tune_learning_rate"):
        est.set_params(fine_tune_iter=3, fine_tune_learning_rate=1e6).fit(X)
    np.testing.assert_array_equal(est.sample(5, random_state=0), before)
    assert est.fine_tune_scores_ == scores and len(scores) == 3


def test_convergence_warning(rng):
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        DSG(**{**FAST, "max_iter": 2}).fit(rng.normal(size=(100, 2)))


def test_fitted_attributes(fitted):
    assert fitted.device_.type in ("cpu", "cuda") and fitted.device == "auto"
    assert fitted.n_iter_ == len(fitted.loss_curve_) == len(fitted.validation_scores_)
    assert set(fitted.fit_times_) == {"bandwidth", "labelling", "training", "fine_tuning"}
    assert fitted.fit_times_["fine_tuning"] == 0.0 and fitted.fine_tune_scores_ == []
    assert fitted.bandwidth_ == 0.1 and fitted.noise_ == pytest.approx(0.01)
    assert fitted.best_loss_ == min(fitted.validation_scores_)


@pytest.mark.parametrize("bw, want", [("scott", 2000 ** (-1 / 6)), ("silverman", 2000 ** (-1 / 6))])
def test_rule_of_thumb_bandwidths(gauss_data, bw, want):
    est = DSG(bandwidth=bw, **{**FAST, "n_labels": 100, "max_iter": 1})
    with pytest.warns(ConvergenceWarning):
        est.fit(gauss_data[0])
    assert est.bandwidth_ == pytest.approx(want)  # in 2-D both rules agree: (N (d+2)/4) = N


def test_auto_bandwidth_is_the_teachers_cross_validated_one(moons, gauss_data):
    # without whitening and correction the teacher is a Gaussian KDE of the standardised
    # data: auto picks its CV bandwidth
    fits = {}
    for name, X in [("moons", moons[0]), ("gauss", gauss_data[0][:800])]:
        est = DSG(random_state=0, whiten=False, variance_correction=False,
                  **{**FAST, "n_labels": 100, "max_iter": 1})
        with pytest.warns(ConvergenceWarning):
            est.fit(X)
        Xs = (X - X.mean(0)) / X.std(0)
        grid = GridSearchCV(KernelDensity(), {"bandwidth": np.logspace(-1.5, 0, 31)}, cv=5).fit(Xs)
        assert est.bandwidth_ == pytest.approx(grid.best_params_["bandwidth"], rel=0.35)
        fits[name] = est.bandwidth_
    assert fits["moons"] < fits["gauss"] / 2  # multimodal data want far less smoothing


def test_callback_sees_epochs_and_can_stop(rng):
    seen = []

    def callback(network, epoch, train_loss, val_loss):
        seen.append((network, epoch, np.isfinite(train_loss), val_loss is not None))
        return epoch == 1

    est = DSG(**{**FAST, "max_iter": 3}, callback=callback).fit(rng.normal(size=(100, 2)))
    assert est.n_iter_ == 2 and [s[:2] for s in seen] == [("generator", 0), ("generator", 1)]
    assert all(s[2] and s[3] for s in seen)


def test_verbose_shows_progress(capsys, rng):
    DSG(**{**FAST, "max_iter": 2}, verbose=1).fit(rng.normal(size=(50, 2)))
    err = capsys.readouterr().err
    assert "labelling" in err and "generator" in err
    DSG(**{**FAST, "max_iter": 2}, verbose=0).fit(rng.normal(size=(50, 2)))
    assert capsys.readouterr().err == ""


def test_default_progress_only_on_long_stages(capsys, rng, monkeypatch):
    """verbose="auto" (the default) prints nothing for a stage shorter than AUTO_DELAY_S, and a
    bar, cleared at its end, for a longer one."""
    assert DSG().verbose == "auto"
    X = rng.normal(size=(50, 2))
    DSG(**{**FAST, "max_iter": 2}).fit(X)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(sklearn_diffgen._progress, "AUTO_DELAY_S", 0.0)
    DSG(**{**FAST, "max_iter": 2}).fit(X)
    err = capsys.readouterr().err
    assert "labelling:" in err and "generator:" in err


@pytest.mark.parametrize("solver", sorted(SOLVERS))
@pytest.mark.parametrize("schedule", ["paper", "authors"])
def test_every_solver_and_schedule_fit(solver, schedule, moons):
    est = DSG(solver=solver, schedule=schedule, bandwidth=0.2, random_state=0,
              **{**FAST, "n_labels": 500, "max_iter": 3, "n_steps": 4})
    with pytest.warns(ConvergenceWarning):
        est.fit(moons[0][:200])
    assert np.isfinite(est.score_samples(moons[1][:10])).all()


def test_minibatch_score(moons):
    est = DSG(score_batch_size=50, random_state=0, **FAST).fit(moons[0])
    assert np.isfinite(est.score(moons[1]))


def test_pipeline_after_pca():
    from sklearn.datasets import load_digits

    X = load_digits().data[:600]
    pipe = make_pipeline(PCA(5, random_state=0), DSG(random_state=0, **FAST)).fit(X)
    assert np.isfinite(pipe.score_samples(X[:10])).all()
    assert np.isfinite(pipe.score(X[:50]))


def test_grid_search_over_bandwidth_steps_and_width(gauss_data):
    Xtr = gauss_data[0][:400]
    # dpmpp_2m: the default dpmpp_3m starts with the exact flow of the data's Gaussian fit,
    # which on Gaussian data leaves the number of steps nearly without effect
    grid = GridSearchCV(
        DSG(random_state=0, solver="dpmpp_2m", **FAST),
        {"bandwidth": [0.05, 0.4], "n_steps": [4, 10], "hidden_layer_sizes": [(16,), (32, 32)]},
        cv=2,
    ).fit(Xtr)
    scores = grid.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all()
    assert grid.best_score_ == scores.max()
    scores = scores.reshape(2, 2, 2)  # bandwidth x width x steps, in ParameterGrid's order
    assert (scores[:, 1] > scores[:, 0]).all()  # the wider network wins everywhere
    assert scores[:, :, 1].mean() > scores[:, :, 0].mean()  # and, on average, more ODE steps
    assert grid.best_params_["hidden_layer_sizes"] == (32, 32) and grid.best_params_["n_steps"] == 10


def test_teacher_density_is_the_kde_of_the_standardised_data(fitted, gauss_data):
    Xtr, Xte, _ = gauss_data
    est = DSG(bandwidth=0.1, teacher="kde", whiten=False, variance_correction=False, keep_training_data=True,
              random_state=0, **{**FAST, "max_iter": 2})
    with pytest.warns(ConvergenceWarning):
        est.fit(Xtr)
    mean, std = Xtr.mean(0), Xtr.std(0)
    kde = KernelDensity(bandwidth=0.1).fit((Xtr - mean) / std)
    want = kde.score_samples((Xte[:50] - mean) / std) - np.log(std).sum()
    np.testing.assert_allclose(est.score_samples(Xte[:50], method="teacher"), want, rtol=1e-8)
    with pytest.raises(ValueError, match="method"):
        fitted.score_samples(Xte[:5], method="exact")


@pytest.mark.parametrize("whiten", [False, True])
@pytest.mark.parametrize("correction", [False, True])
def test_teacher_density_is_a_gaussian_mixture_in_data_units(gauss_data, whiten, correction):
    # brute force: the teacher is the mixture of N(m + C c y_n, c^2 h^2 C C^T) over the
    # whitened standardised rows y_n, with C = diag(sigma) W^-1 and W the ZCA of the
    # correlation matrix, c = 1 / sqrt(1 + h^2) with the correction and 1 without
    Xtr, Xte, _ = gauss_data
    Xtr, h = Xtr[:300], 0.7
    est = DSG(bandwidth=h, teacher="kde", whiten=whiten, variance_correction=correction, keep_training_data=True,
              random_state=0, **{**FAST, "max_iter": 2})
    with pytest.warns(ConvergenceWarning):
        est.fit(Xtr)
    mean, std = Xtr.mean(0), Xtr.std(0)
    Xs = (Xtr - mean) / std
    lam, V = np.linalg.eigh(np.corrcoef(Xtr.T))
    W = V @ np.diag(lam**-0.5) @ V.T if whiten else np.eye(2)
    c = 1 / np.sqrt(1 + h * h) if correction else 1.0
    C = np.diag(std) @ np.linalg.inv(W)
    centres = mean + c * (Xs @ W.T) @ C.T
    cov = (c * h) ** 2 * C @ C.T
    dens = np.mean([multivariate_normal(m, cov).pdf(Xte[:20]) for m in centres], axis=0)
    np.testing.assert_allclose(est.score_samples(Xte[:20], method="teacher"), np.log(dens), rtol=1e-7)
    assert (est.whiten_, est.variance_correction_, est.variance_scale_) == (whiten, correction, c)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_mixture_teacher_on_gaussian_data_is_the_maximum_likelihood_gaussian(gauss_data):
    # teacher="gmm" on Gaussian data: cross-validation keeps one component, and the teacher's
    # density in data units is N(sample mean, ML covariance) (GaussianMixture's reg_covar aside)
    Xtr, Xte, law = gauss_data
    est = DSG(teacher="gmm", keep_training_data=True, random_state=0, **FAST).fit(Xtr)
    assert est.teacher_kind_ == "gmm" and est.teacher_.data.shape[0] == 1 and not est.variance_correction_
    fit = multivariate_normal(Xtr.mean(0), np.cov(Xtr.T, bias=True))
    np.testing.assert_allclose(est.score_samples(Xte, method="teacher"), fit.logpdf(Xte), atol=1e-4)
    assert est.score(Xte) == pytest.approx(law.logpdf(Xte).mean(), abs=0.03)
    # the same seed, the same fit; no weights for a GaussianMixture
    again = DSG(teacher="gmm", keep_training_data=True, random_state=0, **FAST).fit(Xtr)
    np.testing.assert_array_equal(est.sample(5, random_state=1), again.sample(5, random_state=1))
    with pytest.raises(ValueError, match="sample weights"):
        DSG(teacher="gmm", **FAST).fit(Xtr[:100], sample_weight=np.arange(1.0, 101.0))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_mixture_teacher_follows_clusters_of_different_spreads(rng):
    # two clusters, one 20 times as wide: the mixture teacher scores the held-out rows as the
    # fitted GaussianMixture does, and better than the plain kernel
    from sklearn.mixture import GaussianMixture

    X = np.r_[rng.normal(0, 0.1, size=(500, 2)), rng.normal(0, 2.0, size=(500, 2)) + [6.0, 0.0]]
    rng.shuffle(X)
    kw = {**FAST, "keep_training_data": True, "random_state": 0}
    gmm, kde = DSG(teacher="gmm", **kw).fit(X[:800]), DSG(teacher="kde", **kw).fit(X[:800])
    ref = GaussianMixture(gmm.teacher_.data.shape[0], random_state=0).fit(X[:800]).score(X[800:])
    assert gmm.score_samples(X[800:], method="teacher").mean() == pytest.approx(ref, abs=0.02)
    assert gmm.score(X[800:]) > kde.score(X[800:]) + 0.05


def test_variance_correction_keeps_the_data_covariance(gauss_data):
    # with whitening and the correction the teacher's covariance is the data's for every h;
    # without the correction it is inflated by (1 + h^2)
    Xtr, _, _ = gauss_data
    for correction, factor in ((True, 1.0), (False, 1.0 + 0.8**2)):
        est = DSG(bandwidth=0.8, whiten=True, variance_correction=correction, random_state=0,
                  **FAST).fit(Xtr)
        S = est.sample(20000, random_state=0)
        np.testing.assert_allclose(np.cov(S.T), factor * np.cov(Xtr.T, bias=True), rtol=0.08, atol=0.02)


def test_auto_teacher_on_gaussian_data_is_the_gaussian_fit(gauss_data):
    # correlated Gaussian data: cross-validation picks whitening and the correction with a
    # wide bandwidth, where the teacher nears N(sample mean, sample covariance)
    Xtr, Xte, law = gauss_data
    est = DSG(keep_training_data=True, random_state=0, **FAST).fit(Xtr)
    assert est.whiten_ and est.variance_correction_ and est.bandwidth_ > 2
    fit = multivariate_normal(Xtr.mean(0), np.cov(Xtr.T, bias=True))
    np.testing.assert_allclose(est.score_samples(Xte, method="teacher"), fit.logpdf(Xte), atol=0.05)
    assert est.score(Xte) == pytest.approx(law.logpdf(Xte).mean(), abs=0.02)


def test_auto_teacher_beats_the_standardised_kde_in_8d(rng):
    # the gain grows with the dimension: in 8-D the teacher of earlier versions (a KDE of
    # the standardised data) is far behind; the networks are not trained here
    A = rng.normal(size=(8, 8))
    X = rng.multivariate_normal(np.zeros(8), A @ A.T + np.eye(8), size=1500)
    kw = {**FAST, "n_labels": 50, "max_iter": 1, "keep_training_data": True}
    with pytest.warns(ConvergenceWarning):
        auto = DSG(random_state=0, **kw).fit(X[:1000])
        kde = DSG(whiten=False, variance_correction=False, random_state=0, **kw).fit(X[:1000])
    gain = (auto.score_samples(X[1000:], method="teacher")
            - kde.score_samples(X[1000:], method="teacher")).mean()
    assert gain > 0.3


def test_collinear_columns_are_whitened_to_finite_coordinates(rng):
    # a column that is the sum of two others: the correlation matrix is singular
    X = rng.normal(size=(600, 2))
    X = np.c_[X, X.sum(axis=1)]
    est = DSG(whiten=True, random_state=0, **FAST).fit(X)
    assert np.isfinite(est.whitening_).all()
    S = est.sample(500, random_state=0)
    # the constraint direction has a floored, tiny width: samples keep it closely
    assert np.abs(S[:, 2] - S[:, :2].sum(axis=1)).max() < 0.05
    assert np.isfinite(est.score_samples(X[:50])).all()


def test_logdet_weight_fits_the_jacobian_to_the_teacher(gauss_data):
    # with the exact Gaussian teacher, T is nearly linear: the log-det term keeps the fit
    # sound and changes the weights (the term is active)
    Xtr, Xte, law = gauss_data
    plain = DSG(bandwidth=0.2, random_state=0, **FAST).fit(Xtr)
    ld = DSG(bandwidth=0.2, random_state=0, logdet_weight=0.1, **FAST).fit(Xtr)
    assert ld.score(Xte) == pytest.approx(law.logpdf(Xte).mean(), abs=0.15)
    assert not np.allclose(plain.sample(5, random_state=0), ld.sample(5, random_state=0))


def test_auto_labels_follow_the_budget(rng):
    from sklearn_diffgen._estimator import _auto_labels

    # 10 a training value between 1,000 and 30,000; the labelling budget above 100,000 rows
    assert [_auto_labels(n, 2) for n in (20, 500, 1500, 10**5, 2 * 10**5, 10**6)] == [
        1000, 10000, 30000, 30000, 15000, 10000]
    # wine's and breast cancer's training splits: at most 50 labels a row
    assert [_auto_labels(142, 13), _auto_labels(455, 30), _auto_labels(30, 3)] == [7100, 22750, 1000]
    assert _auto_labels(100, 400) == 5000  # a one-hot-wide small table: 50 a row
    assert _auto_labels(10, 400) == 1000  # a tiny one: never fewer than 1,000
    X = rng.normal(size=(200, 2))
    with pytest.warns(ConvergenceWarning):
        est = DSG(random_state=0, **{**FAST, "n_labels": "auto", "max_iter": 1}).fit(X)
    assert est.n_labels_ == 4000
    assert DSG(random_state=0, **FAST).fit(X).n_labels_ == FAST["n_labels"]


def test_a_failed_fit_leaves_the_fitted_model_as_it_was(rng):
    # a refit that raises keeps the old fitted state, bit for bit
    X = rng.normal(size=(300, 3))
    est = DSG(random_state=0, **FAST).fit(X)
    before = est.sample(5, random_state=1), est.score_samples(X[:5])
    with pytest.raises(ValueError, match="constant"):
        est.fit(np.ones((10, 5)))
    assert est.n_features_in_ == 3
    np.testing.assert_array_equal(est.sample(5, random_state=1), before[0])
    np.testing.assert_array_equal(est.score_samples(X[:5]), before[1])


def test_an_interrupted_fit_leaves_an_unfitted_model_unfitted(rng):
    def stop(network, epoch, train, val):
        if epoch == 3:
            raise KeyboardInterrupt

    est = DSG(callback=stop, random_state=0, **FAST)
    with pytest.raises(KeyboardInterrupt):
        est.fit(rng.normal(size=(300, 3)))
    assert not any(k.endswith("_") for k in vars(est))
    with pytest.raises(NotFittedError):
        est.sample(3)


def test_teacher_and_preprocessing_are_the_fitted_objects(gauss_data):
    # teacher_ and preprocessing_ are what labelling used: the teacher's density through
    # them equals score_samples(method="teacher"), and the read-only attributes mirror them
    Xtr, Xte, _ = gauss_data
    est = DSG(bandwidth=0.6, whiten=True, variance_correction=True, keep_training_data=True, random_state=0,
              **FAST).fit(Xtr[:400])
    import torch

    u = torch.as_tensor(est.preprocessing_.to_model(Xte[:20])).to(est.device_)
    want = est.teacher_.log_prob(u).cpu().numpy() + est.preprocessing_.log_det
    np.testing.assert_allclose(est.score_samples(Xte[:20], method="teacher"), want, rtol=1e-12)
    assert est.bandwidth_ == est.teacher_.bandwidth == 0.6
    assert est.variance_scale_ == est.teacher_.scale == pytest.approx(1 / np.sqrt(1.36))
    assert est.whitening_ is est.preprocessing_.whitening and est.teacher_.data.shape == (400, 2)
    with pytest.raises(AttributeError):
        DSG().bandwidth_


def test_thread_count_is_scoped_to_each_call(rng, monkeypatch):
    # fit, sample and score_samples run with the resolved thread counts and restore torch's
    import torch

    X = rng.normal(size=(200, 2))
    seen = []
    real = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (seen.append(n), real(n))[1])
    before = torch.get_num_threads()
    est = DSG(random_state=0, **FAST).fit(X)
    # fit: n_jobs=None is one thread for the kernel sums, the labelling tasks and the training,
    # and each scope gives back what it found
    assert set(seen) == {1, before} and seen[-1] == before and torch.get_num_threads() == before
    seen.clear()
    est.sample(3)
    est.score_samples(X[:3])
    assert seen == [1, before, 1, before] and torch.get_num_threads() == before
    real(1)  # a limit set by the user (or by joblib in a worker): n_jobs=-1 stays within it
    try:
        seen.clear()
        DSG(n_jobs=-1, random_state=0, **{**FAST, "max_iter": 2}).fit(X)
        assert set(seen) == {1}
    finally:
        real(before)


@pytest.mark.parametrize("kind", ["adaptive", "local"])
def test_adaptive_and_local_teacher_densities_in_data_units(gauss_data, kind):
    # brute force in data units: point n's kernel N(m + c C x_n, c^2 C S_n C^T), S_n its
    # covariance in model units (h^2 lambda_n^2 I, or h^2 I + V_n diag(mu_n) V_n^T)
    Xtr, Xte, _ = gauss_data
    Xtr = Xtr[:300]
    est = DSG(teacher=kind, whiten=False, keep_training_data=True, random_state=0, **{**FAST, "max_iter": 2})
    with pytest.warns(ConvergenceWarning):
        est.fit(Xtr)
    t = est.teacher_
    assert est.teacher_kind_ == t.kind == kind
    mean, std = Xtr.mean(0), Xtr.std(0)
    x = t.data.numpy()
    if kind == "adaptive":
        S = (t.bandwidth * t.widths.numpy())[:, None, None] ** 2 * np.eye(2)
    else:
        V, mu = t.bases.numpy(), t.local_variances.numpy()
        S = t.bandwidth**2 * np.eye(2) + np.einsum("ndr,nr,ner->nde", V, mu, V)
    C = np.diag(std)
    dens = np.mean([multivariate_normal(mean + t.scale * C @ x[n], t.scale**2 * C @ S[n] @ C).pdf(Xte[:20])
                    for n in range(len(x))], axis=0)
    np.testing.assert_allclose(est.score_samples(Xte[:20], method="teacher"), np.log(dens), rtol=1e-7)


def test_adaptive_widths_are_floored_where_the_schedule_stops(gauss_data):
    # the authors' schedule cannot reach b/a below 0.1: the adaptive widths h lambda_n are
    # floored there, and the labels still follow the (floored) teacher's density
    Xtr = gauss_data[0][:300]
    est = DSG(bandwidth=0.12, teacher="adaptive", schedule="authors", whiten=False, variance_correction=False,
              keep_training_data=True, random_state=0, **{**FAST, "max_iter": 2})
    with pytest.warns(ConvergenceWarning):
        est.fit(Xtr)
    t = est.teacher_
    assert t.ode_bandwidth == pytest.approx(0.1) and float(t.widths.max()) > 1.2


def test_auto_teacher_is_the_fit_of_the_kind_it_picks():
    # heavy-tailed columns: cross-validation picks the adaptive teacher, and the auto fit is
    # that teacher's fit, bit for bit
    X = np.random.RandomState(0).standard_t(2, size=(400, 2))
    auto = DSG(random_state=0, **FAST).fit(X)
    assert auto.teacher_kind_ == "adaptive"
    same = DSG(teacher="adaptive", random_state=0, **FAST).fit(X)
    np.testing.assert_array_equal(auto.sample(50, random_state=1), same.sample(50, random_state=1))
    kde = DSG(teacher="kde", random_state=0, **FAST).fit(X)
    assert kde.teacher_kind_ == "kde" and not np.array_equal(kde.sample(50, random_state=1), auto.sample(50, random_state=1))
