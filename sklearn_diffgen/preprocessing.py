r"""The affine map from data units to the model's coordinates: standardisation, constant columns, whitening.

The model works in :math:`u = W (x - m) / \sigma` on the columns that vary, with the column
means m, the standard deviations :math:`\sigma` and a symmetric whitening matrix W (the
identity without whitening). Constant columns are left out of u and restored on the way back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

__all__ = ["Affine", "standardisation", "zca_whitening", "WHITEN_FLOOR", "UNDERFLOW_SCALE"]

#: Eigenvalues of the correlation matrix are floored at this fraction of the largest before
#: whitening, so that collinear columns (one-hot codes, sums) give finite coordinates.
WHITEN_FLOOR = 1e-6
#: Columns whose values all lie below this magnitude are rejected when they vary: the squares
#: of their deviations underflow float64, so their variance cannot be computed.
UNDERFLOW_SCALE = 1e-150


@dataclass(frozen=True)
class Affine:
    r"""The map :math:`u = W (x - m) / \sigma` on the non-constant columns, and back.

    Parameters
    ----------
    mean, scale : ndarray of shape (n_features,)
        Column means m and standard deviations :math:`\sigma` (1 for constant columns).
    constant : ndarray of shape (n_features,), bool
        Columns that were constant in training: left out of u, restored by :meth:`from_model`.
    whitening : ndarray of shape (d, d)
        W, over the d non-constant columns.

    Examples
    --------
    >>> X = np.array([[0.0, 5.0], [2.0, 5.0], [4.0, 5.0]])
    >>> f = standardisation(X)
    >>> f.constant.tolist(), f.to_model(X).ravel().round(4).tolist()
    ([False, True], [-1.2247, 0.0, 1.2247])
    >>> bool(np.allclose(f.from_model(f.to_model(X)), X))
    True
    """

    mean: np.ndarray
    scale: np.ndarray
    constant: np.ndarray
    whitening: np.ndarray

    @property
    def n_model_features(self) -> int:
        """Number d of the model's coordinates (the non-constant columns)."""
        return int((~self.constant).sum())

    @property
    def log_det(self) -> float:
        r""":math:`\log|\det \partial u / \partial x|` on the non-constant columns."""
        return float(np.linalg.slogdet(self.whitening)[1] - np.log(self.scale[~self.constant]).sum())

    def standardise(self, X: np.ndarray) -> np.ndarray:
        """:math:`(x - m) / \\sigma` on the non-constant columns, before whitening."""
        keep = ~self.constant
        return (X[:, keep] - self.mean[keep]) / self.scale[keep]

    def to_model(self, X: np.ndarray) -> np.ndarray:
        """The model's coordinates u of the rows of X."""
        return self.standardise(X) @ self.whitening.T

    def from_model(self, U: np.ndarray) -> np.ndarray:
        """Rows in data units from model coordinates, constant columns filled in."""
        keep = ~self.constant
        X = np.tile(self.mean, (U.shape[0], 1))
        X[:, keep] = np.linalg.solve(self.whitening, U.T).T * self.scale[keep] + self.mean[keep]
        return X

    def constant_deviation(self, X: np.ndarray) -> np.ndarray:
        """Squared distance of each row's constant columns from their training values."""
        c = self.constant
        return ((X[:, c] - self.mean[c]) ** 2).sum(axis=1)

    def whitened(self, whitening: np.ndarray) -> "Affine":
        """The same standardisation followed by ``whitening``."""
        return replace(self, whitening=whitening)


def standardisation(X: np.ndarray, weights: np.ndarray | None = None) -> Affine:
    r"""The standardisation of X's columns, without whitening; raises when nothing varies.

    A column counts as constant when its variance is within the rounding error of the
    two-pass variance of n values, :math:`n \epsilon\, v + (n \epsilon \bar x)^2`
    (Chan, Golub & LeVeque 1983), the test of scikit-learn's
    :class:`~sklearn.preprocessing.StandardScaler`: a column that holds one value is constant
    for any n, whatever rounding its mean picks up. ``weights`` (summing to 1) give the
    weighted mean and variance, as ``StandardScaler().fit(X, sample_weight=w)`` does.

    Examples
    --------
    >>> X = np.c_[np.arange(300.0), np.full(300, 0.1)]
    >>> standardisation(X).constant.tolist()
    [False, True]
    """
    n, eps = X.shape[0], np.finfo(np.float64).eps
    with np.errstate(over="ignore"):  # reported just below
        if weights is None:
            mean, var = X.mean(axis=0), X.var(axis=0)
        else:
            mean = weights @ X
            var = weights @ (X - mean) ** 2
    if not np.all(np.isfinite(var)):
        raise ValueError("X has values too large to standardise (its variance overflows float64)")
    constant = var <= n * eps * var + (n * eps * mean) ** 2
    underflow = constant & (np.ptp(X, axis=0) > 0) & (np.abs(X).max(axis=0) < UNDERFLOW_SCALE)
    if underflow.any():
        raise ValueError(f"columns {np.flatnonzero(underflow).tolist()} of X vary only below "
                         f"{UNDERFLOW_SCALE:g}, where their variance underflows float64: rescale them first")
    if constant.all():
        raise ValueError("every column of X is constant: there is no distribution to fit")
    std = np.sqrt(var)
    scale = np.where(constant, 1.0, std)
    return Affine(mean, scale, constant, np.eye(int((~constant).sum())))


def zca_whitening(Xs: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    r"""ZCA whitening :math:`W = V \Lambda^{-1/2} V^T` of standardised data, and :math:`\log|\det W|`.

    :math:`R = V \Lambda V^T` is the correlation matrix (weighted by ``weights``, summing to
    1, when given); eigenvalues below :data:`WHITEN_FLOOR` times the largest are raised to it.

    Examples
    --------
    >>> Xs = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    >>> W, logdet = zca_whitening(Xs)  # uncorrelated already
    >>> bool(np.allclose(W, np.eye(2))), round(logdet, 12)
    (True, 0.0)
    """
    R = Xs.T @ Xs / Xs.shape[0] if weights is None else Xs.T @ (weights[:, None] * Xs)
    lam, V = np.linalg.eigh(R)
    lam = np.maximum(lam, WHITEN_FLOOR * lam.max())
    return (V / np.sqrt(lam)) @ V.T, float(-0.5 * np.log(lam).sum())
