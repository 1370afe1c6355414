"""Sampling an unnormalised density: DiffusionSupervisedSampler against reverse-KL samplers, MALA and exact samples.

Two targets of He et al. (2024, DiKL)'s protocol, each known to the samplers only through
``log_prob`` (and its gradient, for the reverse-KL samplers and MALA):

* **MoG-40** (2-D): 40 equal-weight Gaussians, means :math:`40 (2u - 1)` with
  :math:`u \\sim U[0, 1]^{40 \\times 2}` drawn by ``torch.rand`` right after
  ``torch.manual_seed(0)``, each :math:`N(\\mu_k, \\sigma^2 I)` with
  :math:`\\sigma = \\mathrm{softplus}(1) \\approx 1.3133`; ``log_prob`` is normalised, so
  :math:`\\log Z = 0`.
* **Many-Well-32**: 16 independent copies of a 2-D double well, energy
  :math:`E(x) = \\sum_i [x_{2i-1}^4 - 6 x_{2i-1}^2 - 0.5 x_{2i-1} + 0.5 x_{2i}^2]`
  (:math:`2^{16}` modes), ``log_prob`` :math:`= -E`, :math:`\\log Z = 16 (\\ln 11784.50927 +
  \\tfrac12 \\ln 2\\pi)`. Exact rows: rejection sampling of each 1-D double well (from a
  two-Gaussian envelope) and a standard normal for the other coordinate.

Models:

* **ours** -- ``DiffusionSupervisedSampler(log_prob, d, initial_scale=s, random_state=seed)``
  at its defaults (3 rounds of 20,000 proposals and a final 20,000 for :math:`\\log Z`), with
  s = 30 on MoG-40 (the first proposal :math:`N(0, 30^2 I)` covers the means' square) and
  s = 2 and ``n_moves=200`` on Many-Well-32, where the Gaussian proposal's weights are
  degenerate, so round 0 tempers (sequential Monte Carlo with 200 random-walk Metropolis
  moves per step);
* **reverse KL (MLP)** -- a one-step MLP of the generator's default size (128, 128, 128;
  ReLU), :math:`x = s F(z)`, trained by Adam on reverse KL through its exact Jacobian
  log-determinant (``peers_reverse_kl.py``), ``--rkl-steps`` steps of 512 draws;
* **reverse KL (NSF)** -- zuko's neural spline flow (3 coupling transforms) trained the same
  way. Both get ``--rkl-steps`` x 512 target evaluations (with gradients): 1.02 million at the
  default, more than ours on MoG-40 and far fewer than ours on Many-Well-32, whose tempering
  moves evaluate the target tens of millions of times;
* **MALA** -- 2,000 Metropolis-adjusted Langevin chains from the same :math:`N(0, s^2 I)`,
  step size tuned in the first half of the run to an acceptance rate of 0.57, run for as many
  steps as give ours' number of target evaluations, the last state of each chain kept (one
  run: every repeat compares the same 2,000 rows, so its standard errors hold only the exact
  rows' variation, and its mode metrics count those 2,000 rows);
* **exact** -- rows of the target itself: the reference for what 2,000 rows can reach.

Metrics, over ``--repeats`` repeats of 2,000 model rows against 2,000 fresh exact rows:

* **W2** -- the 2-Wasserstein distance by exact optimal transport (an assignment between the
  two sets, ``scipy.optimize.linear_sum_assignment``);
* **energy TV** -- the total variation distance between the histograms of :math:`-\\log p` of
  the two sets, 200 bins over the exact rows' range (as DiKL's code), the model's rows
  outside that range counting in full;
* **mean log p** -- the mean target log-density of the model's rows (the exact rows' value is
  the reference; a mode-seeking sampler scores above it, a blurred one below);
* **non-finite rows** -- the share of a model's rows that are NaN or infinite (a diverged
  training); the metrics leave them out;
* **modes** -- MoG-40: each row's nearest mean, the share of each of the 40 modes among
  20,000 rows times 40 (1 is exact), its minimum and maximum and how many modes fall outside
  [0.5, 1.5]; Many-Well-32: the probability of the deep well (:math:`x_{2i-1} > 0`) of each of
  the 16 double wells among 20,000 rows, and its largest distance to the exact value;
* **log Z error** -- of each model's importance-sampling estimate with 20,000 of its own rows
  (ours: the sampler's ``log_normalizer_``), target evaluations, fit seconds and sampling
  rows/s of one-step samplers (one thread).

Run: ``python benchmarks/sampler.py [--quick] [--repeats 10] [--rkl-steps 2000] [--targets mog40,manywell32]
[--seed 0] [--threads 1] [--out DIR]`` (``--quick``: 3 repeats and 300 reverse-KL steps).
Writes ``doc/benchmarks/sampler.rst`` and ``sampler.csv``.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from scipy.integrate import quad
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp

from peers_reverse_kl import ReverseKLFlow, ReverseKLGenerator
from report import docstring_body, make_parser, page_header, parse_args, print_table, publish, rst_table, section
from sklearn_diffgen import DiffusionSupervisedGenerator, DiffusionSupervisedSampler

N_ROWS, N_MODE_ROWS = 2000, 20_000


class MoG40:
    """40 equal-weight Gaussians in 2-D (DiKL's MoG-40), normalised."""

    name, dim, scale, ours_params = "MoG-40", 2, 30.0, {}

    def __init__(self):
        torch.manual_seed(0)
        self.means = (40 * (2 * torch.rand(40, 2) - 1)).double()
        self.sigma = float(torch.nn.functional.softplus(torch.tensor(1.0)))
        self.log_z = 0.0

    def log_prob_torch(self, x):
        d2 = ((x[:, None, :] - self.means[None]) ** 2).sum(-1)
        return (torch.logsumexp(-d2 / (2 * self.sigma**2), dim=1) - math.log(40)
                - math.log(2 * math.pi * self.sigma**2))

    def log_prob(self, x):
        return self.log_prob_torch(torch.as_tensor(np.asarray(x, dtype=np.float64))).numpy()

    def exact(self, n, rng):
        means = self.means.numpy()
        return means[rng.randint(len(means), size=n)] + self.sigma * rng.standard_normal((n, 2))

    def modes(self, x):
        means = self.means.numpy()
        nearest = ((x[:, None, :] - means[None]) ** 2).sum(-1).argmin(1)
        shares = np.bincount(nearest, minlength=len(means)) / len(x) * len(means)
        return {"min mode share x40": shares.min(), "max mode share x40": shares.max(),
                "modes outside [0.5, 1.5]": int(((shares < 0.5) | (shares > 1.5)).sum())}


class ManyWell32:
    """16 independent 2-D double wells (DiKL's Many-Well-32), unnormalised."""

    name, dim, scale, ours_params = "Many-Well-32", 32, 2.0, {"n_moves": 200}

    def __init__(self):
        well = lambda u: math.exp(self._log_well(u))  # noqa: E731
        z1 = quad(well, -10, 10, points=[-1.7, 1.7])[0]
        self.log_z = 16 * (math.log(z1) + 0.5 * math.log(2 * math.pi))
        self.deep = quad(well, 0, 10)[0] / z1  # P(x_{2i-1} > 0), the deep well
        # envelope for rejection sampling: a two-Gaussian mixture at the wells
        grid = np.linspace(-5, 5, 20001)
        self._env = (np.array([-1.7, 1.75]), 0.55, np.array([1 - self.deep, self.deep]))
        self._log_m = float(np.max(self._log_well(grid) - self._log_envelope(grid))) + 0.01

    @staticmethod
    def _log_well(u):
        return -(u**4 - 6 * u**2 - 0.5 * u)

    def _log_envelope(self, u):
        mu, s, w = self._env
        return logsumexp(np.log(w) - 0.5 * ((u[:, None] - mu) / s) ** 2 - math.log(s * math.sqrt(2 * math.pi)), axis=1)

    def log_prob(self, x):
        """:math:`-E(x)` of an (m, 32) numpy array or torch tensor."""
        x = x if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64)
        return self._log_well(x[:, 0::2]).sum(1) - 0.5 * (x[:, 1::2] ** 2).sum(1)

    log_prob_torch = log_prob

    def _wells(self, n, rng):
        out = np.empty(0)
        mu, s, w = self._env
        while out.size < n:
            u = mu[(rng.uniform(size=2 * n) < w[1]).astype(int)] + s * rng.standard_normal(2 * n)
            keep = np.log(rng.uniform(size=2 * n)) < self._log_well(u) - self._log_envelope(u) - self._log_m
            out = np.concatenate([out, u[keep]])
        return out[:n]

    def exact(self, n, rng):
        x = rng.standard_normal((n, 32))
        x[:, 0::2] = self._wells(16 * n, rng).reshape(n, 16)
        return x

    def modes(self, x):
        return {"max deep-well error": float(np.abs((x[:, 0::2] > 0).mean(0) - self.deep).max())}


TARGETS = {"mog40": MoG40, "manywell32": ManyWell32}


def mala(log_prob_torch, n_chains, n_steps, d, scale, seed):
    """MALA chains from N(0, scale^2 I); the step size adapts in the first half to 0.57 acceptance."""
    g = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(n_chains, d, generator=g, dtype=torch.float64)

    def value_and_grad(x):
        x = x.detach().requires_grad_(True)
        lp = log_prob_torch(x)
        return lp.detach(), torch.autograd.grad(lp.sum(), x)[0]

    lp, grad = value_and_grad(x)
    step = 1.0
    for k in range(n_steps):
        prop = x + step * grad + math.sqrt(2 * step) * torch.randn(x.shape, generator=g, dtype=torch.float64)
        lp_p, grad_p = value_and_grad(prop)
        fwd = -((prop - x - step * grad) ** 2).sum(1) / (4 * step)
        bwd = -((x - prop - step * grad_p) ** 2).sum(1) / (4 * step)
        accept = torch.log(torch.rand(n_chains, generator=g, dtype=torch.float64)) < lp_p - lp + bwd - fwd
        x, lp, grad = (torch.where(accept[:, None], prop, x), torch.where(accept, lp_p, lp),
                       torch.where(accept[:, None], grad_p, grad))
        if k < n_steps // 2:
            step *= math.exp(float(accept.double().mean()) - 0.57)
    return x.numpy(), n_chains * (n_steps + 1)


def w2(a, b):
    cost = ((a[:, None, :] - b[None]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    return float(np.sqrt(cost[rows, cols].mean()))


def energy_tv(ea, eb, bins=200):
    """TV between energy histograms, the bins over the reference energies ``eb``'s range; the
    model's mass outside it counts in full (so a few far rows cannot squeeze the bins)."""
    edges = np.linspace(eb.min(), eb.max(), bins + 1)
    ha, hb = np.histogram(ea, edges)[0] / len(ea), np.histogram(eb, edges)[0] / len(eb)
    return 0.5 * float(np.abs(ha - hb).sum() + (1 - ha.sum()))


def rkl_log_z(model, target, seed):
    """Importance-sampling log Z of a reverse-KL model with 20,000 of its own rows."""
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(seed)
        x, log_q = model.rsample_and_log_prob(N_MODE_ROWS)
    log_w = target.log_prob(x.double().numpy()) - log_q.double().numpy()
    log_w = np.where(np.isfinite(log_w), log_w, -np.inf)  # a non-finite row has no weight
    return float(logsumexp(log_w) - math.log(len(log_w)))


def rate(sample):
    t0 = time.perf_counter()
    sample(10**6)
    return 10**6 / (time.perf_counter() - t0)


def run_target(target, args, repeats, rkl_steps):
    """Rows of every model on one target."""
    d, s = target.dim, target.scale
    small = DiffusionSupervisedGenerator(**args.ours_params, verbose=0) if args.ours_params else None  # --smoke
    t0 = time.perf_counter()
    ours = DiffusionSupervisedSampler(target.log_prob, d, initial_scale=s, random_state=args.seed, verbose=0,
                                      generator=small, **target.ours_params).fit()
    fits = {"ours": time.perf_counter() - t0}
    evals = {"ours": ours.n_target_evaluations_}
    peers = {}
    for name, cls in (("reverse KL (MLP)", ReverseKLGenerator), ("reverse KL (NSF)", ReverseKLFlow)):
        peers[name] = cls(target.log_prob_torch, d, scale=s, n_steps=rkl_steps, random_state=args.seed).fit()
        fits[name], evals[name] = peers[name].fit_time_, peers[name].n_target_evaluations_
        print(f"{target.name} {name}: {fits[name]:.0f} s", flush=True)
    t0 = time.perf_counter()
    chains, evals["MALA"] = mala(target.log_prob_torch, N_ROWS, max(1, evals["ours"] // N_ROWS - 1), d, s,
                                 args.seed)
    fits["MALA"] = time.perf_counter() - t0
    log_z = {"ours": ours.log_normalizer_[0], **{n: rkl_log_z(m, target, args.seed) for n, m in peers.items()}}
    rates = {"ours": rate(lambda n: ours.sample(n, random_state=args.seed)),
             **{n: rate(lambda k, m=m: m.sample(k, random_state=args.seed)) for n, m in peers.items()}}

    rng = np.random.RandomState(args.seed + 1)
    draws = {"ours": lambda r, n: ours.sample(n, random_state=1000 + r),
             **{n: (lambda r, k, m=m: m.sample(k, random_state=1000 + r)) for n, m in peers.items()},
             "MALA": lambda r, n: chains,
             "exact": lambda r, n: target.exact(n, rng)}
    rows = []
    for name, draw in draws.items():
        w2s, tvs, bad = [], [], []
        for r in range(repeats):
            x, ref = draw(r, N_ROWS), target.exact(N_ROWS, rng)
            finite = np.isfinite(x).all(axis=1) & np.isfinite(target.log_prob(x))
            bad.append(1 - finite.mean())
            x = x[finite]  # a diverged sampler's non-finite rows are counted, then left out
            w2s.append(w2(x, ref) if len(x) else np.nan)
            tvs.append(energy_tv(-target.log_prob(x), -target.log_prob(ref)) if len(x) else np.nan)
        many = draw(99, N_MODE_ROWS)
        many = many[np.isfinite(many).all(axis=1)]
        rows.append({"target": target.name, "model": name,
                     "W2": np.mean(w2s), "W2 se": np.std(w2s, ddof=1) / np.sqrt(repeats),
                     "energy TV": np.mean(tvs), "energy TV se": np.std(tvs, ddof=1) / np.sqrt(repeats),
                     "non-finite rows": float(np.mean(bad)),
                     "mean log p": float(np.mean(target.log_prob(many))), **target.modes(many),
                     "log Z error": abs(log_z[name] - target.log_z) if name in log_z else None,
                     "log Z se": ours.log_normalizer_[1] if name == "ours" else None,
                     "target evaluations": evals.get(name), "fit s": fits.get(name),
                     "sampling rows/s": rates.get(name)})
        print(rows[-1], flush=True)
    return rows, ours


def headline(rows, target, ours):
    by = {r["model"]: r for r in rows}
    o, exact = by["ours"], by["exact"]
    rkl = [by[n] for n in ("reverse KL (MLP)", "reverse KL (NSF)")]
    def peer(r, column, fmt):
        return "diverged" if r["non-finite rows"] == 1 else format(r[column], fmt)

    line = (f"* {target.name}, ours: W2 {o['W2']:.2f} against {exact['W2']:.2f} between two exact sets "
            f"({o['W2'] / exact['W2']:.2f} times; target 1.2), reverse KL {peer(rkl[0], 'W2', '.2f')} (MLP) and "
            f"{peer(rkl[1], 'W2', '.2f')} (NSF); energy TV {o['energy TV']:.3f} against "
            f"{peer(rkl[0], 'energy TV', '.3f')} and {peer(rkl[1], 'energy TV', '.3f')}; ")
    if "modes outside [0.5, 1.5]" in o and o["modes outside [0.5, 1.5]"] is not None:
        line += f"{o['modes outside [0.5, 1.5]']} of 40 modes outside [0.5, 1.5] / 40 (target 0); "
    else:
        line += f"largest deep-well probability error {o['max deep-well error']:.3f} (target 0.03); "
    line += (f"log Z error {o['log Z error']:.3f} (target {0.05 if target.dim == 2 else 0.5}); fit {o['fit s']:.0f} s "
             f"(target 600) with {o['target evaluations']:,} target evaluations; {o['sampling rows/s']:.3g} "
             f"rows/s (target 1e6 on MoG-40). ESS of each round's importance weights, then of the final ones: "
             f"{', '.join(f'{e:.0f}' for e in ours.ess_history_)} of {ours.n_proposals:,}"
             + (f"; round 0 tempered in {len(ours.temperatures_)} steps" if ours.temperatures_ else "") + ".\n")
    return line


DIKL = """Published figures (He et al. 2024, DiKL's Table 1, **as quoted by another project's notes**:
the paper itself could not be read offline here; other hardware, other training budgets, and
their own evaluation code). MoG-40, the mean target log-density of the samples: exact -6.85,
FAB -10.74, iDEM -8.33, DiKL -7.21; reverse KL is not in that table (it misses modes). Our
``mean log p`` column is the same quantity. We found no published W2 or energy-TV figures for
MoG-40 or Many-Well-32 to quote; their code computes W2 by exact optimal transport between
2,000 model and 2,000 reference rows over 10 repeats and the energy TV with 200 bins, as here.
"""


def main(argv=None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=10, help="repeats of the W2 and TV (default 10; --quick: 3)")
    parser.add_argument("--rkl-steps", type=int, default=2000, help="reverse-KL Adam steps (default 2000; --quick: 300)")
    parser.add_argument("--targets", default="mog40,manywell32", help="comma-separated: mog40, manywell32")
    args = parse_args(parser, argv)
    repeats = 3 if args.quick else args.repeats
    rkl_steps = 300 if args.quick else args.rkl_steps
    start = time.perf_counter()
    rows, lines, tables = [], [], ""
    for key in args.targets.split(","):
        target = TARGETS[key]()
        target_rows, ours = run_target(target, args, repeats, rkl_steps)
        rows += target_rows
        lines.append(headline(target_rows, target, ours))
        modes = (["min mode share x40", "max mode share x40", "modes outside [0.5, 1.5]"] if target.dim == 2
                 else ["max deep-well error"])
        tables += section(target.name) + rst_table(target_rows, ["model", "W2", "W2 se", "energy TV", "energy TV se",
                                                                 "mean log p", *modes, "non-finite rows"],
                                                   floatfmt="{:.3g}") + "\n\n"
        tables += rst_table(target_rows, ["model", "log Z error", "log Z se", "target evaluations", "fit s",
                                          "sampling rows/s"], floatfmt="{:.3g}") + "\n\n"
    print_table(rows)
    elapsed = time.perf_counter() - start
    page = page_header("Sampling an unnormalised density", args.command, elapsed) + docstring_body(__doc__) + "\n\n"
    page += section("Headline") + "".join(lines) + "\n" + tables + section("Published figures") + DIKL
    publish("sampler", page, rows, elapsed, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
