r"""Mixed-type tables in and out: a wrapper that encodes, conditions on a class and decodes.

:class:`TabularGenerator` puts any row generator with ``fit(X)`` and
``sample(n_samples, random_state=...)`` (by default :class:`DiffusionSupervisedGenerator`)
behind a pandas interface:

* **Encoding.** Float columns pass through. Integer columns are dequantised,
  :math:`u = k + \epsilon` with :math:`\epsilon \sim U(-\tfrac12, \tfrac12)`, and decoded
  by rounding, so that the model sees a continuous density whose cells carry the
  integer probabilities. A numeric column with few distinct values (at most
  ``discrete_levels``, and at least 4 rows per value on average: a price grid, a code, a
  0/1 flag) is a grid, not a continuum: it is encoded as above and decoded to the nearest
  observed value, so that sampled rows keep the column's value set. (Dequantising such
  columns within cells of their grid, or on the index of their values, made every column of
  the 17-column ISLR ``OJ`` table worse, continuous ones included: the teacher's one
  bandwidth then fits narrow spikes.) Categorical, string and boolean columns go through
  :class:`~sklearn.preprocessing.OneHotEncoder` (decoded by the argmax over the block) or
  :class:`~sklearn.preprocessing.OrdinalEncoder` with :math:`u = k + U(0, 1)` (decoded by
  :math:`\lfloor u \rfloor`, clipped to the codes), inside one
  :class:`~sklearn.compose.ColumnTransformer`.
* **Combinations of discrete columns.** Grid and categorical columns often hold a few
  combinations over and over: a store's prices and discounts in a week, a code and the flag
  derived from it. When the combinations that at least :data:`MIN_COMBINATION_ROWS` training
  rows share cover at least :data:`COMBINATION_SHARE` of the rows (``discrete_combinations="auto"``;
  with one model per class, the share is each class's),
  a sampled row's discrete columns are set together to the nearest of those combinations
  (L1 in the encoded space, each coordinate over its training range, one-hot and indicator
  coordinates halved), not column by column, so that the relations among them hold. On the
  17-column ``OJ`` table it took the W1 to the test rows from 1.82 to 1.09 and the coverage
  from 0.48 to 0.81 (:doc:`/benchmarks/tabular`); a combination that fewer rows share is
  never stored.
* **Marginals of discrete and spiked columns.** The model smooths the cells of an integer
  column, the observed values of a grid column and the point mass of a float column that one
  value holds at least :data:`SPIKE_SHARE` of (the zero wage of those who do not work), so
  that decoding gets their frequencies only roughly right (on ``Affairs``, with uneven grids
  of ages and years married, the most). With ``match_marginals=True`` each such column of a
  sampled row, for each class of at least :data:`MIN_MARGINAL_ROWS` training rows, goes
  through the monotone map that takes the model's quantiles (:data:`MARGINAL_DRAWS` draws at
  fit time) to the quantiles of the class's encoded training column, before decoding: the
  decoded frequencies follow the training ones, a point mass comes back as one value, and
  the rows keep the model's ranks, so the dependencies between columns are the model's.
  Other float columns are left alone (mapping them too lowered the ``Default`` table's DCR
  ratio from 0.85 to 0.75: their values moved towards the training rows'), and so are the
  columns that the combinations set.
* **Missing values.** A numeric column with NaNs gets a 0/1 indicator column, and its
  missing entries are filled with values drawn from the column's observed ones, so no
  row is dropped and no spike appears at a fill value; a missing category is a category
  of its own. With ``missing="reproduce"`` decoded rows carry NaNs where the indicator
  (or the category) says so, with the frequencies and dependencies learned from the data.
* **Class-conditional generation.** ``fit(X, y)`` learns :math:`p(x \mid y)`, either by
  one model per class (``conditional="separate"``) or by one model of the joint
  :math:`(x, \mathrm{onehot}(y))` from which rows of a class are drawn by rejection
  (``conditional="joint"``): rows are generated in batches and kept when the argmax of
  their label block is the requested class.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._estimator import DiffusionSupervisedGenerator
from ._validation import SEED_MAX, check_n_samples, check_random_state_fresh, keep_state_on_error, seeded_clone

__all__ = ["TabularGenerator", "sample_counts"]

#: A class must be generated with at least this acceptance rate by rejection before giving up.
_MIN_ACCEPTANCE = 1e-4
#: ``discrete_combinations`` keeps the combinations of the discrete columns that at least this
#: many training rows share (so that no single row's combination is stored) ...
MIN_COMBINATION_ROWS = 2
#: ... and, with ``"auto"``, snaps to them when they cover at least this share of the rows (at
#: 0.5 the ``Wage`` table, 0.53 covered, snapped, and its DCR ratio fell from 0.92 to 0.69).
COMBINATION_SHARE = 0.8
#: A float column is mapped by ``match_marginals`` too when one value holds at least this share
#: of its observed rows (a point mass, such as the zero wage of those who do not work) ...
SPIKE_SHARE = 0.1
#: ``match_marginals`` maps the columns of a class that has at least this many
#: training rows (fewer rows give too rough a quantile function to map onto) ...
MIN_MARGINAL_ROWS = 50
#: ... from the model's quantiles, estimated on this many draws at fit time, ...
MARGINAL_DRAWS = 4096
#: ... to the training column's, both kept at this many evenly spaced probabilities.
MARGINAL_QUANTILES = 101


# --------------------------------------------------------------------------- column kinds
@dataclass
class _Column:
    """What decoding needs to rebuild one column: its kind, dtype, bounds and missingness."""

    name: object
    kind: str  # "float", "integer" or "categorical"
    dtype: object
    lo: float = -np.inf
    hi: float = np.inf
    has_missing: bool = False
    levels: np.ndarray | None = None  # sorted observed values of a grid column
    spike: bool = False  # a float column that one value holds SPIKE_SHARE of (a zero wage)


def _column_kind(name, s) -> str:
    if pd.api.types.is_complex_dtype(s.dtype):
        raise ValueError(f"Complex data not supported (column {name!r})")
    if pd.api.types.is_bool_dtype(s.dtype):
        return "categorical"
    if pd.api.types.is_integer_dtype(s.dtype):
        return "integer"
    if pd.api.types.is_float_dtype(s.dtype):
        return "float"
    if isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(s.dtype) or \
            pd.api.types.is_string_dtype(s.dtype):
        _check_uniform_types(f"column {name!r}", s.dropna())
        return "categorical"
    raise TypeError(
        f"column {name!r} has dtype {s.dtype}, which TabularGenerator cannot model; convert it "
        "to numbers, integers, booleans or categories first"
    )


def _check_uniform_types(what: str, values) -> None:
    """Raise when values mix strings with numbers, which neither sorts nor encodes."""
    kinds = {"string" if isinstance(v, str) else "number" for v in values}
    if len(kinds) > 1:
        example = [next(v for v in values if isinstance(v, str)), next(v for v in values if not isinstance(v, str))]
        raise TypeError(f"{what} mixes strings and numbers (for example {example[0]!r} and {example[1]!r}); "
                        "convert it to one type first, for example with .astype(str)")


def _describe(df, max_levels: int | None) -> list[_Column]:
    cols = []
    for name in df.columns:
        s = df[name]
        kind = _column_kind(name, s)
        if s.isna().all():
            raise ValueError(f"column {name!r} has no observed value")
        col = _Column(name, kind, s.dtype, has_missing=bool(s.isna().any()))
        if kind != "categorical":
            if kind == "integer" and len(s.dropna()) and max(abs(int(s.min())), abs(int(s.max()))) > 2**53:
                warnings.warn(f"column {name!r} holds integers beyond 2**53, which float64 cannot hold exactly: "
                              "the model sees them, and samples them, rounded to float64 precision", UserWarning)
            v = s.dropna().to_numpy(dtype=np.float64)
            if not np.all(np.isfinite(v)):
                raise ValueError(f"column {name!r} has infinite values")
            col.lo, col.hi = float(v.min()), float(v.max())
            levels, counts = np.unique(v, return_counts=True)
            if max_levels is not None and 2 <= len(levels) <= min(max_levels, len(v) // 4):
                col.levels = levels
            elif kind == "float":
                col.spike = bool(counts.max() >= max(2, SPIKE_SHARE * len(v)))
        cols.append(col)
    return cols


def _as_object(s):
    # the encoders want one missing marker and plain Python categories
    return s.astype(object).where(s.notna(), np.nan) if len(s) else s.astype(object)


# ------------------------------------------------------------------------------ encoding
def _prepare(df, cols: list[_Column], rng: np.random.RandomState | None):
    """Fill and dequantise the columns of ``df``; None for ``rng`` gives cell centres (scoring)."""
    out = {}
    for c in cols:
        s = df[c.name]
        if c.kind == "categorical":
            out[c.name] = _as_object(s)
            continue
        v = s.to_numpy(dtype=np.float64, na_value=np.nan)
        miss = np.isnan(v)
        if c.has_missing:
            out[_indicator(c.name)] = miss.astype(np.float64)
        if miss.any():
            observed = v[~miss]
            v = v.copy()
            v[miss] = (rng.choice(observed, miss.sum()) if rng is not None else np.median(observed))
        if c.kind == "integer" and rng is not None:
            v = v + rng.uniform(-0.5, 0.5, v.shape)
        out[c.name] = v
    return pd.DataFrame(out, index=df.index)


def _nearest(levels: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Index of the nearest of the sorted ``levels`` to each value (the last one for NaN)."""
    return np.searchsorted(0.5 * (levels[1:] + levels[:-1]), v)


def _indicator(name) -> str:
    return f"{name}__missing"


def _make_encoder(cols: list[_Column], encoding: str) -> ColumnTransformer:
    numeric = [c.name for c in cols if c.kind != "categorical"]
    numeric += [_indicator(c.name) for c in cols if c.kind != "categorical" and c.has_missing]
    categorical = [c.name for c in cols if c.kind == "categorical"]
    if encoding == "onehot":
        cat = OneHotEncoder(sparse_output=False, handle_unknown="ignore", dtype=np.float64)
    else:
        # a missing category is code -1, so that its cell [-1, 0) sits beside the others
        cat = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-2,
                             encoded_missing_value=-1, dtype=np.float64)
    return ColumnTransformer(
        [("numeric", "passthrough", numeric), ("categorical", cat, categorical)],
        sparse_threshold=0.0,
        verbose_feature_names_out=False,
    )


def _category_blocks(enc: ColumnTransformer, encoding: str) -> list[slice]:
    """The slice of the encoded matrix that each categorical column occupies."""
    start = enc.output_indices_["categorical"].start
    cat = enc.named_transformers_["categorical"]
    sizes = [len(k) for k in cat.categories_] if encoding == "onehot" else [1] * len(cat.categories_)
    blocks = []
    for size in sizes:
        blocks.append(slice(start, start + size))
        start += size
    return blocks


def _discrete_coordinates(enc: ColumnTransformer, cols: list[_Column], encoding: str):
    """Encoded coordinates of the grid and categorical columns, their L1 weights, and value/indicator pairs.

    Returns the coordinate indices, a weight per coordinate (halved for one-hot and indicator
    coordinates; each is also divided by its training range later), and for each grid column
    with missing values the positions (within the coordinates) of its value and its indicator.
    """
    num = enc.output_indices_["numeric"]
    numeric = [c for c in cols if c.kind != "categorical"]
    coords, weights, pairs, n_ind = [], [], [], 0
    for j, c in enumerate(numeric):
        if c.levels is not None:
            coords.append(num.start + j)
            weights.append(1.0)
            if c.has_missing:
                pairs.append((len(coords) - 1, len(coords)))
                coords.append(num.start + len(numeric) + n_ind)
                weights.append(0.5)
        n_ind += c.has_missing
    cat = enc.output_indices_["categorical"]
    coords += list(range(cat.start, cat.stop))
    weights += [0.5 if encoding == "onehot" else 1.0] * (cat.stop - cat.start)
    return np.asarray(coords, dtype=int), np.asarray(weights), pairs


def _combinations(centres: np.ndarray, min_rows: int):
    """The distinct rows of ``centres`` that at least ``min_rows`` rows share: (first row of each, mask of their rows)."""
    _, first, inverse, counts = np.unique(centres, axis=0, return_index=True, return_inverse=True,
                                          return_counts=True)
    keep = counts >= min_rows
    return np.sort(first[keep]), keep[inverse.ravel()]


def _snap_combinations(U: np.ndarray, coords: np.ndarray, centres: np.ndarray, scale: np.ndarray,
                       free: np.ndarray) -> np.ndarray:
    """Set the coordinates ``coords`` of each row of ``U`` to those of the nearest of ``centres``.

    ``scale`` weighs each coordinate in the L1 distance; where ``free`` is True (the value of a
    grid column that the combination has missing) a coordinate neither counts nor changes.

    Examples
    --------
    >>> U = np.array([[0.1, 5.0, 0.9], [0.8, -1.0, 0.2], [np.nan, 2.0, 0.2]])
    >>> centres = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> _snap_combinations(U, np.array([0, 2]), centres, np.ones(2), np.zeros((2, 2), bool)).tolist()
    [[0.0, 5.0, 1.0], [1.0, -1.0, 0.0], [nan, 2.0, 0.2]]
    """
    out = U.copy()
    V = U[:, coords]
    finite = np.isfinite(V).all(axis=1)  # a row with a NaN is left as it is, not snapped anywhere
    step = max(1, 2**22 // max(1, centres.size))
    for i in range(0, V.shape[0], step):
        d = np.where(free[None], 0.0, np.abs(V[i:i + step, None, :] - centres[None]) * scale).sum(axis=2)
        nn = d.argmin(axis=1)
        keep = free[nn] | ~finite[i:i + step, None]
        out[i:i + step, coords] = np.where(keep, V[i:i + step], centres[nn])
    return out


def _marginal_coordinates(enc: ColumnTransformer, cols: list[_Column]) -> dict:
    """Encoded coordinate of each integer, grid and spiked float column, by column name."""
    num = enc.output_indices_["numeric"]
    numeric = [c for c in cols if c.kind != "categorical"]
    return {c.name: num.start + j for j, c in enumerate(numeric)
            if c.kind == "integer" or c.levels is not None or c.spike}


def _quantiles(v: np.ndarray) -> np.ndarray:
    """The :data:`MARGINAL_QUANTILES` evenly spaced quantiles of ``v``."""
    return np.quantile(v, np.linspace(0.0, 1.0, MARGINAL_QUANTILES))


def _map_marginals(U: np.ndarray, maps: dict) -> np.ndarray:
    """Each coordinate ``j`` of ``maps`` through the piecewise-linear map from its source to its target quantiles.

    Both are quantiles at the same evenly spaced probabilities. Values beyond the source's
    range go to the target's ends; NaNs stay NaN; a value that several source quantiles share
    (a point mass of the model) goes to the middle of their probabilities, not to one end.

    Examples
    --------
    >>> maps = {1: (np.array([0.0, 1.0, 4.0]), np.array([10.0, 20.0, 30.0]))}
    >>> _map_marginals(np.array([[7.0, 0.5], [7.0, 2.5], [7.0, 9.0]]), maps).tolist()
    [[7.0, 15.0], [7.0, 25.0], [7.0, 30.0]]
    >>> tied = {0: (np.array([0.0, 0.0, 0.0, 5.0, 9.0]), np.array([0.0, 1.0, 2.0, 3.0, 4.0]))}
    >>> _map_marginals(np.array([[0.0], [7.0]]), tied).ravel().tolist()
    [1.0, 3.5]
    """
    out = U.copy()
    for j, (source, target) in maps.items():
        grid = np.linspace(0.0, 1.0, len(source))
        v = U[:, j]
        # from the left and from the right: equal except on a run of equal source quantiles
        p = 0.5 * (np.interp(v, source, grid) + np.interp(-v, -source[::-1], grid[::-1]))
        out[:, j] = np.interp(p, grid, target)
    return out


def _decode(U: np.ndarray, enc: ColumnTransformer, cols: list[_Column], encoding: str,
            clip: bool, missing: str):
    """Rows of the encoded space back to a DataFrame with the training columns and dtypes."""
    numeric = [c for c in cols if c.kind != "categorical"]
    categorical = [c for c in cols if c.kind == "categorical"]
    num = U[:, enc.output_indices_["numeric"]]
    out = {}
    n_ind = 0
    for j, c in enumerate(numeric):
        v = num[:, j].copy()
        if c.levels is not None:
            v = np.where(np.isnan(v), np.nan, c.levels[_nearest(c.levels, v)])
        elif c.kind == "integer":
            v = np.rint(v)
        if clip:
            v = np.clip(v, c.lo, c.hi)
        if c.has_missing and missing == "reproduce":
            v[num[:, len(numeric) + n_ind] > 0.5] = np.nan
        n_ind += c.has_missing
        out[c.name] = v
    cat = enc.named_transformers_["categorical"] if categorical else None
    for j, (c, block) in enumerate(zip(categorical, _category_blocks(enc, encoding) if cat else [])):
        cats = cat.categories_[j]
        allowed = np.ones(len(cats), dtype=bool)
        if missing == "impute" and len(cats) > 1:
            allowed = ~pd.isna(cats)  # the missing category is never drawn
        if encoding == "onehot":
            u = np.where(allowed, U[:, block], -np.inf)
            code = u.argmax(axis=1)
        else:
            # codes 0..K-1 index the observed categories; -1 is the missing one (last in cats)
            codes = np.where(pd.isna(cats), -1, np.arange(len(cats)))
            ok = codes[allowed]
            u = np.floor(U[:, block.start])
            code = np.flatnonzero(allowed)[np.abs(u[:, None] - ok[None, :]).argmin(axis=1)]
        out[c.name] = cats[code]
    frame = pd.DataFrame({c.name: out[c.name] for c in cols})
    for c in cols:
        frame[c.name] = _restore_dtype(frame[c.name], c)
    return frame


def _restore_dtype(s, c: _Column):
    if c.kind == "integer" and s.isna().any() and not isinstance(c.dtype, pd.api.extensions.ExtensionDtype):
        return s  # a NumPy integer column cannot hold NaN: keep float, as pandas would
    if c.kind == "integer":
        info = np.iinfo(np.dtype(getattr(c.dtype, "numpy_dtype", c.dtype)))
        s = s.clip(info.min, info.max)
    if pd.api.types.is_bool_dtype(c.dtype) and not isinstance(c.dtype, pd.api.extensions.ExtensionDtype):
        if s.isna().any():
            return s.astype(object)
    try:
        return s.astype(c.dtype)
    except (TypeError, ValueError):
        return s.astype(object)


# ---------------------------------------------------------------------------- class counts
def sample_counts(n_samples: int, proportions: np.ndarray) -> np.ndarray:
    """Split ``n_samples`` into integer counts proportional to ``proportions``.

    Largest-remainder rounding: every count is the floor or the ceiling of its share, and
    the counts add up to ``n_samples``.

    Examples
    --------
    >>> sample_counts(10, np.array([0.5, 0.3, 0.2])).tolist()
    [5, 3, 2]
    >>> sample_counts(4, np.array([1.0, 1.0, 1.0])).tolist()
    [2, 1, 1]
    """
    p = np.asarray(proportions, dtype=np.float64)
    share = n_samples * p / p.sum()
    counts = np.floor(share).astype(int)
    rest = n_samples - counts.sum()
    counts[np.argsort(-(share - counts), kind="stable")[:rest]] += 1
    return counts


# ------------------------------------------------------------------------------- estimator
class TabularGenerator(BaseEstimator):
    r"""Synthetic rows of a mixed-type table, optionally of requested classes.

    Fit it on a DataFrame (and a class label); ``sample`` returns a DataFrame with the same
    columns, dtypes and category sets, ``sample_labeled`` rows with their classes.

    >>> import pandas as pd
    >>> from sklearn_diffgen import DiffusionSupervisedGenerator, TabularGenerator
    >>> rng = np.random.RandomState(0)
    >>> df = pd.DataFrame({"size": rng.normal(10, 2, 300),
    ...                    "rooms": rng.randint(1, 6, 300),
    ...                    "kind": pd.Categorical(rng.choice(["flat", "house"], 300))})
    >>> y = (df["size"] > 10).map({True: "big", False: "small"})
    >>> small = DiffusionSupervisedGenerator(n_labels=1000, n_iter_no_change=5)  # a 2 s example
    >>> gen = TabularGenerator(small, random_state=0).fit(df, y)
    >>> X_new, y_new = gen.sample_labeled(6, class_proportions="balanced", random_state=0)
    >>> X_new.dtypes.astype(str).tolist(), sorted(y_new.tolist())
    (['float64', 'int64', 'category'], ['big', 'big', 'big', 'small', 'small', 'small'])

    It wraps a row generator (by default :class:`DiffusionSupervisedGenerator`) with the
    encoding, class conditioning and decoding described in :mod:`sklearn_diffgen.tabular`.
    Fitted on an array, it returns an array.

    A fitted model keeps no training row that the training set holds only once: the columns'
    kinds, dtypes and observed minimum and maximum, the category sets, a grid column's values,
    the class frequencies, quantiles of some columns (see ``match_marginals``),
    the combinations of grid and categorical values that at least two
    training rows share (see ``discrete_combinations``; in a table of such columns alone they
    are whole rows, each one repeated) and the row generators, which by default keep no row
    (:ref:`privacy`).

    Parameters
    ----------
    estimator : estimator or None, default=None
        Row generator with ``fit(X)`` and ``sample(n_samples, random_state=None)``
        returning an array (``score_samples`` as well for :meth:`score_samples`). None
        uses ``DiffusionSupervisedGenerator()``. It is cloned; a ``random_state``
        parameter of the clone is set from this estimator's ``random_state``.
    categorical_encoding : {"onehot", "ordinal"}, default="onehot"
        ``onehot``: one coordinate per category, decoded by the argmax. ``ordinal``: one
        dequantised code per column, decoded by its floor. One-hot fitted the category
        frequencies better on all three tables of :doc:`/benchmarks/tabular_encodings` (mean total
        variation 0.087, 0.031, 0.046 against 0.125, 0.044, 0.098 on penguins, credit_card,
        diamonds), while ordinal codes trained classifiers as well or slightly better.
    conditional : {"separate", "joint"}, default="separate"
        How ``fit(X, y)`` conditions on the class: one model per class, or one model of
        the rows with the one-hot class appended, sampled by rejection. Separate models
        cost one fit per class but followed the classes better: a classifier trained on
        their rows scored a balanced accuracy of 0.991, 0.964 and 0.497 on the real test
        rows of penguins, credit_card and diamonds, against 0.953, 0.780 and 0.463 for the
        joint model (:doc:`/benchmarks/tabular_encodings`).
    clip : bool, default=True
        Keep numeric values within the range observed in training (grid columns, see
        ``discrete_levels``, keep their observed values either way, and so do the columns
        that ``match_marginals`` maps).
    missing : {"reproduce", "impute"}, default="reproduce"
        Whether sampled rows carry missing values where the learned missingness pattern
        puts them, or complete rows only.
    discrete_levels : int or None, default=20
        A numeric column with 2 to this many distinct values, and at least 4 training rows
        per value on average, is a grid of its observed values (see
        :mod:`sklearn_diffgen.tabular`): sampled values snap to the nearest of them. None
        leaves float columns continuous and integer columns on their integer range. The
        model is the same either way; only the decoding differs.
    discrete_combinations : "auto" or bool, default="auto"
        Whether a sampled row's grid and categorical columns are set together to the nearest
        combination of their values that at least :data:`MIN_COMBINATION_ROWS` training rows
        share (see :mod:`sklearn_diffgen.tabular`), instead of column by column. ``"auto"``:
        when there are at least two such columns and the shared combinations cover at least
        :data:`COMBINATION_SHARE` of the training rows (with ``conditional="separate"``, of
        the class's training rows: a class whose rows hold combinations of their own is
        decoded column by column). With ``missing="impute"``
        only combinations without a missing value are kept. Like ``discrete_levels``, it
        changes the decoding only; sampling costs a distance to every kept combination.
    match_marginals : bool, default=True
        Whether each integer, grid and spiked float column (one value holds at least
        :data:`SPIKE_SHARE` of its rows) of a sampled row goes, before decoding, through
        the monotone map from the model's marginal to the training rows' (see
        :mod:`sklearn_diffgen.tabular`), for each class with at least
        :data:`MIN_MARGINAL_ROWS` training rows (fitted without y: all rows together;
        ``conditional="joint"``: the joint model's draws split by their label), except the
        columns that ``discrete_combinations`` sets. It changes the decoding only
        (``score_samples`` is the model's), costs :data:`MARGINAL_DRAWS` draws of each model
        at fit time, and keeps mapped values within the class's training range even with
        ``clip=False``; it is read at sampling, like ``clip``.
        On :doc:`/benchmarks/tabular` (24 pairs of table and seed) it lowered the W1 to the
        test rows on 15, raised it on 3 (by at most 0.009) and left the 6 without such
        columns as they were; ``Affairs``, a table of uneven grids, went from 0.87 to 0.79
        (seeds 0-2). As :class:`~sklearn_diffgen.DiffusionOverSampler`'s generator it cost
        minority-class F1 on two of five tables of :doc:`/benchmarks/oversampling` (credit
        cards 0.706 to 0.666, the Chilean survey 0.207 to 0.196) and gained on one (diamonds
        0.408 to 0.439).
    random_state : int, RandomState instance or None, default=None
        Seeds the dequantisation, the models and the class draws.

    Attributes
    ----------
    columns_ : list of _Column
        Name, kind (``float``, ``integer`` or ``categorical``), dtype, observed bounds,
        missingness and, for a grid column, its observed values (``levels``), of every column.
    encoder_ : sklearn.compose.ColumnTransformer
        The fitted encoding.
    combinations_ : dict or None
        The combinations of the grid and categorical columns that sampled rows snap to, as a
        DataFrame (one row each, NaN where a column is missing), under each class whose rows
        snap (``conditional="separate"``: the rule is applied to each class's rows), or under
        the key None (fitted without y, or ``conditional="joint"``); None when no rows snap.
    marginals_ : dict
        With ``match_marginals=True``: under each class whose columns are mapped (or the key
        None), a dict from column name to the pair (the model's quantiles, the encoded
        training column's quantiles) at :data:`MARGINAL_QUANTILES` evenly spaced
        probabilities, the ends being the class's smallest and largest training values;
        empty otherwise.
    estimators_ : dict
        The fitted generators: one per class with ``conditional="separate"`` and a label,
        else one under the key None.
    classes_ : ndarray or None
        The class labels, None when fitted without y.
    class_prior_ : ndarray or None
        Training frequency of each class.
    class_count_ : ndarray or None
        Training rows of each class.
    n_features_in_ : int
        Number of columns seen in fit.
    feature_names_in_ : ndarray
        Column names, when X was a DataFrame.

    See Also
    --------
    DiffusionSupervisedGenerator : The default row generator.

    Examples
    --------
    The example at the top; :ref:`the tabular gallery example <sphx_glr_auto_examples_plot_tabular_augmentation.py>` has more.
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "sample"]), None],
        "categorical_encoding": [StrOptions({"onehot", "ordinal"})],
        "conditional": [StrOptions({"separate", "joint"})],
        "clip": ["boolean"],
        "missing": [StrOptions({"reproduce", "impute"})],
        "discrete_levels": [Interval(Integral, 2, None, closed="left"), None],
        "discrete_combinations": [StrOptions({"auto"}), "boolean"],
        "match_marginals": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, *, categorical_encoding="onehot", conditional="separate",
                 clip=True, missing="reproduce", discrete_levels=20, discrete_combinations="auto",
                 match_marginals=True, random_state=None):
        self.estimator = estimator
        self.categorical_encoding = categorical_encoding
        self.conditional = conditional
        self.clip = clip
        self.missing = missing
        self.discrete_levels = discrete_levels
        self.discrete_combinations = discrete_combinations
        self.match_marginals = match_marginals
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing values are modelled (see ``missing``)
        return tags

    # --------------------------------------------------------------------- helpers
    def _frame(self, X, reset: bool):
        if isinstance(X, pd.DataFrame):
            df = X
            if df.columns.duplicated().any():
                raise ValueError(f"X has duplicate column names {df.columns[df.columns.duplicated()].unique().tolist()}: "
                                 "give every column its own name")
            if reset:
                self.feature_names_in_ = np.asarray(X.columns, dtype=object)
                self._array_input = False
        else:
            if sp.issparse(X):
                raise TypeError("sparse input is not supported by TabularGenerator: pass a dense array or "
                                "a DataFrame (for example X.toarray())")
            arr = np.asarray(X)
            if arr.ndim != 2:
                raise ValueError(f"X must be 2-D (a DataFrame or an array), got shape {arr.shape}")
            df = pd.DataFrame(arr, columns=[f"x{j}" for j in range(arr.shape[1])])
            if reset:
                self._array_input = True
                if hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
        if reset:
            self.n_features_in_ = df.shape[1]
        elif df.shape[1] != self.n_features_in_ or (
            not self._array_input and list(df.columns) != list(self.feature_names_in_)
        ):
            raise ValueError(
                f"X has columns {list(df.columns)}, but this TabularGenerator was fitted on "
                f"{list(self.feature_names_in_) if not self._array_input else self.n_features_in_}"
            )
        return df

    def _encode(self, df, rng):
        U = self.encoder_.transform(_prepare(df, self.columns_, rng))
        if self.categorical_encoding == "ordinal" and rng is not None:
            cat = self.encoder_.output_indices_["categorical"]
            U[:, cat] += rng.uniform(0.0, 1.0, (U.shape[0], cat.stop - cat.start))
        elif self.categorical_encoding == "ordinal":
            U[:, self.encoder_.output_indices_["categorical"]] += 0.5
        return U

    def _new_estimator(self, rng):
        return seeded_clone(self.estimator if self.estimator is not None else DiffusionSupervisedGenerator(), rng)

    @staticmethod
    def _draw(est, n: int, seed: int) -> np.ndarray:
        if "random_state" in inspect.signature(est.sample).parameters:
            out = est.sample(n, random_state=seed)
        else:
            out = est.sample(n)
        return np.asarray(out[0] if isinstance(out, tuple) else out, dtype=np.float64)

    def _label_onehot(self, codes: np.ndarray) -> np.ndarray:
        return np.eye(len(self.classes_))[codes]

    # ------------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=False)
    @keep_state_on_error
    def fit(self, X, y=None):
        """Fit the encoding and the row generator(s).

        A fit that raises, or is interrupted, leaves the estimator as it was.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Columns of float, integer, boolean, categorical or string dtype; NaNs allowed.
        y : array-like of shape (n_samples,) or None
            Class labels to condition on.

        Returns
        -------
        self : TabularGenerator
        """
        df = self._frame(X, reset=True)
        if df.shape[0] < 2:
            raise ValueError(f"X has n_samples={df.shape[0]}, but TabularGenerator needs at least 2 rows")
        rng = check_random_state_fresh(self.random_state)
        self.columns_ = _describe(df, self.discrete_levels)
        self.encoder_ = _make_encoder(self.columns_, self.categorical_encoding)
        self.encoder_.fit(_prepare(df, self.columns_, np.random.RandomState(0)))
        U = self._encode(df, rng)
        self.classes_ = self.class_prior_ = self.class_count_ = None
        everything = {None: slice(None)}
        if y is None:
            self._fit_combinations(df, everything)
            self.estimators_ = {None: self._new_estimator(rng).fit(U)}
            self._fit_marginals(U, everything, rng)
            return self
        y_in, y = y, np.asarray(y)
        if y.shape != (df.shape[0],):
            raise ValueError(f"y must have shape ({df.shape[0]},), got {y.shape}")
        if pd.isna(y).any():
            raise ValueError("y has missing labels")
        _check_uniform_types("y", np.asarray(y_in, dtype=object).ravel())  # np.asarray made 1 and "a" both strings
        self.classes_, codes, self.class_count_ = np.unique(y, return_inverse=True, return_counts=True)
        self.class_prior_ = self.class_count_ / self.class_count_.sum()
        by_class = {c: codes == k for k, c in enumerate(self.classes_)}
        if self.conditional == "joint":
            self._fit_combinations(df, everything)
            self.estimators_ = {None: self._new_estimator(rng).fit(np.hstack([U, self._label_onehot(codes)]))}
            self._fit_marginals(U, by_class, rng)
            return self
        small = self.classes_[self.class_count_ < 2]
        if small.size:
            raise ValueError(
                f"classes {small.tolist()} have a single row, too few to learn their rows' distribution: "
                "drop them or merge them into other classes"
            )
        self._fit_combinations(df, by_class)
        self.estimators_ = {c: self._new_estimator(rng).fit(U[rows]) for c, rows in by_class.items()}
        self._fit_marginals(U, by_class, rng)
        return self

    def _fit_combinations(self, df, groups: dict) -> None:
        """The shared combinations of the discrete columns, their encoded centres, and which groups snap.

        The combinations are those that at least :data:`MIN_COMBINATION_ROWS` training rows
        share; ``groups`` maps a key (a class, or None) to its rows, a mask or a slice, and
        with ``"auto"`` a group snaps when shared combinations cover
        :data:`COMBINATION_SHARE` of its rows.
        """
        self.combinations_, self._combination_snap = None, None
        discrete = [c.name for c in self.columns_ if c.levels is not None or c.kind == "categorical"]
        auto = isinstance(self.discrete_combinations, str)
        if (not auto and not self.discrete_combinations) or len(discrete) < 2:
            return
        coords, weights, pairs = _discrete_coordinates(self.encoder_, self.columns_, self.categorical_encoding)
        centres = self._encode(df, None)[:, coords]  # cell centres: equal rows share a combination
        rows, shared = _combinations(centres, MIN_COMBINATION_ROWS)
        if self.missing == "impute":  # complete combinations only: a missing value could not be decoded as one
            rows = rows[df[discrete].iloc[rows].notna().all(axis=1).to_numpy()]
        keys = [key for key, mask in groups.items() if not auto or shared[mask].mean() >= COMBINATION_SHARE]
        if not rows.size or not keys:
            return
        span = np.ptp(centres, axis=0)
        scale = weights / np.where(span > 0, span, 1.0)
        free = np.zeros((rows.size, coords.size), dtype=bool)
        for value, indicator in pairs:  # a missing grid value: its indicator is set, its value stays free
            free[:, value] = centres[rows, indicator] > 0.5
        self._combination_snap = (coords, centres[rows], scale, free)
        table = df.iloc[rows][discrete].reset_index(drop=True)
        self.combinations_ = {key: table for key in keys}  # the groups that snap

    def _fit_marginals(self, U: np.ndarray, groups: dict, rng) -> None:
        """The model's and the training rows' quantiles of each integer, grid and spiked column, per group.

        ``groups`` maps a key (a class, or None) to its rows of ``U``, the encoded training
        rows; a group of fewer than :data:`MIN_MARGINAL_ROWS` rows is not mapped, nor are the
        columns that its combinations set. The joint model's draws are split by their label.
        """
        self.marginals_ = {}
        coords = _marginal_coordinates(self.encoder_, self.columns_)
        if not self.match_marginals or not coords:
            return
        joint = self.classes_ is not None and self.conditional == "joint"
        if joint:  # one draw of the joint model, each row to the class of its label block
            m = len(self.classes_)
            W = self._draw(self.estimators_[None], MARGINAL_DRAWS, int(rng.randint(SEED_MAX)))
            drawn = {c: W[W[:, -m:].argmax(axis=1) == k] for k, c in enumerate(self.classes_)}
        snapped = set(self._combination_snap[0].tolist()) if self._combination_snap is not None else set()
        for key, rows in groups.items():
            V = U[rows]
            owner = None if joint else key  # whose combinations are snapped
            mine = {name: j for name, j in coords.items()
                    if not (self.combinations_ is not None and owner in self.combinations_ and j in snapped)}
            if V.shape[0] < MIN_MARGINAL_ROWS or not mine:
                continue
            S = drawn[key] if joint else self._draw(self.estimators_[key], MARGINAL_DRAWS, int(rng.randint(SEED_MAX)))
            maps = {}
            for name, j in mine.items():
                source, target = S[:, j][np.isfinite(S[:, j])], V[:, j][np.isfinite(V[:, j])]
                if source.size >= MARGINAL_QUANTILES and target.size:  # too few draws: left as it is
                    maps[name] = (_quantiles(source), _quantiles(target))
            if maps:
                self.marginals_[key] = maps

    # ---------------------------------------------------------------------- sample
    def _class_codes(self, y) -> np.ndarray:
        y = np.asarray(y)
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        bad = self.classes_[idx] != y
        if np.any(bad):
            raise ValueError(f"unknown classes {np.unique(y[bad]).tolist()}; known: {self.classes_.tolist()}")
        return idx

    def _sample_encoded(self, codes: np.ndarray | None, n: int, rng) -> np.ndarray:
        if codes is None:
            return self._draw(self.estimators_[None], n, int(rng.randint(SEED_MAX)))
        U = None
        for k in np.unique(codes):
            rows = np.flatnonzero(codes == k)
            if self.conditional == "separate":
                block = self._draw(self.estimators_[self.classes_[k]], rows.size, int(rng.randint(SEED_MAX)))
            else:
                block = self._reject(k, rows.size, rng)
            if U is None:
                U = np.empty((n, block.shape[1]))
            U[rows] = block
        return U

    def _reject(self, k: int, n: int, rng) -> np.ndarray:
        est, m = self.estimators_[None], len(self.classes_)
        kept, drawn, got = [], 0, 0
        while got < n:
            batch = int(min(1e6, max(64, 1.2 * (n - got) / max(self.class_prior_[k], _MIN_ACCEPTANCE))))
            W = self._draw(est, batch, int(rng.randint(SEED_MAX)))
            drawn += batch
            ok = W[:, -m:].argmax(axis=1) == k
            kept.append(W[ok, :-m])
            got += int(ok.sum())
            if got < n and drawn >= 20 * n / max(self.class_prior_[k], _MIN_ACCEPTANCE):
                count = int(self.class_count_[k])
                advice = ("use conditional='separate', which fits a model to its rows alone" if count >= 2
                          else "drop it or merge it into another class")
                raise RuntimeError(
                    f"the joint model produced only {got} rows of class {self.classes_[k]!r} in "
                    f"{drawn} draws: it has {count} training rows, too few for the joint model to "
                    f"generate it; {advice}"
                )
        return np.vstack(kept)[:n]

    def _output(self, U: np.ndarray, codes: np.ndarray | None = None):
        if self.match_marginals and self.marginals_:  # fit always sets marginals_
            coords, mapped = _marginal_coordinates(self.encoder_, self.columns_), U.copy()
            for key, columns in self.marginals_.items():
                rows = slice(None) if key is None else codes == self._class_codes(np.asarray([key]))[0]
                mapped[rows] = _map_marginals(U[rows], {coords[name]: q for name, q in columns.items()})
            U = mapped
        if self._combination_snap is not None and None in self.combinations_:
            U = _snap_combinations(U, *self._combination_snap)
        elif self._combination_snap is not None:  # the rows of the classes that snap
            rows = np.array([c in self.combinations_ for c in self.classes_])[codes]
            U = U.copy()
            U[rows] = _snap_combinations(U[rows], *self._combination_snap)
        frame = _decode(U, self.encoder_, self.columns_, self.categorical_encoding, self.clip, self.missing)
        if self._array_input:
            return frame.to_numpy()
        return frame

    def sample(self, n_samples=1, y=None, random_state=None):
        """Draw synthetic rows, of the requested classes when fitted with labels.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows.
        y : label, array-like of shape (n_samples,) or None, default=None
            The class of every row, or one class for all of them. None draws classes with
            the training frequencies (when fitted with labels).
        random_state : int, RandomState instance or None, default=None
            Seeds the draw.

        Returns
        -------
        X : DataFrame or ndarray of shape (n_samples, `n_features_in_`)
            A DataFrame with the training columns and dtypes when fitted on one.
        """
        check_is_fitted(self)
        n_samples = check_n_samples(n_samples)
        rng = check_random_state_fresh(random_state)
        codes = None
        if self.classes_ is not None:
            if y is None:
                codes = rng.choice(len(self.classes_), n_samples, p=self.class_prior_)
            else:
                y = np.asarray(y)
                y = np.full(n_samples, y.item(), dtype=y.dtype) if y.ndim == 0 else y
                if y.shape != (n_samples,):
                    raise ValueError(f"y must be one label or have shape ({n_samples},), got {y.shape}")
                codes = self._class_codes(y)
        elif y is not None:
            raise ValueError("y was given, but this TabularGenerator was fitted without labels")
        return self._output(self._sample_encoded(codes, n_samples, rng), codes)

    def sample_labeled(self, n_samples=1, *, class_proportions="train", random_state=None):
        """Draw ``(X, y)`` with class counts in the given proportions: the rebalancing helper.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows in all.
        class_proportions : {"train", "balanced"} or dict, default="train"
            ``train``: the training frequencies; ``balanced``: equal counts; a dict maps
            classes to non-negative weights (missing classes get none). Counts are rounded
            by :func:`sample_counts`, so they add up to ``n_samples``.
        random_state : int, RandomState instance or None, default=None
            Seeds the draw; the rows come back in a seeded random order.

        Returns
        -------
        X : DataFrame or ndarray of shape (n_samples, `n_features_in_`)
        y : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        if self.classes_ is None:
            raise ValueError("sample_labeled needs a TabularGenerator fitted with labels y")
        if isinstance(class_proportions, str) and class_proportions == "train":
            p = self.class_prior_
        elif isinstance(class_proportions, str) and class_proportions == "balanced":
            p = np.ones(len(self.classes_))
        elif isinstance(class_proportions, dict):
            p = np.zeros(len(self.classes_))
            for c, w in class_proportions.items():
                if not np.isfinite(w) or w < 0:
                    raise ValueError(f"class_proportions[{c!r}] must be a non-negative number, got {w!r}")
                p[self._class_codes(np.asarray([c]))[0]] = w
            if p.sum() <= 0:
                raise ValueError("class_proportions gives every class a weight of 0")
        else:
            raise ValueError(
                f"class_proportions must be 'train', 'balanced' or a dict, got {class_proportions!r}"
            )
        rng = check_random_state_fresh(random_state)
        y = np.repeat(self.classes_, sample_counts(n_samples, p))[rng.permutation(n_samples)]
        return self.sample(n_samples, y=y, random_state=rng), y

    # ---------------------------------------------------------------------- density
    def score_samples(self, X, y=None):
        r"""Log-density of each row in the encoded space, for ranking rows (anomaly scores).

        Rows are encoded without noise: integers and ordinal codes at the centres of their
        cells, one-hot columns as 0/1, a missing number at the column's median with its
        indicator set. The value is the wrapped estimator's log-density there (the sum over
        the cells would be the probability): comparable between rows of one model, not a
        probability mass. With labels, ``y`` gives :math:`\log p(x \mid y)` (separate) or
        :math:`\log p(x, \mathrm{onehot}(y))` (joint); without ``y`` the classes are summed
        over, weighted by their training frequencies in the separate case.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, `n_features_in_`)
        y : array-like of shape (n_samples,) or None

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        U = self._encode(self._frame(X, reset=False), None)
        if self.classes_ is None:
            return self.estimators_[None].score_samples(U)
        n = U.shape[0]
        if self.conditional == "joint":
            m = len(self.classes_)
            if y is not None:
                return self.estimators_[None].score_samples(np.hstack([U, self._label_onehot(self._class_codes(y))]))
            per = [self.estimators_[None].score_samples(np.hstack([U, np.tile(self._label_onehot([k]), (n, 1))]))
                   for k in range(m)]
            return logsumexp(np.column_stack(per), axis=1)
        if y is not None:
            codes = self._class_codes(np.asarray(y))
            out = np.empty(n)
            for k in np.unique(codes):
                out[codes == k] = self.estimators_[self.classes_[k]].score_samples(U[codes == k])
            return out
        per = [np.log(p) + self.estimators_[c].score_samples(U) for c, p in zip(self.classes_, self.class_prior_)]
        return logsumexp(np.column_stack(per), axis=1)
