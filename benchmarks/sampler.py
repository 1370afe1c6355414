"""Sampling an unnormalised density: DiffusionSupervisedSampler on MoG-40 against exact samples and MALA.

The target (He et al. 2024, DiKL's protocol): **MoG-40**, 40 equal-weight Gaussians in 2-D,
means :math:`40 (2u - 1)` with :math:`u \\sim U[0, 1]^{40 \\times 2}` drawn by ``torch.rand``
right after ``torch.manual_seed(0)``, each :math:`N(\\mu_k, \\sigma^2 I)` with
:math:`\\sigma = \\mathrm{softplus}(1) \\approx 1.3133`. Its ``log_prob`` is normalised, so
:math:`\\log Z = 0`.

Models, each given only ``log_prob`` (and its gradient for MALA):

* **ours** -- ``DiffusionSupervisedSampler(log_prob, 2, initial_scale=30, random_state=seed)``:
  3 rounds of 20,000 proposals and a final 20,000 for :math:`\\log Z` (80,000 evaluations);
  the first proposal is :math:`N(0, 30^2 I)`, which covers the means' square;
* **MALA** -- 2,000 Metropolis-adjusted Langevin chains started from the same
  :math:`N(0, 30^2 I)`, step size tuned during the first half of the run to an acceptance
  rate of 0.57, run for 40 steps so that they use the same 80,000 evaluations (of
  :math:`\\log p` with its gradient), the last state of each chain kept;
* **exact** -- 2,000 rows drawn from the mixture itself: the reference for what 2,000 rows can
  reach.

Metrics, over ``--repeats`` repeats of 2,000 model rows against 2,000 fresh exact rows:

* **W2** -- the 2-Wasserstein distance by exact optimal transport (an assignment between the
  two sets of 2,000 rows, ``scipy.optimize.linear_sum_assignment``);
* **energy TV** -- the total variation distance between the histograms (200 bins over the
  pooled range) of :math:`-\\log p` of the two sets;
* **modes** -- each row's nearest mean; the share of each of the 40 modes among 20,000 model
  rows, times 40 (1 is exact): its minimum, maximum, and how many modes fall outside
  [0.5, 1.5];
* **log Z error** (ours only), target evaluations, fit seconds and sampling rows/s (one
  thread).

Not on this page yet: the reverse-KL-trained peers (a one-step generator of the same size and a
zuko NSF), the Many-Well-32 target, and DiKL's published figures.

Run: ``python benchmarks/sampler.py [--quick] [--repeats 10] [--seed 0] [--threads 1] [--out DIR]``
(``--quick``: 3 repeats). Writes ``doc/benchmarks/sampler.rst`` and ``sampler.csv``.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp

from report import docstring_body, make_parser, page_header, parse_args, print_table, publish, rst_table, section
from sklearn_diffgen import DiffusionSupervisedGenerator, DiffusionSupervisedSampler

N_ROWS, N_MODE_ROWS, SCALE = 2000, 20_000, 30.0


def mog40():
    """Means (40, 2), sigma, and the normalised log-density (numpy) of MoG-40."""
    torch.manual_seed(0)
    means = (40 * (2 * torch.rand(40, 2) - 1)).double().numpy()
    sigma = float(torch.nn.functional.softplus(torch.tensor(1.0)))

    def log_prob(x):
        d2 = ((np.asarray(x)[:, None, :] - means[None]) ** 2).sum(-1)
        return logsumexp(-d2 / (2 * sigma**2), axis=1) - math.log(40) - math.log(2 * math.pi * sigma**2)

    return means, sigma, log_prob


def exact_rows(means, sigma, n, rng):
    return means[rng.randint(len(means), size=n)] + sigma * rng.standard_normal((n, 2))


def mala(log_prob_torch, n_chains, n_steps, seed):
    """MALA chains from N(0, SCALE^2 I); the step size adapts in the first half to 0.57 acceptance."""
    g = torch.Generator().manual_seed(seed)
    x = SCALE * torch.randn(n_chains, 2, generator=g, dtype=torch.float64)

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
    edges = np.linspace(min(ea.min(), eb.min()), max(ea.max(), eb.max()), bins + 1)
    ha, hb = np.histogram(ea, edges)[0] / len(ea), np.histogram(eb, edges)[0] / len(eb)
    return 0.5 * float(np.abs(ha - hb).sum())


def mode_shares(x, means):
    nearest = ((x[:, None, :] - means[None]) ** 2).sum(-1).argmin(1)
    return np.bincount(nearest, minlength=len(means)) / len(x) * len(means)


def main(argv=None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=10, help="repeats of the W2 and TV (default 10; --quick: 3)")
    args = parse_args(parser, argv)
    repeats = 3 if args.quick else args.repeats
    means, sigma, log_prob = mog40()
    mt, st = torch.as_tensor(means), sigma

    def log_prob_torch(x):
        d2 = ((x[:, None, :] - mt[None]) ** 2).sum(-1)
        return torch.logsumexp(-d2 / (2 * st**2), dim=1) - math.log(40) - math.log(2 * math.pi * st**2)

    start = time.perf_counter()
    t0 = time.perf_counter()
    small = DiffusionSupervisedGenerator(**args.ours_params, verbose=0) if args.ours_params else None  # --smoke
    ours = DiffusionSupervisedSampler(log_prob, 2, initial_scale=SCALE, random_state=args.seed, verbose=0,
                                      generator=small).fit()
    ours_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    chains, mala_evals = mala(log_prob_torch, N_ROWS, ours.n_target_evaluations_ // N_ROWS - 1, args.seed)
    mala_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours.sample(10**6, random_state=args.seed)
    rate = 10**6 / (time.perf_counter() - t0)

    rng = np.random.RandomState(args.seed + 1)
    draws = {"ours": lambda r: ours.sample(N_ROWS, random_state=1000 + r),
             "MALA": lambda r: chains,
             "exact": lambda r: exact_rows(means, sigma, N_ROWS, rng)}
    rows = []
    for name, draw in draws.items():
        w2s, tvs = [], []
        for r in range(repeats):
            x, ref = draw(r), exact_rows(means, sigma, N_ROWS, rng)
            w2s.append(w2(x, ref))
            tvs.append(energy_tv(-log_prob(x), -log_prob(ref)))
        many = ours.sample(N_MODE_ROWS, random_state=7) if name == "ours" else (
            chains if name == "MALA" else exact_rows(means, sigma, N_MODE_ROWS, rng))
        shares = mode_shares(many, means)
        rows.append({"model": name, "W2": np.mean(w2s), "W2 se": np.std(w2s, ddof=1) / np.sqrt(repeats),
                     "energy TV": np.mean(tvs), "energy TV se": np.std(tvs, ddof=1) / np.sqrt(repeats),
                     "min mode share x40": shares.min(), "max mode share x40": shares.max(),
                     "modes outside [0.5, 1.5]": int(((shares < 0.5) | (shares > 1.5)).sum()),
                     "log Z error": abs(ours.log_normalizer_[0]) if name == "ours" else None,
                     "log Z se": ours.log_normalizer_[1] if name == "ours" else None,
                     "target evaluations": {"ours": ours.n_target_evaluations_, "MALA": mala_evals}.get(name),
                     "fit s": {"ours": ours_fit, "MALA": mala_fit}.get(name),
                     "sampling rows/s": rate if name == "ours" else None})
        print(rows[-1], flush=True)
    print_table(rows)
    elapsed = time.perf_counter() - start
    exact = next(r for r in rows if r["model"] == "exact")
    o = rows[0]
    page = page_header("Sampling an unnormalised density", args.command, elapsed) + docstring_body(__doc__) + "\n\n"
    page += section("Headline") + (
        f"* MoG-40, ours: W2 {o['W2']:.2f} against {exact['W2']:.2f} between two exact sets "
        f"({o['W2'] / exact['W2']:.2f} times; target 1.2); {o['modes outside [0.5, 1.5]']} of 40 modes outside "
        f"[0.5, 1.5] / 40 (target 0); log Z error {o['log Z error']:.3f} (target 0.05); fit {o['fit s']:.0f} s "
        f"(target 600); {o['sampling rows/s']:.3g} rows/s (target 1e6).\n"
        f"* ESS of each round's weights, then of the final ones: "
        f"{', '.join(f'{e:.0f}' for e in ours.ess_history_)} of {ours.n_proposals:,}.\n\n")
    page += section("MoG-40") + rst_table(rows, ["model", "W2", "W2 se", "energy TV", "energy TV se",
                                                 "min mode share x40", "max mode share x40",
                                                 "modes outside [0.5, 1.5]"], floatfmt="{:.3g}") + "\n\n"
    page += rst_table(rows, ["model", "log Z error", "log Z se", "target evaluations", "fit s", "sampling rows/s"],
                      floatfmt="{:.3g}") + "\n"
    publish("sampler", page, rows, elapsed, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
