r"""Maximum-likelihood fine-tuning of a one-step generator on data rows.

The regression of :mod:`~sklearn_diffgen.training` makes the generator :math:`x = F(z) + s e`
copy its teacher; its density then follows the teacher's, and loses to it wherever the network
cannot follow it (:doc:`/benchmarks/teachers_wide`). Fine-tuning maximises instead the
log-likelihood of the training rows themselves, the Laplace log-density that
:func:`~sklearn_diffgen.density.log_density` computes and ``score_samples`` reports,

.. math::

    \log p(x) = -E(z^*) - \tfrac12 \log\det\big(s^2 I + J^\top J\big) - \tfrac d2 \log 2\pi,
    \qquad E(z) = \tfrac12 |z|^2 + \tfrac{1}{2 s^2} |x - F(z)|^2,

warm-started from the regression. The latent :math:`z^*(\theta)` of each row is the minimiser
of E, found by the same Levenberg-Marquardt inversion, started from the row's previous one: it
plays the role of the encoder of a free-form flow (Draxler et al. 2024), solved exactly
instead of learned. The gradient of :math:`\log p` in the weights :math:`\theta` follows by
the envelope theorem (:math:`\nabla_z E = 0` at :math:`z^*`) and implicit differentiation of
the log-determinant through :math:`z^*`, with the Gauss-Newton part of E's Hessian
(:func:`laplace_nll`): exact to :math:`O(s^2)` for rows in F's range.

With ReLU (piecewise-linear) networks the Jacobian is constant on each linear piece, so the
last term vanishes; but then the log-likelihood jumps where a row crosses from one piece to
another, and its gradient sees none of the mass that moving the pieces shifts: on two moons
every epoch made it worse, on 64-D digits it still helped (:doc:`/benchmarks/fine_tuning`).
Smooth activations (``silu``, ``gelu``, ``tanh``) have no such jumps.

References
----------
F. Draxler, P. Sorrenson, L. Zimmermann, A. Rousselot, U. Köthe. Free-form flows: make any
architecture a normalizing flow. AISTATS 2024. https://arxiv.org/abs/2310.16624
"""

from __future__ import annotations

import copy
import math
import time

import torch
from torch import Tensor, nn

from ._progress import progress_bar
from .density import _cholesky_spd, _solve_spd, jacobian, log_density
from .training import TrainingResult, adam_step, finish

__all__ = ["laplace_nll", "fit_likelihood"]


def laplace_nll(F: nn.Module, x: Tensor, z: Tensor, noise: float) -> Tensor:
    r"""Per-row Laplace negative log-likelihood of :math:`F(z) + s e` at the latents z, for backpropagation.

    Its value is :math:`E(z) + \frac12 \log\det(s^2 I + J^\top J) + \frac d2 \log 2\pi`, the
    negative of :func:`~sklearn_diffgen.density.log_density` when z is its minimiser
    :math:`z^*`. Its gradient in the weights of F is that of the negative log-density with
    :math:`z^*(\theta)` following the weights: E needs no term for it (:math:`\nabla_z E = 0`),
    and the log-determinant's term, :math:`\frac12 \nabla_z \log\det H \cdot
    \partial z^*/\partial\theta` with :math:`\partial z^* / \partial \theta = -(\nabla_z^2
    E)^{-1} \partial_\theta \nabla_z E`, enters as :math:`-w^\top \nabla_z E` with w held
    fixed, :math:`\nabla_z^2 E` taken as its Gauss-Newton part :math:`I + J^\top J / s^2`.

    Parameters
    ----------
    F : nn.Module
        The generator, (m, d) to (m, d).
    x : Tensor of shape (m, d)
        Rows, in F's dtype.
    z : Tensor of shape (m, d)
        Their latents :math:`z^*` (gradients do not flow into them).
    noise : float
        The noise scale s.

    Returns
    -------
    Tensor of shape (m,)

    Examples
    --------
    At the minimisers that the inversion finds, the value is minus its log-density (to the
    inversion's tolerance):

    >>> from sklearn_diffgen.networks import MLP
    >>> g = torch.Generator().manual_seed(0)
    >>> F = MLP(2, 2, (8,), "tanh", generator=g, dtype=torch.float64)
    >>> x = F(torch.randn(3, 2, generator=g, dtype=torch.float64)).detach()
    >>> with torch.no_grad():
    ...     res = log_density(F, x, torch.zeros_like(x), noise=0.1)
    >>> bool(torch.allclose(laplace_nll(F, x, res.z, 0.1), -res.log_density, atol=1e-4))
    True
    """
    s2 = float(noise) ** 2
    d = x.shape[1]
    eye = torch.eye(d, dtype=x.dtype, device=x.device)
    z = z.detach().requires_grad_(True)
    y, J = jacobian(F, z)
    r = x - y
    energy = 0.5 * (z * z).sum(dim=1) + 0.5 * (r * r).sum(dim=1) / s2
    logdet = 2.0 * torch.log(_cholesky_spd(s2 * eye + J.transpose(1, 2) @ J).diagonal(dim1=1, dim2=2)).sum(dim=1)
    nll = energy + 0.5 * logdet + 0.5 * d * math.log(2.0 * math.pi)
    (g,) = torch.autograd.grad(0.5 * logdet.sum(), z, retain_graph=True, allow_unused=True)
    if g is None or not bool(g.any()):  # piecewise-linear F: J does not move with z
        return nll
    Jd = J.detach()
    w = _solve_spd(eye + Jd.transpose(1, 2) @ Jd / s2, g)
    grad_e = z - (J.transpose(1, 2) @ r.unsqueeze(2)).squeeze(2) / s2
    return nll - (w * grad_e).sum(dim=1)


@torch.no_grad()
def _solve(F, x: Tensor, z0: Tensor, noise: float):
    """The latents and log-densities of the rows x, by Levenberg-Marquardt from z0 (coarse: 1e-4 nats)."""
    res = log_density(F, x, z0, noise=noise, ftol=1e-4, max_iter=30)
    return res.z, res.log_density


def fit_likelihood(
    F: nn.Module,
    x: Tensor,
    z0: Tensor,
    *,
    noise: float,
    generator: torch.Generator,
    weights: Tensor | None = None,
    batch_size: int = 256,
    learning_rate: float = 1e-4,
    max_iter: int = 50,
    validation_fraction: float | None = 0.1,
    n_iter_no_change: int = 10,
    score=None,
    verbose: bool | str = False,
    desc: str = "fine-tuning",
    callback=None,
) -> TrainingResult:
    r"""Maximise the Laplace log-likelihood of the rows x under :math:`F(z) + s e` with Adam, in place.

    Each mini-batch's latents are re-solved from where the last epoch left them
    (:func:`~sklearn_diffgen.density.log_density`, coarse tolerance), then one step of Adam
    lowers the (weighted) mean of :func:`laplace_nll`. With ``validation_fraction``, that
    fraction of the rows is held out and scored before the first epoch and after each, by
    ``score``; training stops after ``n_iter_no_change`` epochs without a better held-out
    score, and the best weights are restored, the starting ones included. Without held-out
    rows the training loss is monitored instead, and the last weights are kept.

    Parameters
    ----------
    F : nn.Module
        The generator; its parameters set the dtype and device.
    x : Tensor of shape (n, d)
        The rows.
    z0 : Tensor of shape (n, d)
        Starting guesses of their latents (a :class:`~sklearn_diffgen.density.NearestAnchor`'s).
    noise : float
        The generator's noise scale s.
    generator : torch.Generator
        CPU generator of the split and of the mini-batch order.
    weights : Tensor of shape (n,) or None
        Positive row weights of the means; None weighs rows equally.
    batch_size, learning_rate, max_iter : int, float, int
        Rows a step, Adam's step size (constant), and epochs at most.
    validation_fraction : float or None
        Rows held out for early stopping; None (or too few rows to hold one out) trains on
        all of them.
    n_iter_no_change : int
        Epochs without a better monitored loss before training stops.
    score : callable or None
        ``score(F, rows)``: the log-densities of held-out rows under F, for example
        :func:`~sklearn_diffgen.density.generator_log_density` from fresh anchors, so that
        the held-out score is the one that F's users will see. None: the coarse inversion,
        warm-started from the rows' previous latents.
    verbose : bool or "auto"
        Progress bar over epochs, as in :func:`~sklearn_diffgen.training.fit_regression`.
    desc : str
        Label of the progress bar.
    callback : callable, optional
        Called as ``callback(epoch, train_loss, validation_loss_or_None)`` after each epoch;
        returning True stops training.

    Returns
    -------
    TrainingResult
        ``loss_curve`` holds each epoch's mean training negative log-likelihood and
        ``validation_scores`` the held-out one, the first entry before any step;
        ``converged`` is False when training stopped at ``max_iter``.

    Examples
    --------
    A linear F fitted to Gaussian rows moves towards their maximum-likelihood fit, the
    sample covariance:

    >>> from sklearn_diffgen.networks import MLP
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(512, 2, generator=g) @ torch.tensor([[2.0, 0.0], [0.6, 0.5]])
    >>> F = MLP(2, 2, (), generator=g)
    >>> res = fit_likelihood(F, x, torch.zeros_like(x), noise=0.01, generator=g,
    ...                      learning_rate=0.02, max_iter=100, validation_fraction=None)
    >>> res.loss_curve[-1] < res.loss_curve[0]
    True
    """
    start = time.perf_counter()
    param = next(F.parameters())
    x, z = x.to(param), z0.to(param).clone()
    w = torch.ones(x.shape[0], dtype=param.dtype, device=param.device) if weights is None else weights.to(param)
    n = x.shape[0]
    perm = torch.randperm(n, generator=generator).to(x.device)
    n_val = 0 if validation_fraction is None else int(round(validation_fraction * n))
    n_val = n_val if 0 < n_val < n else 0
    val, tr = perm[:n_val], perm[n_val:]
    batch = max(1, min(int(batch_size), tr.shape[0]))
    opt = torch.optim.Adam(F.parameters(), lr=learning_rate)
    res = TrainingResult()

    def validate():
        if score is None:
            z[val], logp = _solve(F, x[val], z[val], noise)
        else:
            logp = score(F, x[val]).to(w)
        res.validation_scores.append(float((w[val] * -logp).sum() / w[val].sum()))
        return res.validation_scores[-1]

    best_state, bad = None, 0
    try:
        if n_val:
            res.best_loss, best_state = validate(), copy.deepcopy(F.state_dict())
        with progress_bar(verbose, range(max_iter), desc=desc, unit="epoch") as bar:
            for epoch in bar:
                order = tr[torch.randperm(tr.shape[0], generator=generator).to(x.device)]
                total = 0.0
                for i in range(0, order.shape[0], batch):
                    idx = order[i : i + batch]
                    z[idx], _ = _solve(F, x[idx], z[idx], noise)
                    loss = (w[idx] * laplace_nll(F, x[idx], z[idx], noise)).sum() / w[idx].sum()
                    total += adam_step(opt, loss, epoch, "fine_tune_learning_rate") * float(w[idx].sum())
                res.loss_curve.append(total / float(w[tr].sum()))
                res.n_iter = epoch + 1
                monitored = validate() if n_val else res.loss_curve[-1]
                bar.set_postfix(nll=f"{res.loss_curve[-1]:.4g}", val=f"{monitored:.4g}" if n_val else "-",
                                refresh=False)
                if monitored < res.best_loss:
                    res.best_loss, bad = monitored, 0
                    best_state = copy.deepcopy(F.state_dict()) if n_val else None
                else:
                    bad += 1
                stop = callback is not None and bool(callback(epoch, res.loss_curve[-1], monitored if n_val else None))
                if stop or bad >= n_iter_no_change:
                    res.converged = True
                    break
    except torch.linalg.LinAlgError as err:  # J no longer finite: the weights blew up
        raise ValueError("fine-tuning diverged: the generator's Jacobians are not finite; lower "
                         "fine_tune_learning_rate") from err
    return finish(F, best_state, res, start, "fine_tune_learning_rate")
