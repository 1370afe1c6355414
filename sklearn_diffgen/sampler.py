r"""DiffusionSupervisedSampler: a one-step sampler of a density known only up to a constant.

Given :math:`\log p` up to an additive constant, each round draws ``n_proposals`` rows
:math:`x_n \sim q` with their :math:`\log q(x_n)` (round 0: :math:`q = N(0, s^2 I)`, s =
``initial_scale``; later rounds: the previous round's generator, through
``sample(n, return_log_prob=True)``), weighs them by :math:`w_n \propto p(x_n) / q(x_n)`, and
fits a :class:`~sklearn_diffgen.DiffusionSupervisedGenerator` to the weighted rows
(``fit(x, sample_weight=w)``). The weighted rows' training-free score is the closed-form
kernel of the weighted empirical law, so no score network is trained, and the weights even
out as q approaches p. A last round of the final generator gives the importance-sampling
estimate of the normaliser, :math:`\hat Z = \frac1M \sum_n p(x_n) / q(x_n)`, with its
standard error by the delta method, and the effective sample size of its weights.

Where the first proposal's weights are too uneven (Kish's effective sample size below
``min_ess`` of the rows, as for a Gaussian proposal in many dimensions), round 0 instead
carries its rows to the target by tempered sequential Monte Carlo
(:func:`~sklearn_diffgen.smc.tempered_smc`: an adaptive ladder
:math:`\pi_\beta \propto q_0^{1-\beta} p^\beta`, resampling and random-walk Metropolis
moves, which need no gradient), and fits the generator to the equally weighted rows it ends
with. A later round whose weights fall below ``min_ess`` is not fitted: the rounds stop
there, keeping the previous generator, and that round's draw is the final one. The
normaliser is then the tempering's estimate when the final importance weights fall below
``min_ess`` too.
"""

from __future__ import annotations

import math
import time
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._estimator import DiffusionSupervisedGenerator
from ._progress import progress_bar
from ._validation import SEED_MAX, check_random_state_fresh, keep_state_on_error, seeded_clone
from .smc import importance_estimate, tempered_smc

__all__ = ["DiffusionSupervisedSampler"]


class DiffusionSupervisedSampler(DensityMixin, BaseEstimator):
    """One-step sampler, with a log-density, of a target density known up to a constant.

    ``fit()`` takes no data: it learns from ``log_prob`` alone, by rounds of importance-weighted
    fits of :class:`DiffusionSupervisedGenerator` (:mod:`sklearn_diffgen.sampler`). Then
    ``sample`` is one forward pass per row and ``score_samples`` the sampler's own normalised
    log-density, as for the generator.

    >>> import numpy as np
    >>> from sklearn_diffgen.sampler import DiffusionSupervisedSampler
    >>> def log_prob(x):  # N((3, 3), I), unnormalised
    ...     return -0.5 * ((np.asarray(x) - 3.0) ** 2).sum(axis=1)
    >>> small = DiffusionSupervisedGenerator(n_labels=2000, n_iter_no_change=5, verbose=0)
    >>> sampler = DiffusionSupervisedSampler(log_prob, 2, initial_scale=4.0, n_proposals=2000,
    ...                                      generator=small, random_state=0).fit()
    >>> bool(np.allclose(sampler.sample(4000, random_state=0).mean(axis=0), 3.0, atol=0.15))
    True
    >>> bool(abs(sampler.log_normalizer_[0] - np.log(2 * np.pi)) < 0.1)  # Z of the unnormalised Gaussian
    True

    Parameters
    ----------
    log_prob : callable
        Maps an (m, ``n_features``) float64 ndarray to m unnormalised log-densities (an
        ndarray, a list or a torch tensor). Rows where it returns -inf have weight 0.
    n_features : int
        Dimension of the target.
    n_rounds : int, default=3
        Weighted fits; round 0 weighs the Gaussian proposal (or tempers it, see ``min_ess``),
        each later round the previous generator.
    min_ess : float in [0, 1), default=0.05
        The least effective sample size, as a share of ``n_proposals``, of the importance
        weights a round fits. Below it, round 0 tempers and a later round stops the rounds.
        0 turns both off.
    n_moves : int, default=10
        Metropolis moves after each tempering step (each costs ``n_proposals`` evaluations).
    n_proposals : int, default=20000
        Rows drawn (and target evaluations) per round, and for the final estimate.
    initial_scale : float, default=1.0
        Standard deviation s of the first proposal :math:`N(0, s^2 I)`; it must cover the
        target's modes.
    generator : DiffusionSupervisedGenerator or None, default=None
        The model each round fits (cloned); None uses ``DiffusionSupervisedGenerator()`` with
        this estimator's ``verbose``.
    random_state : int, RandomState instance or None, default=None
        Seeds the proposals and every round's generator.
    verbose : int or "auto", default="auto"
        A progress bar over the rounds, as the generator's ``verbose``.
    callback : callable or None, default=None
        Called after each fitted round as ``callback(round, generator, ess)``, with the
        effective sample size of the round's importance weights (for a tempered round 0, those
        of the Gaussian proposal); returning True stops.

    Attributes
    ----------
    generator_ : DiffusionSupervisedGenerator
        The last round's generator: ``sample`` and ``score_samples`` are its.
    log_normalizer_ : tuple of float
        The estimate of :math:`\\log Z` of ``log_prob`` and its standard error: by importance
        sampling of the final generator, or, when round 0 tempered and the final weights fall
        below ``min_ess``, the tempering's estimate, whose error is then a lower bound
        (:func:`~sklearn_diffgen.smc.tempered_smc`).
    ess_ : float
        Effective sample size of the final importance weights (at most ``n_proposals``).
    ess_history_ : list of float
        Effective sample size of the importance weights of each fitted round (round 0's are
        those of the Gaussian proposal, before any tempering), then of the final ones. A
        round whose weights fell below ``min_ess`` is not fitted: its draw is the final one.
    temperatures_ : list of float
        The tempering ladder of round 0 (empty when it did not temper).
    n_target_evaluations_ : int
        Calls of ``log_prob`` on rows, counted by row.
    fit_time_ : float
        Seconds of the fit.
    """

    _parameter_constraints: dict = {
        "log_prob": [callable],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_rounds": [Interval(Integral, 1, None, closed="left")],
        "min_ess": [Interval(Real, 0, 1, closed="left")],
        "n_moves": [Interval(Integral, 0, None, closed="left")],
        "n_proposals": [Interval(Integral, 10, None, closed="left")],
        "initial_scale": [Interval(Real, 0, None, closed="neither")],
        "generator": [HasMethods(["fit", "sample", "score_samples"]), None],
        "random_state": ["random_state"],
        "verbose": ["verbose", StrOptions({"auto"})],
        "callback": [callable, None],
    }

    def __init__(self, log_prob, n_features, *, n_rounds=3, min_ess=0.05, n_moves=10, n_proposals=20000,
                 initial_scale=1.0, generator=None, random_state=None, verbose="auto", callback=None):
        self.log_prob = log_prob
        self.n_features = n_features
        self.n_rounds = n_rounds
        self.min_ess = min_ess
        self.n_moves = n_moves
        self.n_proposals = n_proposals
        self.initial_scale = initial_scale
        self.generator = generator
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback

    def _target(self, x: np.ndarray) -> np.ndarray:
        out = self.log_prob(x)
        out = out.detach().cpu().numpy() if isinstance(out, torch.Tensor) else np.asarray(out)
        out = out.astype(np.float64).reshape(-1)
        if out.shape[0] != x.shape[0]:
            raise ValueError(f"log_prob returned {out.shape[0]} values for {x.shape[0]} rows")
        if np.isnan(out).any() or np.isposinf(out).any():
            raise ValueError("log_prob returned NaN or +inf")
        self._n_evals += x.shape[0]
        return out

    def _log_q0(self, x: np.ndarray) -> np.ndarray:
        """Log-density of the first proposal, N(0, s^2 I)."""
        s, d = float(self.initial_scale), self.n_features
        return -0.5 * (x * x).sum(axis=1) / s**2 - d * math.log(s) - 0.5 * d * math.log(2 * math.pi)

    def _draw(self, generator, seed: int):
        """Proposal rows and their log q: the Gaussian of round 0, else ``generator``'s samples."""
        if generator is None:
            x = float(self.initial_scale) * np.random.RandomState(seed).standard_normal((self.n_proposals,
                                                                                          self.n_features))
            return x, self._log_q0(x)
        return generator.sample(self.n_proposals, random_state=seed, return_log_prob=True)

    @keep_state_on_error
    def fit(self, X=None, y=None):
        """Learn the sampler from ``log_prob``; X and y are ignored (there is no data).

        A fit that raises, or is interrupted, leaves the estimator as it was.

        Parameters
        ----------
        X, y : None
            Ignored.

        Returns
        -------
        self : DiffusionSupervisedSampler
        """
        self._validate_params()
        start = time.perf_counter()
        rng = check_random_state_fresh(self.random_state)
        self._n_evals, gen, history, betas, tempered = 0, None, [], [], None
        floor = self.min_ess * self.n_proposals
        base = DiffusionSupervisedGenerator(verbose=self.verbose) if self.generator is None else self.generator
        draw = None  # a draw of the last generator, when a round stopped on it
        with progress_bar(self.verbose, range(self.n_rounds), desc="rounds", unit="round") as bar:
            for r in bar:
                x, log_q = self._draw(gen, int(rng.randint(SEED_MAX)))
                log_p = self._target(x)
                log_w = log_p - log_q
                if not np.isfinite(log_w).any():
                    raise ValueError(f"round {r}: every proposal row has weight 0 (log_prob is -inf on all "
                                     f"of them); widen initial_scale")
                ess = importance_estimate(log_w[np.isfinite(log_w)])[2]
                if ess < floor and r > 0:
                    draw = log_w  # as far as importance weights take it: the final estimate reuses this draw
                    break
                history.append(ess)
                if ess < floor:
                    x, log_z, se, betas = tempered_smc(self._target, self._log_q0, x, log_p, rng,
                                                       n_moves=self.n_moves)
                    tempered, w = (log_z, se), None
                else:
                    w = np.exp(log_w - log_w.max())
                gen = seeded_clone(base, rng).fit(x, sample_weight=w)
                bar.set_postfix(ess=f"{ess:.0f}", refresh=False)
                if self.callback is not None and self.callback(r, gen, ess):
                    break
        if draw is None:
            x, log_q = self._draw(gen, int(rng.randint(SEED_MAX)))
            draw = self._target(x) - log_q
        log_z, se, ess = importance_estimate(draw)
        if tempered is not None and not ess >= floor:  # "not >=": a NaN effective size falls back too
            log_z, se = tempered
        self.generator_, self.ess_, self.ess_history_ = gen, ess, history + [ess]
        self.temperatures_ = betas
        self.log_normalizer_ = (log_z, se)
        self.n_target_evaluations_ = self._n_evals
        self.n_features_in_ = self.n_features
        self.fit_time_ = time.perf_counter() - start
        del self._n_evals
        return self

    def sample(self, n_samples=1, random_state=None, return_log_prob=False):
        """Draw rows: :meth:`DiffusionSupervisedGenerator.sample` of :attr:`generator_`."""
        check_is_fitted(self)
        return self.generator_.sample(n_samples, random_state=random_state, return_log_prob=return_log_prob)

    def score_samples(self, X):
        """The sampler's own normalised log-density: :meth:`DiffusionSupervisedGenerator.score_samples`."""
        check_is_fitted(self)
        return self.generator_.score_samples(validate_data(self, X, reset=False))

    def score(self, X, y=None):
        """Mean log-density of the rows of X under the sampler, as the generator's ``score``."""
        return float(np.mean(self.score_samples(X)))
