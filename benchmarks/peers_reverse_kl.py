"""Reverse-KL-trained one-step samplers: the classic peers of a sampler given only log p.

Each minimises :math:`\\mathrm{KL}(q \\,\\|\\, p) = E_{x \\sim q}[\\log q(x) - \\log p(x)]` by
Adam over reparameterised draws, so it needs :math:`\\log p` as a differentiable torch
function and counts its evaluations by row. Reverse KL is mode-seeking: it is the baseline
that DiKL (He et al. 2024) and the sampler page compare with.

* :class:`ReverseKLGenerator` -- an MLP :math:`x = s\\,F(z)`, :math:`z \\sim N(0, I)`, of the
  same size as the generator's default (``hidden_layer_sizes=(128, 128, 128)``, ReLU), with
  the exact log-density :math:`\\log N(z) - \\log |\\det s\\, \\partial F / \\partial z|` from
  the network's Jacobian (:meth:`sklearn_diffgen.networks.MLP.jacobian`); the change of
  variables is exact only where F is one-to-one, which reverse KL does not enforce.
* :class:`ReverseKLFlow` -- zuko's neural spline flow (coupling transforms, so that sampling
  is one pass), with its exact log-density.

Both answer ``sample(n, random_state)``, ``rsample_and_log_prob(n)`` (draws with their
log-densities, differentiable) and ``score_samples(X)`` (the flow only), and keep
``n_target_evaluations_`` and ``fit_time_``.

This module is a script helper (``benchmarks/`` is on ``sys.path`` when a script there runs);
the package never imports it.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from sklearn_diffgen.networks import MLP

__all__ = ["ReverseKLFlow", "ReverseKLGenerator"]


class _ReverseKL:
    """Adam on reverse KL for ``n_steps`` steps of ``batch_size`` draws, the step size cosine-annealed."""

    def __init__(self, log_prob, n_features, *, scale=1.0, n_steps=2000, batch_size=512, learning_rate=1e-3,
                 random_state=0):
        self.log_prob, self.n_features, self.scale = log_prob, n_features, float(scale)
        self.n_steps, self.batch_size, self.learning_rate = n_steps, batch_size, learning_rate
        self.random_state = random_state

    def fit(self):
        start = time.perf_counter()
        with torch.random.fork_rng():
            torch.manual_seed(self.random_state)
            self._build()
            params = list(self._module().parameters())
            opt = torch.optim.Adam(params, lr=self.learning_rate)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, self.n_steps)
            self.loss_history_ = []
            for _ in range(self.n_steps):
                x, log_q = self.rsample_and_log_prob(self.batch_size)
                loss = (log_q - self.log_prob(x.double()).float()).mean()
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 10.0)
                opt.step()
                sched.step()
                self.loss_history_.append(float(loss.detach()))
        self.n_target_evaluations_ = self.n_steps * self.batch_size
        self.fit_time_ = time.perf_counter() - start
        return self

    def sample(self, n_samples, random_state=None):
        with torch.random.fork_rng(), torch.no_grad():
            torch.manual_seed(0 if random_state is None else random_state)
            return np.concatenate([self._rsample(min(65536, n_samples - i)).double().numpy()
                                   for i in range(0, n_samples, 65536)])


class ReverseKLGenerator(_ReverseKL):
    """A one-step MLP generator trained by reverse KL through its exact Jacobian log-determinant."""

    def _build(self):
        g = torch.Generator().manual_seed(self.random_state)
        self.net_ = MLP(self.n_features, self.n_features, (128, 128, 128), "relu", generator=g)

    def _module(self):
        return self.net_

    def rsample_and_log_prob(self, n):
        z = torch.randn(n, self.n_features)
        x, J = self.net_.jacobian(z)
        log_det = torch.linalg.slogdet(J)[1] + self.n_features * math.log(self.scale)
        log_n = -0.5 * (z * z).sum(1) - 0.5 * self.n_features * math.log(2 * math.pi)
        return self.scale * x, log_n - log_det

    def _rsample(self, n):
        return self.scale * self.net_(torch.randn(n, self.n_features))


class ReverseKLFlow(_ReverseKL):
    """zuko's NSF (3 coupling spline transforms, 128 x 128 conditioners) trained by reverse KL."""

    def _build(self):
        import zuko

        self.flow_ = zuko.flows.NSF(self.n_features, transforms=3, hidden_features=(128, 128), passes=2)

    def _module(self):
        return self.flow_

    def rsample_and_log_prob(self, n):
        y, log_q = self.flow_().rsample_and_log_prob((n,))
        return self.scale * y, log_q - self.n_features * math.log(self.scale)

    def _rsample(self, n):
        return self.scale * self.flow_().sample((n,))

    def score_samples(self, X):
        with torch.no_grad():
            y = torch.as_tensor(np.asarray(X) / self.scale, dtype=torch.float32)
            return (self.flow_().log_prob(y) - self.n_features * math.log(self.scale)).double().numpy()
