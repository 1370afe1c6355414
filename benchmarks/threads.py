"""Thread policy: torch's thread count against fit time, on an idle core pair and with one core kept busy.

The estimators scope torch's threads for each call (``n_jobs``, see the user guide's CPU
section): the networks train on one thread, the kernel sums use ``n_jobs`` threads (None: one).
This page measures why, on the machine it runs on:

1. **Kernels**, one and two threads, idle and with a second process spinning on one core:
   three epochs of the default network (128 x 3) on 20,000 labels, and five denoiser calls
   of 4,000 queries against 20,000 data points in 6-D (float32 logits).
2. **Default fits** on 2,000 rows of two moons: with one thread for everything
   (``OMP_NUM_THREADS=1``), and with one core busy at the default ``n_jobs=None`` and at
   ``n_jobs=-1``; each fit runs in a fresh process with torch's default thread count (one a
   core), so that only the estimator's own policy limits it. The target: the contended
   default fit within 1.5 times the one-thread fit.

Run: ``python benchmarks/threads.py`` (about 4 minutes on 2 cores; ``--quick`` fits 500 rows).
Do not pass ``--threads``: the script sets the thread counts itself. Writes ``threads.rst`` and
``threads.csv`` to ``--out`` (``doc/benchmarks`` by default).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time

from report import docstring_body, make_parser, page_header, parse_args, publish, rst_table, section

_KERNELS = r"""
import json, time, torch
from sklearn_diffgen.networks import MLP
from sklearn_diffgen.score import Kernel
from sklearn_diffgen.training import fit_regression
torch.set_num_threads({threads})
g = torch.Generator().manual_seed(0)
u = torch.randn(20000, 2, generator=g)
net = MLP(2, 2, (128, 128, 128), generator=g)
fit_regression(net, u, u ** 2, generator=g, max_iter=1, early_stopping=False)  # warm-up
t = time.perf_counter()
fit_regression(net, u, u ** 2, generator=g, max_iter=3, early_stopping=False)
train = time.perf_counter() - t
k = Kernel(torch.randn(20000, 6, generator=g, dtype=torch.float64))
z = torch.randn(4000, 6, generator=g, dtype=torch.float64)
k.denoise(z, 0.9, 0.3, "float32")
t = time.perf_counter()
for _ in range(5):
    k.denoise(z, 0.9, 0.3, "float32")
print(json.dumps({{"training_s": train, "denoise_s": time.perf_counter() - t}}))
"""

_FIT = r"""
import json, time, warnings
from sklearn.datasets import make_moons
from sklearn_diffgen import DiffusionSupervisedGenerator
X, _ = make_moons({n}, noise=0.1, random_state=0)
warnings.simplefilter("ignore")
t = time.perf_counter()
est = DiffusionSupervisedGenerator(n_jobs={n_jobs}, random_state=0).fit(X)
print(json.dumps({{"fit_s": time.perf_counter() - t, **{{k + "_s": v for k, v in est.fit_times_.items()}}}}))
"""


@contextlib.contextmanager
def busy_core(on: bool):
    """A second process spinning on one core for the span of the block (when ``on``)."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if on else None
    try:
        time.sleep(0.5 if on else 0)
        yield
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


def run(code: str, env_threads: int | None) -> dict:
    """Run ``code`` in a fresh interpreter (``OMP_NUM_THREADS`` set when given) and read its json."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    if env_threads:
        env["OMP_NUM_THREADS"] = str(env_threads)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    args = parse_args(make_parser(__doc__, seed=False, threads=False), argv)
    start = time.perf_counter()
    rows = []
    for busy in (False, True):
        for threads in (1, 2):
            with busy_core(busy):
                r = run(_KERNELS.format(threads=threads), None)
            rows.append({"table": "kernels", "one core busy": busy, "torch threads": threads, **r})
            print(rows[-1], flush=True)
    n = 500 if args.quick else 2000
    for busy, n_jobs, env in ((False, "None", 1), (True, "None", None), (True, "-1", None)):
        with busy_core(busy):
            r = run(_FIT.format(n=n, n_jobs=n_jobs), env)
        rows.append({"table": "fit", "one core busy": busy, "n_jobs": n_jobs,
                     "OMP_NUM_THREADS": env or "unset", **r})
        print(rows[-1], flush=True)
    elapsed = time.perf_counter() - start
    kernels = [r for r in rows if r["table"] == "kernels"]
    for r in kernels:
        ref = next(k for k in kernels if k["one core busy"] == r["one core busy"] and k["torch threads"] == 1)
        r["training vs 1 thread"] = r["training_s"] / ref["training_s"]
        r["denoise vs 1 thread"] = r["denoise_s"] / ref["denoise_s"]
    fits = [r for r in rows if r["table"] == "fit"]
    for r in fits:
        r["fit vs idle one-thread fit"] = r["fit_s"] / fits[0]["fit_s"]
    page = page_header("Threads", args.command, elapsed) + docstring_body(__doc__) + "\n\n"
    page += section("Kernels: seconds, and the ratio to one thread in the same condition")
    page += rst_table(kernels, ["one core busy", "torch threads", "training_s", "training vs 1 thread",
                                "denoise_s", "denoise vs 1 thread"], "{:.3g}") + "\n\n"
    page += section(f"Default fits on {n:,} rows of two moons")
    page += rst_table(fits, ["one core busy", "n_jobs", "OMP_NUM_THREADS", "fit_s", "fit vs idle one-thread fit",
                             "bandwidth_s", "labelling_s", "training_s"], "{:.3g}") + "\n"
    publish("threads", page, rows, elapsed, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
