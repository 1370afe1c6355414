"""The torch peer the benchmarks compare: zuko's neural spline flow, trained by Adam with early stopping.

:class:`NSF` answers ``sample(n, random_state) -> ndarray`` and ``score_samples(X) -> ndarray``
as the models of ``peers_sklearn.py`` do; :func:`fit_nsf_tuned` returns ``(estimator,
tuning)`` over :func:`nsf_grid` like the other ``fit_*_tuned``. zuko is optional: scripts ask
:func:`zuko_missing` first and leave the flow out, saying why, when it does not import.

References
----------
C. Durkan, A. Bekasov, I. Murray, G. Papamakarios. Neural spline flows. NeurIPS 2019.
https://arxiv.org/abs/1906.04032

This module is a script helper (``benchmarks/`` is on ``sys.path`` when a script there runs);
the package never imports it.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch

__all__ = ["NSF", "fit_nsf_tuned", "nsf_grid", "zuko_missing"]


def zuko_missing() -> str | None:
    """None when zuko imports, else the reason it does not (the flow peer is then skipped)."""
    try:
        import zuko  # noqa: F401
    except ImportError as exc:
        return f"zuko not importable ({exc})"
    return None


class NSF:
    """zuko's neural spline flow, trained by Adam on NLL with early stopping on validation NLL.

    Autoregressive rational-quadratic spline transforms (``bins`` knots over [-5, 5], which
    suits standardised data), float32, CPU. The initial weights are drawn inside
    ``torch.random.fork_rng`` from ``random_state`` (zuko builds its layers from torch's
    default generator, and the fork restores it afterwards); mini-batch order and sampling
    use explicit ``torch.Generator`` objects. Training stops after ``patience`` epochs
    without a lower validation NLL, or at ``max_epochs``, and keeps the best epoch's weights.

    Parameters
    ----------
    transforms : int, default=3
        Number of autoregressive spline transforms.
    hidden_features : tuple of int, default=(128, 128)
        Hidden widths of each transform's MADE conditioner.
    bins : int, default=8
        Spline bins.
    learning_rate : float, default=1e-3
        Adam step size.
    batch_size : int, default=256
        Mini-batch size.
    max_epochs : int, default=200
        Bound on training epochs.
    patience : int, default=10
        Epochs without improvement before stopping.
    max_steps : int or None, default=None
        Stop after the first epoch that ends with at least this many Adam steps in all: a
        bound on the fit's cost that, unlike ``max_seconds``, does not depend on the machine.
    max_seconds : float or None, default=None
        Stop after the first epoch that ends past this many seconds of training (a bound on
        the fit's cost, but one that makes the result depend on the machine's speed).
        ``stopped_by_`` records which rule ended training.
    random_state : int, default=0
        Seed of the initial weights and of the mini-batch order.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(300, 2))
    >>> flow = NSF(transforms=1, hidden_features=(16,), max_epochs=3).fit(X[:200], X[200:])
    >>> flow.sample(4, random_state=0).shape, flow.score_samples(X[:3]).shape
    ((4, 2), (3,))
    """

    def __init__(self, transforms=3, hidden_features=(128, 128), bins=8, learning_rate=1e-3,
                 batch_size=256, max_epochs=200, patience=10, max_steps=None, max_seconds=None,
                 random_state=0):
        self.transforms = transforms
        self.hidden_features = hidden_features
        self.bins = bins
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.max_steps = max_steps
        self.max_seconds = max_seconds
        self.random_state = random_state

    def get_params(self) -> dict:
        """The constructor arguments."""
        names = ("transforms", "hidden_features", "bins", "learning_rate", "batch_size", "max_epochs",
                 "patience", "max_steps", "max_seconds", "random_state")
        return {k: getattr(self, k) for k in names}

    def _nll(self, X: torch.Tensor) -> float:
        with torch.no_grad():
            dist = self.flow_()
            return float(sum(-dist.log_prob(X[i : i + 4096]).sum() for i in range(0, X.shape[0], 4096))
                         / X.shape[0])

    def fit(self, X_train, X_val) -> "NSF":
        """Train on ``X_train``; early-stop on the mean NLL of ``X_val``."""
        import zuko

        start = time.perf_counter()
        Xt = torch.as_tensor(np.asarray(X_train), dtype=torch.float32)
        Xv = torch.as_tensor(np.asarray(X_val), dtype=torch.float32)
        d = self.n_features_in_ = Xt.shape[1]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.random_state))  # restored on exit of the fork
            self.flow_ = zuko.flows.NSF(d, transforms=self.transforms, bins=self.bins,
                                        hidden_features=tuple(self.hidden_features))
        g = torch.Generator().manual_seed(int(self.random_state) + 1)
        opt = torch.optim.Adam(self.flow_.parameters(), lr=self.learning_rate)
        best, best_state, bad, steps = np.inf, None, 0, 0
        self.val_curve_, self.stopped_by_ = [], "max_epochs"
        for epoch in range(self.max_epochs):
            self.flow_.train()
            order = torch.randperm(Xt.shape[0], generator=g)
            for i in range(0, Xt.shape[0], self.batch_size):
                loss = -self.flow_().log_prob(Xt[order[i : i + self.batch_size]]).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                steps += 1
            self.flow_.eval()
            val = self._nll(Xv)
            self.val_curve_.append(val)
            if val < best:
                best, best_state, bad = val, copy.deepcopy(self.flow_.state_dict()), 0
            else:
                bad += 1
            if bad >= self.patience:
                self.stopped_by_ = "patience"
                break
            if self.max_steps is not None and steps >= self.max_steps:
                self.stopped_by_ = "max_steps"
                break
            if self.max_seconds is not None and time.perf_counter() - start > self.max_seconds:
                self.stopped_by_ = "max_seconds"
                break
        if best_state is not None:
            self.flow_.load_state_dict(best_state)
        self.flow_.eval().requires_grad_(False)
        self.n_epochs_, self.n_steps_, self.best_val_nll_ = len(self.val_curve_), steps, float(best)
        self.fit_time_ = time.perf_counter() - start
        return self

    def sample(self, n_samples=1, random_state=None) -> np.ndarray:
        """Rows :math:`x = T^{-1}(z)`, :math:`z \\sim N(0, I)` drawn from a seeded generator."""
        g = torch.Generator()
        if random_state is None:
            g.seed()
        else:
            g.manual_seed(int(random_state))
        dist = self.flow_()
        d = self.n_features_in_
        out = []
        with torch.no_grad():
            for i in range(0, n_samples, 8192):
                z = torch.randn(min(8192, n_samples - i), d, generator=g)
                out.append(dist.transform.inv(z).double().numpy())
        return np.concatenate(out)

    def score_samples(self, X) -> np.ndarray:
        """Log-density of each row (float32 arithmetic, returned as float64)."""
        Xt = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        dist = self.flow_()
        with torch.no_grad():
            return np.concatenate([dist.log_prob(Xt[i : i + 4096]).double().numpy()
                                   for i in range(0, Xt.shape[0], 4096)])


def nsf_grid(n_grid: int) -> list[dict]:
    """The ``n_grid`` NSF configurations :func:`fit_nsf_tuned` tries, in order.

    The first is zuko's usual size (3 transforms, MADE (128, 128)); then smaller, deeper and
    wider ones, then larger learning rates.

    >>> [c["transforms"] for c in nsf_grid(3)]
    [3, 2, 5]
    """
    configs = [
        dict(transforms=3, hidden_features=(128, 128)),
        dict(transforms=2, hidden_features=(64, 64)),
        dict(transforms=5, hidden_features=(128, 128)),
        dict(transforms=3, hidden_features=(256, 256)),
        dict(transforms=3, hidden_features=(128, 128), learning_rate=3e-3),
        dict(transforms=5, hidden_features=(256, 256)),
        dict(transforms=2, hidden_features=(128, 128), learning_rate=3e-3),
        dict(transforms=4, hidden_features=(192, 192)),
    ]
    return [configs[i % len(configs)] for i in range(max(1, n_grid))]


def fit_nsf_tuned(X_train, X_val, n_grid: int, *, random_state=0, **bounds) -> tuple[NSF, list[dict]]:
    """The NSF of :func:`nsf_grid` ``(n_grid)`` with the lowest validation NLL.

    ``bounds`` (``max_epochs``, ``patience``, ``max_steps``, ``max_seconds``, ``batch_size``) apply to every
    candidate. Note that the validation split serves both early stopping and the choice.

    Returns
    -------
    estimator : NSF
        The best candidate.
    tuning : list of dict
        One per candidate: its configuration, val_loglik, epochs, stopped_by, fit_s.
    """
    best, tuning = None, []
    for cfg in nsf_grid(n_grid):
        flow = NSF(**{**cfg, **bounds}, random_state=random_state).fit(X_train, X_val)
        tuning.append(dict(cfg, val_loglik=-flow.best_val_nll_, epochs=flow.n_epochs_,
                           stopped_by=flow.stopped_by_, fit_s=flow.fit_time_))
        if best is None or flow.best_val_nll_ < best.best_val_nll_:
            best = flow
    return best, tuning
