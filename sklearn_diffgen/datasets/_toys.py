"""The toy 2-D laws of FFJORD, their exact log-densities, and the one registry that names them.

References
----------
W. Grathwohl, R. T. Q. Chen, J. Bettencourt, I. Sutskever, D. Duvenaud. FFJORD: free-form
continuous dynamics for scalable reversible generative models. ICLR 2019.
https://arxiv.org/abs/1810.01367 (toy sets: ``lib/toy_data.py`` of https://github.com/rtqichen/ffjord)
"""

from __future__ import annotations

import math
from numbers import Integral
from typing import Callable, NamedTuple

import numpy as np
from scipy.spatial.distance import cdist
from scipy.special import logsumexp
from sklearn.datasets import make_circles, make_moons, make_swiss_roll
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

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

_N_SAMPLES = [Interval(Integral, 1, None, closed="left")]
#: The parameter checks of every toy sampler.
_validate_sampler = validate_params(
    {"n_samples": _N_SAMPLES, "random_state": ["random_state"]}, prefer_skip_nested_validation=True
)


# ---------------------------------------------------------------------------------------------
# Samplers
# ---------------------------------------------------------------------------------------------


@_validate_sampler
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
        Seeds the draws: the components of the rows, then their Gaussian noise.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        Rows in the plane, clustered around the eight centres.

    References
    ----------
    FFJORD's ``8gaussians``: Grathwohl et al., ICLR 2019, https://arxiv.org/abs/1810.01367

    Examples
    --------
    >>> X = make_eight_gaussians(5, random_state=0)
    >>> X.shape, X.dtype
    ((5, 2), dtype('float64'))
    """
    rng = check_random_state(random_state)
    k = rng.randint(8, size=n_samples)
    return _EIGHT_CENTRES[k] + _EIGHT_GAUSSIANS_STD * rng.standard_normal((n_samples, 2))


@_validate_sampler
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
        Seeds the draws: the squares of the rows, then the positions within the squares.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        Rows on the black squares, all within :math:`[-4, 4]^2`.

    References
    ----------
    FFJORD's ``checkerboard``: Grathwohl et al., ICLR 2019, https://arxiv.org/abs/1810.01367

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


@_validate_sampler
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
        Seeds the draws: the arms of the rows, then their radial, then their tangential coordinates.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        Rows along the five curved arms, at a radius of about 2.

    References
    ----------
    FFJORD's ``pinwheel``: Grathwohl et al., ICLR 2019, https://arxiv.org/abs/1810.01367

    Examples
    --------
    >>> radius = np.hypot(*make_pinwheel(1000, random_state=0).T)
    >>> bool((radius < 5).all()), round(float(np.median(radius)))
    (True, 2)
    """
    rng = check_random_state(random_state)
    arm = rng.randint(5, size=n_samples)
    r = 1.0 + 0.3 * rng.standard_normal(n_samples)
    s = 0.1 * rng.standard_normal(n_samples)
    theta = 2.0 * np.pi * arm / 5.0 + 0.25 * np.exp(r)
    cos, sin = np.cos(theta), np.sin(theta)
    return 2.0 * np.stack([r * cos + s * sin, -r * sin + s * cos], axis=1)


@_validate_sampler
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
        Passed to :func:`sklearn.datasets.make_swiss_roll`, which draws :math:`t`, a height
        (dropped here), then the noise.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        Rows along the spiral.

    References
    ----------
    FFJORD's ``swissroll``: Grathwohl et al., ICLR 2019, https://arxiv.org/abs/1810.01367

    Examples
    --------
    >>> make_swiss_roll_2d(7, random_state=0).shape
    (7, 2)
    """
    X, _ = make_swiss_roll(n_samples, noise=1.0, random_state=check_random_state(random_state))
    return X[:, [0, 2]] / 5.0


@_validate_sampler
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
        Seeds the draws: the rings of the rows, then their angles, then their noise.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        Rows near the four circles, all of them centred at the origin.

    References
    ----------
    FFJORD's ``rings``: Grathwohl et al., ICLR 2019, https://arxiv.org/abs/1810.01367

    Examples
    --------
    >>> radii = np.linalg.norm(make_rings(2000, random_state=0), axis=1)
    >>> sorted(set(np.round(radii / 0.75).astype(int).tolist()))
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


# ---------------------------------------------------------------------------------------------
# Exact log-densities
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
        Points at which to evaluate the mixture's log-density.

    Returns
    -------
    log_density : ndarray of shape (n_samples,)
        Finite at every finite point, however far from the centres.

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
        Points of the plane.

    Returns
    -------
    log_density : ndarray of shape (n_samples,)
        :math:`-\log 32` on the closed black squares, -inf elsewhere.

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


# ---------------------------------------------------------------------------------------------
# The registry: everything else about the toys is derived from it
# ---------------------------------------------------------------------------------------------


class Toy(NamedTuple):
    """One toy law: how to draw it, its exact log-density if known, and a one-line description."""

    #: ``sampler(n_samples, random_state=rng)`` returns rows of shape (n_samples, 2).
    sampler: Callable[..., np.ndarray]
    #: Maps rows of shape (n, 2) to their exact log-density, shape (n,); None when not known.
    logpdf: Callable[..., np.ndarray] | None
    description: str


#: The toy laws by name, in the order of :data:`TOY_DATASETS`.
TOYS = {
    "moons": Toy(_make_moons, None, "make_moons(noise=0.1) of scikit-learn."),
    "circles": Toy(_make_circles, None, "make_circles(noise=0.05, factor=0.5) of scikit-learn."),
    "8gaussians": Toy(
        make_eight_gaussians,
        eight_gaussians_logpdf,
        "FFJORD's eight Gaussians: centres at radius 2 sqrt(2), standard deviation sqrt(2)/4.",
    ),
    "checkerboard": Toy(
        make_checkerboard,
        checkerboard_logpdf,
        "FFJORD's checkerboard: uniform on 8 squares of side 2 in [-4, 4]^2.",
    ),
    "pinwheel": Toy(
        make_pinwheel,
        None,
        "FFJORD's pinwheel: 5 arms, radial std 0.3, tangential std 0.1, rate 0.25, scaled by 2.",
    ),
    "swissroll": Toy(
        make_swiss_roll_2d,
        None,
        "FFJORD's 2-D Swiss roll: make_swiss_roll(noise=1.0), columns 0 and 2, divided by 5.",
    ),
    "rings": Toy(
        make_rings, None, "FFJORD's rings: radii 3, 2.25, 1.5, 0.75, isotropic Gaussian noise of std 0.08."
    ),
}
TOY_DATASETS = tuple(TOYS)


@validate_params(
    {"name": [StrOptions(set(TOY_DATASETS))], "n_samples": _N_SAMPLES, "random_state": ["random_state"]},
    prefer_skip_nested_validation=True,
)
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
    FFJORD's toy sets (``lib/toy_data.py``): Grathwohl et al., ICLR 2019,
    https://arxiv.org/abs/1810.01367

    Examples
    --------
    >>> X = make_toy("rings", 100, random_state=0)
    >>> X.shape, bool(np.array_equal(X, make_rings(100, random_state=0)))
    ((100, 2), True)
    """
    X = TOYS[name].sampler(n_samples, random_state=check_random_state(random_state))
    return np.ascontiguousarray(X, dtype=np.float64)
