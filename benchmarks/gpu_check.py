"""GPU check: the same fits on CUDA and on the CPU, compared to a stated tolerance and timed.

One short script for a machine with a GPU (it runs, and checks the CPU side, without one):

1. **Labels.** ``make_labels`` of the same teacher on both devices: the Gaussian draws are
   made on a CPU generator, so the labels agree up to floating-point rounding (max abs
   difference below ``--label-tol``, 1e-4 in model units by default: float32 logits round
   differently on the two devices).
2. **Fits.** ``DiffusionSupervisedGenerator(random_state=0)`` fitted on both devices; the
   held-out mean log-likelihoods agree within ``--score-tol`` nats (0.05: a different
   rounding changes the training trajectory), and samples of the two models are compared
   by their energy distance to the test rows.
3. **Timings** of labelling, training and ``score_samples`` on both.
4. **Persistence.** A CUDA-fitted model, pickled, loads where CUDA is unavailable (the
   CPU, with a warning) and gives the same samples and scores as the CUDA model.

Run: ``python benchmarks/gpu_check.py [--n-samples 20000] [--out DIR]``: a few minutes on
one GPU. It prints every comparison and exits non-zero when one fails; it writes
``gpu_check.rst`` and ``gpu_check.csv`` to ``--out`` only where CUDA was available.
"""

from __future__ import annotations

import pickle
import sys
import time
import warnings
from unittest import mock

import numpy as np
import torch

from report import docstring_body, make_parser, page_header, parse_args, publish, rst_table, section
from sklearn_diffgen import DiffusionSupervisedGenerator
from sklearn_diffgen.datasets import load_split
from sklearn_diffgen.labeling import make_labels
from sklearn_diffgen.metrics import energy_distance
from sklearn_diffgen.schedules import SCHEDULES
from sklearn_diffgen.teacher import Teacher


def _timed(fn):
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - t


def main(argv=None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--n-samples", type=int, default=20000, help="rows of the 8gaussians split")
    parser.add_argument("--label-tol", type=float, default=1e-4)
    parser.add_argument("--score-tol", type=float, default=0.05)
    args = parse_args(parser, argv)
    n = 2000 if args.quick else args.n_samples
    data = load_split("8gaussians", n_samples=n, random_state=args.seed)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print("devices:", devices, torch.cuda.get_device_name(0) if len(devices) > 1 else "(no CUDA)", flush=True)
    start = time.perf_counter()
    rows, checks = [], []

    # 1. labels of the same teacher
    x = torch.as_tensor((data.train - data.train.mean(0)) / data.train.std(0))
    labels = {}
    for dev in devices:
        (z, lab), secs = _timed(lambda: make_labels(Teacher(x.to(dev), 0.1), 10000, SCHEDULES["paper"], 11,
                                                    generator=torch.Generator().manual_seed(0)))
        labels[dev] = lab.cpu()
        rows.append({"what": "make_labels (10,000 labels)", "device": dev, "seconds": secs})
    if len(devices) > 1:
        diff = float((labels["cuda"] - labels["cpu"]).abs().max())
        checks.append(("labels agree", diff, args.label_tol, diff <= args.label_tol))

    # 2.-3. fits, scores and samples
    models = {}
    for dev in devices:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est, fit_s = _timed(lambda: DiffusionSupervisedGenerator(device=dev, random_state=0,
                                                                     **args.ours_params).fit(data.train))
            ll, score_s = _timed(lambda: est.score_samples(data.test))
        models[dev] = est
        ed = energy_distance(est.sample(len(data.test), random_state=1), data.test)
        rows.append({"what": "fit", "device": dev, "seconds": fit_s, **{f"{k} s": v for k, v in est.fit_times_.items()}})
        rows.append({"what": f"score_samples ({len(data.test)} rows)", "device": dev, "seconds": score_s,
                     "mean log-likelihood": float(np.mean(ll)), "energy distance": ed})
        print(rows[-2], rows[-1], sep="\n", flush=True)
    if len(devices) > 1:
        lls = [r["mean log-likelihood"] for r in rows if "mean log-likelihood" in r]
        diff = abs(lls[1] - lls[0])
        checks.append(("held-out log-likelihood agrees (nats)", diff, args.score_tol, diff <= args.score_tol))

        # 4. a CUDA-fitted pickle on a machine without CUDA
        blob = pickle.dumps(models["cuda"])
        with mock.patch("torch.cuda.is_available", return_value=False), warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            back = pickle.loads(blob)
            same = (back.device_.type == "cpu"
                    and np.allclose(back.sample(50, random_state=2), models["cuda"].sample(50, random_state=2), atol=1e-4)
                    and np.allclose(back.score_samples(data.test[:50]), models["cuda"].score_samples(data.test[:50]),
                                    atol=1e-3))
        checks.append(("CUDA pickle loads on the CPU, same samples and scores", float(same), 1.0,
                       same and any("CUDA is not available" in str(x.message) for x in w)))
    elapsed = time.perf_counter() - start
    for name, value, tol, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {value:.3g} (tolerance {tol:g})")
    if len(devices) > 1:
        page = page_header("GPU check", args.command, elapsed) + docstring_body(__doc__) + "\n\n"
        page += section("Checks") + rst_table([{"check": c[0], "value": c[1], "tolerance": c[2], "passed": c[3]}
                                               for c in checks]) + "\n\n"
        page += section("Timings") + rst_table(rows, floatfmt="{:.4g}") + "\n"
        publish("gpu_check", page, rows, elapsed, args.out)
    return 0 if all(c[3] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
