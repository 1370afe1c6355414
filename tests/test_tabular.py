"""TabularGenerator: dtype round trips, valid categories, bounds, missingness and class conditioning.

Most tests wrap a narrow KernelDensity, which resamples the encoded training rows with a small
jitter: fast, and its law is known, so every frequency below has an exact expectation.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, clone
from sklearn.neighbors import KernelDensity

from sklearn_diffgen import DiffusionSupervisedGenerator, TabularGenerator
from sklearn_diffgen.tabular import _prepare, _describe, sample_counts

N = 600
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def kde(bandwidth=0.01):
    return KernelDensity(bandwidth=bandwidth)


@pytest.fixture
def frame():
    rng = np.random.RandomState(0)
    return pd.DataFrame({
        "f": rng.normal(5.0, 2.0, N),
        "i": rng.randint(-3, 9, N).astype(np.int64),
        "i32": rng.randint(0, 100, N).astype(np.int32),
        "nullable": pd.array(rng.randint(0, 4, N), dtype="Int64"),
        "b": rng.rand(N) < 0.3,
        "cat": pd.Categorical(rng.choice(["x", "y", "z"], N), categories=["x", "y", "z", "unused"]),
        "obj": rng.choice(["red", "green"], N).astype(object),
        "s": pd.array(rng.choice(["u", "v"], N), dtype="string"),
    })


@pytest.fixture
def labelled():
    # the class moves every column: "a" rows are small and "p", "b" rows large and "q"
    rng = np.random.RandomState(1)
    y = np.where(rng.rand(N) < 0.25, "a", "b")
    big = y == "b"
    X = pd.DataFrame({
        "f": np.where(big, 10.0, 0.0) + rng.normal(0, 1, N),
        "k": pd.Categorical(np.where(big, "q", "p")),
        "n": np.where(big, 50, 5) + rng.randint(0, 3, N),
    })
    return X, y


def test_dtypes_and_categories_round_trip(frame):
    gen = TabularGenerator(kde(), random_state=0).fit(frame)
    out = gen.sample(500, random_state=0)
    assert list(out.columns) == list(frame.columns)
    assert out.dtypes.to_dict() == frame.dtypes.to_dict()
    assert list(out["cat"].cat.categories) == ["x", "y", "z", "unused"]
    for col in ("cat", "obj", "s", "b"):
        assert set(out[col].unique()) <= set(frame[col].unique())
    for col in ("i", "i32", "nullable"):
        assert np.array_equal(out[col].to_numpy(dtype=float), np.round(out[col].to_numpy(dtype=float)))


@pytest.mark.parametrize("encoding", ["onehot", "ordinal"])
def test_category_frequencies_follow_the_data(frame, encoding):
    # a narrow KDE resamples training rows, so category frequencies match the data's
    gen = TabularGenerator(kde(), categorical_encoding=encoding, random_state=0).fit(frame)
    out = gen.sample(4000, random_state=1)
    for col in ("cat", "obj", "b", "i"):
        levels = sorted(frame[col].unique())
        observed = out[col].value_counts().reindex(levels, fill_value=0).to_numpy()
        expected = frame[col].value_counts(normalize=True).reindex(levels).to_numpy() * len(out)
        assert stats.chisquare(observed, expected).pvalue > 1e-3, col


def test_integer_dequantisation_is_uniform_within_cells(frame):
    cols = _describe(frame, None)
    prepared = _prepare(frame, cols, np.random.RandomState(0))
    frac = prepared["i"].to_numpy() - frame["i"].to_numpy()
    assert stats.kstest(frac, stats.uniform(loc=-0.5, scale=1).cdf).pvalue > 1e-3
    assert np.array_equal(np.rint(prepared["i"]), frame["i"])


def test_clip_keeps_the_observed_bounds(frame):
    # integers on their range, not their grid of 12 values, and not mapped onto the training
    # marginal (which stays within the range), so that unclipped rows leave it
    wide = TabularGenerator(kde(2.0), clip=False, discrete_levels=None, match_marginals=False,
                            random_state=0).fit(frame[["f", "i"]])
    raw = wide.sample(2000, random_state=0)
    assert raw["f"].max() > frame["f"].max() and raw["i"].min() < frame["i"].min()
    out = clone(wide).set_params(clip=True).fit(frame[["f", "i"]]).sample(2000, random_state=0)
    for col in ("f", "i"):
        assert frame[col].min() <= out[col].min() and out[col].max() <= frame[col].max()


def test_arrays_in_arrays_out():
    X = np.random.RandomState(0).normal(size=(200, 3))
    gen = TabularGenerator(kde(), random_state=0).fit(X)
    out = gen.sample(7, random_state=0)
    assert isinstance(out, np.ndarray) and out.shape == (7, 3)
    assert not hasattr(gen, "feature_names_in_")


def test_reproducible_under_random_state(frame):
    est = DiffusionSupervisedGenerator(n_labels=300, max_iter=3, bandwidth=0.3)
    a = TabularGenerator(est, random_state=3).fit(frame).sample(50, random_state=4)
    b = TabularGenerator(est, random_state=3).fit(frame).sample(50, random_state=4)
    pd.testing.assert_frame_equal(a, b)


def test_floats_pass_through_to_the_wrapped_density():
    X = np.random.RandomState(0).normal(size=(300, 2))
    gen = TabularGenerator(KernelDensity(bandwidth=0.4)).fit(pd.DataFrame(X, columns=["a", "b"]))
    ref = KernelDensity(bandwidth=0.4).fit(X)
    Xt = np.random.RandomState(1).normal(size=(20, 2))
    assert np.allclose(gen.score_samples(pd.DataFrame(Xt, columns=["a", "b"])), ref.score_samples(Xt))


@pytest.mark.parametrize("conditional", ["separate", "joint"])
def test_sample_of_requested_classes(labelled, conditional):
    X, y = labelled
    gen = TabularGenerator(kde(), conditional=conditional, random_state=0).fit(X, y)
    assert list(gen.classes_) == ["a", "b"]
    out = gen.sample(300, y="a", random_state=0)
    assert (out["k"] == "p").all() and out["f"].mean() < 1.0 and out["n"].max() <= 8  # dequantised cells reach 7.5
    Xs, ys = gen.sample_labeled(400, class_proportions="balanced", random_state=0)
    assert (ys == "a").sum() == 200 and (ys == "b").sum() == 200
    # every row looks like its label
    assert ((Xs["k"] == "q") == (ys == "b")).all()


def test_class_frequencies_follow_training_by_default(labelled):
    X, y = labelled
    gen = TabularGenerator(kde(), random_state=0).fit(X, y)
    out = gen.sample(4000, random_state=2)
    n_b = int((out["k"] == "q").sum())
    p = np.mean(y == "b")
    assert abs(n_b - 4000 * p) < 4 * np.sqrt(4000 * p * (1 - p))
    _, ys = gen.sample_labeled(10, class_proportions={"a": 3, "b": 2}, random_state=0)
    assert (ys == "a").sum() == 6
    _, ys = gen.sample_labeled(9, random_state=0)
    assert (ys == "a").sum() == sample_counts(9, gen.class_prior_)[0]


def test_separate_density_is_the_class_mixture(labelled):
    X, y = labelled
    gen = TabularGenerator(KernelDensity(bandwidth=0.5), random_state=0).fit(X, y)
    per = np.column_stack([gen.score_samples(X[:10], np.full(10, c)) for c in gen.classes_])
    assert np.allclose(gen.score_samples(X[:10]), logsumexp(per + np.log(gen.class_prior_), axis=1))
    # a row's own class explains it far better than the other
    own = gen.score_samples(X[:10], y[:10])
    other = gen.score_samples(X[:10], np.where(y[:10] == "a", "b", "a"))
    assert np.all(own > other + 10)


@pytest.mark.parametrize("encoding", ["onehot", "ordinal"])
def test_missing_values_reproduced_or_imputed(encoding):
    rng = np.random.RandomState(0)
    f = rng.normal(size=N)
    f[rng.rand(N) < 0.2] = np.nan
    c = rng.choice(["u", "v"], N).astype(object)
    c[rng.rand(N) < 0.1] = None
    X = pd.DataFrame({"f": f, "c": c})
    gen = TabularGenerator(kde(), categorical_encoding=encoding, random_state=0).fit(X)
    out = gen.sample(3000, random_state=0)
    for col, rate in (("f", X["f"].isna().mean()), ("c", X["c"].isna().mean())):
        assert abs(out[col].isna().mean() - rate) < 4 * np.sqrt(rate * (1 - rate) / 3000), col
    full = gen.set_params(missing="impute").sample(3000, random_state=0)
    assert not full.isna().any().any()
    assert set(full["c"]) == {"u", "v"}
    assert np.all(np.isfinite(gen.score_samples(X)))


def test_default_generator_end_to_end(labelled):
    X, y = labelled
    gen = TabularGenerator(DiffusionSupervisedGenerator(n_labels=1000, max_iter=15), random_state=0)
    Xs, ys = gen.fit(X, y).sample_labeled(200, class_proportions="balanced", random_state=0)
    assert Xs.dtypes.to_dict() == X.dtypes.to_dict()
    assert set(Xs["k"]) <= {"p", "q"}
    # the class is learned: rows of "b" are large
    assert Xs.loc[ys == "b", "f"].mean() > 7 and Xs.loc[ys == "a", "f"].mean() < 3


def test_errors(frame, labelled):
    X, y = labelled
    with pytest.raises(TypeError, match="cannot model"):
        TabularGenerator(kde()).fit(pd.DataFrame({"t": pd.date_range("2020", periods=5)}))
    with pytest.raises(ValueError, match="no observed value"):
        TabularGenerator(kde()).fit(pd.DataFrame({"a": [np.nan, np.nan], "b": [1.0, 2.0]}))
    with pytest.raises(ValueError, match="single row.*drop them or merge") as err:
        TabularGenerator(kde()).fit(X, np.r_[["lonely"], y[1:]])
    assert "joint" not in str(err.value)  # no advice that the other mode cannot follow either
    gen = TabularGenerator(kde()).fit(X, y)
    with pytest.raises(ValueError, match="unknown classes"):
        gen.sample(3, y="c")
    with pytest.raises(ValueError, match="shape"):
        gen.sample(3, y=["a", "b"])
    with pytest.raises(ValueError, match="columns"):
        gen.score_samples(X[["f", "k"]])
    with pytest.raises(ValueError, match="shape"):
        TabularGenerator(kde()).fit(X, y[:-1])
    unlabelled = TabularGenerator(kde()).fit(X)
    with pytest.raises(ValueError, match="fitted with labels"):
        unlabelled.sample_labeled(3)
    with pytest.raises(ValueError, match="without labels"):
        unlabelled.sample(3, y="a")
    with pytest.raises(ValueError, match="positive integer"):
        unlabelled.sample(0)


def test_sample_counts_rounding():
    rng = np.random.RandomState(0)
    for _ in range(50):
        p, n = rng.rand(rng.randint(1, 6)), rng.randint(0, 100)
        counts = sample_counts(n, p)
        share = n * p / p.sum()
        assert counts.sum() == n and np.all(np.abs(counts - share) < 1)


def test_a_failed_fit_leaves_the_table_model_as_it_was(fast):
    import pandas as pd

    rng = np.random.RandomState(0)
    df = pd.DataFrame({"a": rng.normal(size=120), "k": pd.Categorical(rng.choice(["u", "v"], 120))})
    gen = TabularGenerator(DiffusionSupervisedGenerator(**fast), random_state=0).fit(df)
    before = gen.sample(5, random_state=1)
    with pytest.raises(ValueError, match="n_samples=1"):
        gen.fit(df.iloc[:1])
    pd.testing.assert_frame_equal(gen.sample(5, random_state=1), before)
    assert list(gen.feature_names_in_) == ["a", "k"]


def test_unseeded_sampling_leaves_numpy_global_state_alone(fast):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, 2))
    gen = TabularGenerator(DiffusionSupervisedGenerator(**fast)).fit(X)
    state = np.random.get_state()[1].copy()
    gen.sample(4)
    assert (np.random.get_state()[1] == state).all()


def test_sparse_and_complex_input_get_clear_errors(fast):
    import scipy.sparse as sp

    gen = TabularGenerator(DiffusionSupervisedGenerator(**fast))
    with pytest.raises(TypeError, match="sparse"):
        gen.fit(sp.csr_matrix(np.eye(4)))
    with pytest.raises(ValueError, match="Complex"):
        gen.fit(np.ones((4, 2)) * (1 + 1j))



def test_unclear_inputs_get_errors_that_name_the_problem(labelled):
    X, y = labelled
    dup = X.rename(columns={X.columns[1]: X.columns[0]})
    with pytest.raises(ValueError, match="duplicate column names"):
        TabularGenerator(kde()).fit(dup)
    mixed = X.assign(m=pd.Series([1 if i % 2 else "x" for i in range(len(X))], dtype=object))
    with pytest.raises(TypeError, match="column 'm' mixes strings and numbers"):
        TabularGenerator(kde()).fit(mixed)
    # as a list, numpy would turn 1 into "1" and return labels of another type: refused too
    labels = [1 if i < 10 else v for i, v in enumerate(y)]
    for given in (labels, pd.Series(labels, dtype=object)):
        with pytest.raises(TypeError, match="y mixes strings and numbers"):
            TabularGenerator(kde()).fit(X, given)


def test_integers_beyond_float64_precision_warn():
    df = pd.DataFrame({"k": np.array([2**60, 2**60 + 1, 5, 7, 9], dtype=np.int64), "f": np.arange(5.0)})
    with pytest.warns(UserWarning, match="beyond 2\\*\\*53"):
        TabularGenerator(kde()).fit(df)


class _FirstClassOnly(BaseEstimator):
    """A joint row model whose samples always carry the first class (an all-zero label block)."""

    def fit(self, X, y=None):
        self.n_features_ = X.shape[1]
        return self

    def sample(self, n_samples=1, random_state=None):
        return np.zeros((n_samples, self.n_features_))


@pytest.mark.parametrize("n_rare, advice", [(2, "use conditional='separate'"), (1, "drop it or merge")])
def test_rare_class_of_the_joint_model_says_what_works(labelled, n_rare, advice):
    X, y = labelled
    labels = np.asarray(y, dtype=object).copy()
    labels[:n_rare] = "rare"
    gen = TabularGenerator(_FirstClassOnly(), conditional="joint", random_state=0).fit(X, labels)
    with pytest.raises(RuntimeError, match=f"has {n_rare} training rows.*{advice}"):
        gen.sample(5, y="rare", random_state=0)
    if n_rare == 2:  # the advice works
        assert len(TabularGenerator(kde(), random_state=0).fit(X, labels).sample(5, y="rare")) == 5


# ------------------------------------------------------------------------ grid columns
@pytest.fixture
def grid_frame():
    """A price grid stored as floats, a code with gaps, a 0/1 flag, and a continuous column."""
    rng = np.random.RandomState(3)
    prices = np.array([1.69, 1.75, 1.86, 1.99, 2.09])
    return pd.DataFrame({
        "price": rng.choice(prices, N, p=[0.1, 0.4, 0.2, 0.2, 0.1]),
        "store": rng.choice([1, 2, 3, 4, 7], N).astype(np.int64),
        "flag": (rng.rand(N) < 0.15).astype(np.int64),
        "loyal": rng.beta(2, 2, N),
    })


def test_grid_columns_are_detected(grid_frame):
    cols = {c.name: c for c in _describe(grid_frame, 20)}
    np.testing.assert_array_equal(cols["price"].levels, [1.69, 1.75, 1.86, 1.99, 2.09])
    np.testing.assert_array_equal(cols["store"].levels, [1, 2, 3, 4, 7])
    np.testing.assert_array_equal(cols["flag"].levels, [0, 1])
    assert cols["loyal"].levels is None
    assert all(c.levels is None for c in _describe(grid_frame, None))
    # fewer than 4 rows per value on average: a continuum seen on few rows, not a grid
    assert _describe(grid_frame.head(12), 20)[0].levels is None


def test_grid_columns_keep_their_values_and_frequencies(grid_frame):
    # a jitter well inside the price cells (half-widths 0.03 to 0.055)
    out = TabularGenerator(kde(0.001), random_state=0).fit(grid_frame).sample(4000, random_state=1)
    for col in ("price", "store", "flag"):
        levels = np.sort(grid_frame[col].unique())
        assert set(np.unique(out[col])) <= set(levels), col
        observed = out[col].value_counts().reindex(levels, fill_value=0).to_numpy()
        expected = grid_frame[col].value_counts(normalize=True).reindex(levels).to_numpy() * len(out)
        assert stats.chisquare(observed, expected).pvalue > 1e-3, col
    assert out.dtypes.to_dict() == grid_frame.dtypes.to_dict()
    assert out["loyal"].nunique() > 1000  # the continuous column stays continuous
    # without grids, the float prices fill in between the observed ones
    plain = TabularGenerator(kde(0.001), discrete_levels=None, random_state=0).fit(grid_frame)
    assert not set(np.unique(plain.sample(4000, random_state=1)["price"])) <= set(grid_frame["price"])


def test_grid_columns_change_only_the_decoding(grid_frame):
    """The model sees the same rows with or without grids; decoding snaps to the nearest value."""
    # column by column: a few of the 50 (price, store, flag) combinations have fewer than 2 rows
    grid = TabularGenerator(kde(0.05), discrete_combinations=False, match_marginals=False,
                            random_state=0).fit(grid_frame)
    plain = TabularGenerator(kde(0.05), discrete_levels=None, match_marginals=False, random_state=0).fit(grid_frame)
    np.testing.assert_array_equal(grid.estimators_[None].tree_.data, plain.estimators_[None].tree_.data)
    a, b = grid.sample(3000, random_state=2), plain.sample(3000, random_state=2)
    levels = np.array([1.69, 1.75, 1.86, 1.99, 2.09])
    nearest = levels[np.abs(b["price"].to_numpy()[:, None] - levels).argmin(axis=1)]
    np.testing.assert_array_equal(a["price"], nearest)
    np.testing.assert_array_equal(a["loyal"], b["loyal"])
    codes = np.array([1, 2, 3, 4, 7])
    np.testing.assert_array_equal(a["store"], codes[np.abs(b["store"].to_numpy()[:, None] - codes).argmin(axis=1)])
    np.testing.assert_array_equal(grid.score_samples(grid_frame), plain.score_samples(grid_frame))


def test_bad_discrete_levels(grid_frame):
    with pytest.raises(ValueError):
        TabularGenerator(kde(), discrete_levels=1).fit(grid_frame)


# ------------------------------------------------------------ marginals of discrete columns
def _chisquare_pvalue(out, frame, col):
    levels = np.sort(frame[col].unique())
    observed = out[col].value_counts().reindex(levels, fill_value=0).to_numpy()
    expected = frame[col].value_counts(normalize=True).reindex(levels).to_numpy() * len(out)
    return stats.chisquare(observed, expected).pvalue


def test_match_marginals_gives_the_training_frequencies(grid_frame):
    """A kernel wider than the price cells smears their frequencies; the quantile map restores them."""
    kw = dict(discrete_combinations=False, random_state=0)
    plain = TabularGenerator(kde(0.05), match_marginals=False, **kw).fit(grid_frame).sample(4000, random_state=1)
    gen = TabularGenerator(kde(0.05), **kw).fit(grid_frame)
    out = gen.sample(4000, random_state=1)
    assert _chisquare_pvalue(plain, grid_frame, "price") < 1e-6  # nearest-value decoding alone is off
    for col in ("price", "store", "flag"):
        assert _chisquare_pvalue(out, grid_frame, col) > 1e-3, col
    assert set(gen.marginals_[None]) == {"price", "store", "flag"}  # the continuous column is not mapped
    source, target = gen.marginals_[None]["price"]
    assert source.shape == target.shape == (101,) and np.all(np.diff(source) > 0) and np.all(np.diff(target) >= 0)
    np.testing.assert_array_equal(out["loyal"], plain["loyal"])  # the same draws: floats untouched


def test_match_marginals_gives_a_spiked_float_column_its_point_mass():
    """Zero wages of 40 % of the rows: the map returns exact zeros at the training share."""
    rng = np.random.RandomState(10)
    works = rng.rand(N) < 0.6
    X = pd.DataFrame({"wage": np.where(works, rng.lognormal(2.0, 0.5, N), 0.0), "age": rng.normal(40, 10, N)})
    cols = {c.name: c for c in _describe(X, 20)}
    assert cols["wage"].spike and not cols["age"].spike
    assert not _describe(X.assign(wage=rng.normal(size=N)), 20)[0].spike  # no value held by 10 % of rows
    plain = TabularGenerator(kde(0.3), match_marginals=False, random_state=0).fit(X).sample(4000, random_state=1)
    out = TabularGenerator(kde(0.3), random_state=0).fit(X).sample(4000, random_state=1)
    share = np.mean(X["wage"] == 0)
    assert abs(np.mean(plain["wage"] == 0) - share) > 0.1  # the kernel smears it (clipping keeps about half)
    assert stats.binomtest(int(np.sum(out["wage"] == 0)), len(out), share).pvalue > 1e-3
    np.testing.assert_array_equal(out["age"], plain["age"])
    assert stats.ks_2samp(out.loc[out["wage"] > 0, "wage"], X.loc[works, "wage"]).pvalue > 1e-3


def test_match_marginals_keeps_the_model_ranks(grid_frame):
    """The map is monotone: the mapped column orders the rows as the model's draws did."""
    gen = TabularGenerator(kde(0.05), discrete_combinations=False, discrete_levels=None, random_state=0).fit(grid_frame)
    U = gen._sample_encoded(None, 2000, np.random.RandomState(3))
    j = list(grid_frame.columns).index("store")
    expected = np.rint(np.interp(U[:, j], *gen.marginals_[None]["store"]))
    np.testing.assert_array_equal(gen._output(U)["store"], expected)
    gen.set_params(match_marginals=False)  # read at sampling, like clip
    np.testing.assert_array_equal(gen._output(U)["store"], np.clip(np.rint(U[:, j]), 1, 7))


class _Clipped(BaseEstimator):
    """A KDE whose draws are clipped at 0: half of them sit exactly on 0 (a point mass of the model)."""

    def fit(self, X):
        self.kde_ = KernelDensity(bandwidth=0.5).fit(X)
        return self

    def sample(self, n_samples=1, random_state=None):
        return np.maximum(self.kde_.sample(n_samples, random_state=random_state), np.median(self.kde_.tree_.data, 0))


def test_match_marginals_sends_a_point_mass_of_the_model_to_the_middle_of_its_span():
    rng = np.random.RandomState(11)
    X = pd.DataFrame({"wage": np.where(rng.rand(N) < 0.6, rng.lognormal(2.0, 0.5, N), 0.0)})
    gen = TabularGenerator(_Clipped(), random_state=0).fit(X)
    source, target = gen.marginals_[None]["wage"]
    assert np.sum(source == source[0]) > 40  # the model's draws tie at their floor
    out = gen.sample(2000, random_state=0)["wage"]
    # the tied half goes to the training quantile at about 1/4: one value, not the spike's far end
    tied = np.isclose(out, np.quantile(X["wage"], 0.25), atol=0.5)
    assert 0.4 < np.mean(tied) < 0.6 and np.mean(out == 0) < 0.6


def test_match_marginals_maps_each_class_onto_its_own_rows():
    """Two classes on disjoint integer ranges: each class's rows follow its own training frequencies."""
    rng = np.random.RandomState(12)
    y = np.r_[np.zeros(300, int), np.ones(300, int)]
    low = rng.choice(5, 300, p=[0.4, 0.3, 0.15, 0.1, 0.05])
    high = 20 + rng.choice(5, 300, p=[0.05, 0.1, 0.15, 0.3, 0.4])
    X = pd.DataFrame({"n": np.r_[low, high].astype(np.int64), "x": rng.normal(size=600)})
    for conditional in ("separate", "joint"):
        kw = dict(conditional=conditional, discrete_levels=None, random_state=0)
        gen = TabularGenerator(kde(1.5), **kw).fit(X, y)
        plain = TabularGenerator(kde(1.5), match_marginals=False, **kw).fit(X, y)
        assert set(gen.marginals_) == {0, 1}, conditional
        for k in (0, 1):
            out, off = gen.sample(3000, y=k, random_state=k), plain.sample(3000, y=k, random_state=k)
            train = X.loc[y == k, "n"].value_counts(normalize=True)
            tv = lambda s: 0.5 * s.value_counts(normalize=True).sub(train, fill_value=0).abs().sum()  # noqa: E731
            # within the quantile grid's resolution (101 points) and the draws' noise
            assert set(out["n"]) <= set(train.index) and tv(out["n"]) < 0.04, (conditional, k)
            assert tv(off["n"]) > 0.1  # the wide kernel, decoded alone, spreads over the class's range and beyond


def test_match_marginals_per_class_skips_small_classes_and_snapped_columns(price_frame):
    rng = np.random.RandomState(9)
    X = pd.DataFrame({"n": rng.randint(0, 30, N).astype(np.int64), "x": rng.normal(size=N)})
    y = np.r_[np.zeros(N - 40, int), np.ones(40, int)]  # class 1 has fewer than MIN_MARGINAL_ROWS rows
    gen = TabularGenerator(kde(0.5), random_state=0).fit(X, y)
    assert list(gen.marginals_) == [0] and list(gen.marginals_[0]) == ["n"]
    np.testing.assert_allclose(gen.marginals_[0]["n"][1], np.quantile(gen._encode(X, np.random.RandomState(0))[y == 0, 0],
                                                                      np.linspace(0, 1, 101)), atol=1.0)
    joint = TabularGenerator(kde(0.5), conditional="joint", random_state=0).fit(X, y)
    assert list(joint.marginals_) == [0]  # the joint model's draws split by label; class 1 is too small
    # the columns that the combinations set are not mapped; here every discrete column is one
    snapping = TabularGenerator(kde(0.3), random_state=0).fit(price_frame)
    assert snapping.combinations_ is not None and snapping.marginals_ == {}
    assert TabularGenerator(kde(), match_marginals=False, random_state=0).fit(X, y).marginals_ == {}


# ---------------------------------------------------------- combinations of discrete columns
@pytest.fixture
def price_frame():
    """A store's price and discount fix the sale price: 8 combinations (one of them in a single row)."""
    rng = np.random.RandomState(4)
    price = np.array([1.69, 1.69, 1.99, 1.99, 2.09, 2.09, 2.29, 2.29])
    disc = np.array([0.0, 0.2, 0.0, 0.4, 0.0, 0.3, 0.0, 0.5])
    k = rng.choice(7, N)  # combination 7 occurs once, below
    k[0] = 7
    return pd.DataFrame({"price": price[k], "disc": disc[k], "sale": price[k] - disc[k],
                         "kind": pd.Categorical(np.where(k % 2, "promo", "list")),
                         "loyal": rng.beta(2, 2, N)})


def _rows(frame, cols):
    return set(map(tuple, frame[cols].round(6).astype(str).to_numpy()))


def test_discrete_combinations_keep_relations_between_columns(price_frame):
    cols = ["price", "disc", "sale", "kind"]
    counts = price_frame[cols].round(6).astype(str).value_counts()
    shared = {tuple(t) for t in counts[counts >= 2].index}
    assert len(shared) == 7 and len(counts) == 8  # the single-row combination is not shared
    gen = TabularGenerator(kde(0.3), random_state=0).fit(price_frame)  # wide: columns mix
    assert _rows(gen.combinations_[None], cols) == shared
    out = gen.sample(3000, random_state=0)
    assert _rows(out, cols) <= shared  # every row is a shared combination, never the single one
    np.testing.assert_allclose(out["sale"], out["price"] - out["disc"], atol=1e-9)
    assert out["loyal"].nunique() > 2000  # the continuous column is left alone
    # column by column, the same draws break the relation
    plain = TabularGenerator(kde(0.3), discrete_combinations=False, random_state=0).fit(price_frame)
    assert plain.combinations_ is None
    off = plain.sample(3000, random_state=0)
    assert np.mean(np.abs(off["sale"] - (off["price"] - off["disc"])) > 1e-9) > 0.2
    np.testing.assert_array_equal(out["loyal"], off["loyal"])  # the same draws, decoded otherwise


def test_discrete_combinations_snap_to_the_nearest(price_frame):
    """Each row's discrete part is the combination nearest in range-scaled L1 to its column-by-column decoding."""
    gen = TabularGenerator(kde(0.05), random_state=0).fit(price_frame)
    plain = TabularGenerator(kde(0.05), discrete_combinations=False, random_state=0).fit(price_frame)
    U = gen._sample_encoded(None, 2000, np.random.RandomState(5))
    a, b = gen._output(U), plain._output(U)
    num = ["price", "disc", "sale"]
    span = price_frame[num].max() - price_frame[num].min()
    C = gen.combinations_[None]
    raw = U[:, :3]  # the numeric block comes first: price, disc, sale, then loyal
    d = (np.abs(raw[:, None, :] - C[num].to_numpy()[None]) / span.to_numpy()).sum(axis=2)
    onehot = U[:, 4:6]  # the kind block: "list", "promo"
    d += 0.5 * np.abs(onehot[:, None, :] - np.eye(2)[C["kind"].cat.codes.to_numpy()][None]).sum(axis=2)
    expected = C.iloc[d.argmin(axis=1)].reset_index(drop=True)
    pd.testing.assert_frame_equal(a[C.columns], expected, check_dtype=False)
    assert (a[num].to_numpy() != b[num].to_numpy()).any()  # it differs from the column-by-column decoding


def test_discrete_combinations_auto_needs_shared_rows(grid_frame):
    rng = np.random.RandomState(6)
    unique = pd.DataFrame({"a": rng.randint(0, 12, N).astype(np.int64), "b": rng.randint(0, 12, N).astype(np.int64),
                           "c": rng.randint(0, 12, N).astype(np.int64), "x": rng.normal(size=N)})
    # 1,728 possible combinations for 600 rows: too few are shared for "auto"
    assert TabularGenerator(kde(), random_state=0).fit(unique).combinations_ is None
    assert TabularGenerator(kde(), discrete_combinations=True, random_state=0).fit(unique).combinations_ is not None
    # one discrete column: nothing to combine
    assert TabularGenerator(kde(), discrete_combinations=True, random_state=0).fit(grid_frame[["price", "loyal"]]
                                                                                  ).combinations_ is None
    with pytest.raises(ValueError, match="discrete_combinations"):
        TabularGenerator(kde(), discrete_combinations="yes").fit(grid_frame)
    assert TabularGenerator(kde(), discrete_combinations=np.False_).fit(grid_frame).combinations_ is None


def test_discrete_combinations_are_each_class_own():
    """With one model per class, the rule holds per class: a class of unshared combinations is not snapped."""
    rng = np.random.RandomState(7)
    big = rng.randint(0, 10, 540)  # the big class: g1 = g2 = g3, 10 shared combinations
    small = rng.randint(0, 10, (60, 3))  # the small one: 60 rows, few of 1,000 combinations shared
    X = pd.DataFrame(np.vstack([np.c_[big, big, big], small]).astype(np.int64), columns=["g1", "g2", "g3"])
    X["x"] = rng.normal(size=600)
    y = np.r_[np.zeros(540, int), np.ones(60, int)]
    gen = TabularGenerator(kde(0.5), random_state=0).fit(X, y)
    assert list(gen.combinations_) == [0] and len(gen.combinations_[0]) >= 10
    equal = lambda df: np.mean((df["g1"] == df["g2"]) & (df["g2"] == df["g3"]))  # noqa: E731
    assert equal(gen.sample(2000, y=0, random_state=0)) == 1.0
    assert equal(gen.sample(2000, y=1, random_state=0)) < 0.15  # not pulled onto the big class's
    assert equal(X[y == 1]) < 0.15


def test_discrete_combinations_impute_keeps_category_frequencies():
    rng = np.random.RandomState(8)
    c = rng.choice(list("abc"), N).astype(object)
    c[rng.rand(N) < 0.3] = np.nan
    df = pd.DataFrame({"cat": pd.Categorical(c), "g": rng.choice([0.0, 1.0, 2.0], N), "x": rng.normal(size=N)})
    out = TabularGenerator(kde(0.05), missing="impute", random_state=0).fit(df).sample(4000, random_state=0)
    observed = out["cat"].value_counts().reindex(list("abc")).to_numpy()
    expected = df["cat"].value_counts(normalize=True).reindex(list("abc")).to_numpy() * len(out)
    assert stats.chisquare(observed, expected).pvalue > 1e-3


@pytest.mark.parametrize("encoding", ["onehot", "ordinal"])
@pytest.mark.parametrize("missing", ["reproduce", "impute"])
def test_discrete_combinations_with_missing_values(price_frame, encoding, missing):
    df = price_frame.copy()
    df.loc[df.index % 5 == 0, "disc"] = np.nan  # a fifth of the rows miss their discount
    gen = TabularGenerator(kde(0.05), categorical_encoding=encoding, missing=missing, random_state=0).fit(df)
    out = gen.sample(3000, random_state=0)
    levels = set(price_frame["disc"])
    assert set(out["disc"].dropna()) <= levels
    seen = _rows(gen.combinations_[None], ["price", "disc", "sale", "kind"])
    if missing == "reproduce":
        assert _rows(out, ["price", "disc", "sale", "kind"]) <= seen
        assert abs(out["disc"].isna().mean() - 0.2) < 0.04
    else:
        assert not out["disc"].isna().any()
        known = out[["price", "sale", "kind"]].round(6).astype(str)
        assert set(map(tuple, known.to_numpy())) <= _rows(gen.combinations_[None], ["price", "sale", "kind"])
        assert not gen.combinations_[None].isna().any().any()  # imputing: complete combinations only
