"""DiffusionOverSampler: imbalanced-learn's over-sampler interface over a generative model of each class.

It needs ``imbalanced-learn`` (the ``imbalanced`` extra: ``pip install -e ".[imbalanced]"``);
the rest of the package does not import this module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from imblearn.over_sampling.base import BaseOverSampler
from imblearn.utils import check_target_type
from imblearn.utils._docstring import Substitution
from imblearn.utils._validation import _check_X
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import validate_data

from ._validation import SEED_MAX, check_random_state_fresh, seeded_clone
from .tabular import TabularGenerator

__all__ = ["DiffusionOverSampler"]

#: A class needs at least this many rows to be given a model of its own.
MIN_CLASS_ROWS = 5


@Substitution(sampling_strategy=BaseOverSampler._sampling_strategy_docstring)
class DiffusionOverSampler(BaseOverSampler):
    """Over-sample classes with new rows drawn from a generative model fitted to each class.

    A drop-in for :class:`imblearn.over_sampling.SMOTE` in an
    :class:`imblearn.pipeline.Pipeline`: ``fit_resample(X, y)`` returns the rows of X followed
    by new rows of the classes that ``sampling_strategy`` asks to grow. Where SMOTE draws a
    new row on the segment between a row and one of its neighbours, this fits ``generator``
    (by default :class:`~sklearn_diffgen.TabularGenerator`, so DataFrames with categorical,
    integer and missing values come back with their columns and dtypes) to the rows of each
    such class and samples it.

    >>> from sklearn.datasets import make_classification
    >>> from sklearn_diffgen import DiffusionSupervisedGenerator, TabularGenerator
    >>> from sklearn_diffgen.oversampling import DiffusionOverSampler
    >>> X, y = make_classification(300, n_features=4, weights=[0.9], random_state=0)
    >>> small = TabularGenerator(DiffusionSupervisedGenerator(n_labels=1000, n_iter_no_change=5))
    >>> X_res, y_res = DiffusionOverSampler(generator=small, random_state=0).fit_resample(X, y)
    >>> np.bincount(y), np.bincount(y_res)
    (array([269,  31]), array([269, 269]))

    Parameters
    ----------
    {sampling_strategy}
    generator : estimator or None, default=None
        Row model with ``fit(X)`` and ``sample(n_samples, random_state=...)``; it is cloned
        for each class to grow, and a ``random_state`` parameter of each clone is seeded from
        ``random_state``. None uses ``TabularGenerator()``.
    random_state : int, RandomState instance or None, default=None
        Seeds the models and their samples.

    Attributes
    ----------
    sampling_strategy_ : dict
        New rows to draw for each class (imbalanced-learn's resolution of
        ``sampling_strategy``).
    generators_ : dict
        The fitted model of each class that got new rows.
    n_features_in_ : int
        Number of columns seen in ``fit_resample``.
    feature_names_in_ : ndarray
        Column names, when X was a DataFrame with string column names.

    See Also
    --------
    imblearn.over_sampling.SMOTE : Interpolation between neighbours of a class.
    imblearn.over_sampling.SMOTENC : SMOTE for mixed numeric and categorical columns.
    """

    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "generator": [HasMethods(["fit", "sample"]), None],
    }

    def __init__(self, *, sampling_strategy="auto", generator=None, random_state=None):
        super().__init__(sampling_strategy=sampling_strategy)
        self.generator = generator
        self.random_state = random_state

    def _check_X_y(self, X, y):
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        X = _check_X(X)  # DataFrames stay DataFrames: TabularGenerator reads their dtypes
        validate_data(self, X=X, y=y, reset=True, skip_check_array=True)
        return X, y, binarize_y

    def _fit_resample(self, X, y):
        rng = check_random_state_fresh(self.random_state)
        frame = hasattr(X, "iloc")
        parts, labels, self.generators_ = [X], [y], {}
        for klass, n_new in self.sampling_strategy_.items():
            if n_new == 0:
                continue
            mask = np.asarray(y == klass)
            if mask.sum() < MIN_CLASS_ROWS:
                raise ValueError(f"class {klass!r} has {int(mask.sum())} rows; DiffusionOverSampler needs at least "
                                 f"{MIN_CLASS_ROWS} to fit a model of it (RandomOverSampler can copy fewer)")
            model = seeded_clone(TabularGenerator() if self.generator is None else self.generator, rng)
            self.generators_[klass] = model.fit(X.iloc[mask] if frame else X[mask])
            new = model.sample(int(n_new), random_state=int(rng.randint(SEED_MAX)))
            if frame:
                new.index = range(len(new))
            parts.append(new if frame else np.asarray(new, dtype=X.dtype))
            labels.append(np.full(int(n_new), klass, dtype=y.dtype))
        if frame:
            return pd.concat(parts, ignore_index=True), np.concatenate(labels)
        return np.concatenate(parts), np.concatenate(labels)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.sparse = False  # TabularGenerator takes dense arrays and DataFrames
        return tags
