"""Run the whole benchmark suite (quality, speed, scaling, time to quality, labelling, density, tabular,
privacy, oversampling, sampler, grid columns) as subprocesses.

Each script runs as ``python benchmarks/<name>.py`` with the flags they all share
(``--quick``, ``--seed``, ``--threads``, ``--out``: ``report.make_parser``) passed through, one
after the other (they share the machine's cores, so running them side by side would distort
the timings), with its output streamed. Every script writes its own page in ``--out``
(``doc/benchmarks`` by default); this one then writes ``run_all.rst`` there: the runtime and
status of each script, with links to their pages. A script that fails is reported and the
others still run; the exit status is non-zero when any failed. A script that is not there is
skipped. ``--smoke --out DIR`` tests every script in a few minutes: their quick runs, with our
estimator's fits cut to ``report.SMOKE_PARAMS`` (numbers that mean nothing, kept out of
``doc/benchmarks``).

Run: ``python benchmarks/run_all.py --quick``: under 10 minutes on 2 cores (quality about 4,
speed 2.5, scaling 1 to 2, labelling 1; speed took 139 s and scaling 36 s with ``--threads 1``
on a machine shared with other jobs), or ``python benchmarks/run_all.py`` (full mode: about
65 minutes on 2 cores, estimated from the quick runs: quality about 45, speed 15, scaling 6;
each page states its own measured runtime). On a machine shared with other jobs, add
``--threads 1``: with one thread per core by default,
torch's and BLAS's threads wait on each other and our training ran about 20 times slower.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from report import DOC_DIR, make_parser, page_header, parse_args, print_table, publish, rst_table

BENCH_DIR = Path(__file__).resolve().parent
#: Scripts in running order, with the page each writes (in doc/benchmarks).
SCRIPTS = {"quality": "quality", "speed": "speed", "scaling": "scaling", "time_to_quality": "time_to_quality",
           "labelling": "labelling", "density": "density", "tabular": "tabular", "privacy": "privacy",
           "oversampling": "oversampling", "sampler": "sampler",
           "grid_columns": "grid_columns", "teachers": "teachers", "fine_tuning": "fine_tuning"}


def main(argv=None):
    parser = make_parser(__doc__)  # passed on to every script; --threads here too, for the machine line
    parser.add_argument("--only", nargs="+", choices=list(SCRIPTS), help="run only these scripts")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds after which a script is stopped (default: none)")
    args = parse_args(parser, argv)
    flags = ((["--smoke"] if args.smoke else ["--quick"] if args.quick else []) + ["--seed", str(args.seed)]
             + (["--threads", str(args.threads)] if args.threads else [])
             + (["--out", str(args.out)] if args.out != DOC_DIR else []))

    rows, failed = [], []
    start = time.perf_counter()
    for name, page in SCRIPTS.items():
        script = BENCH_DIR / f"{name}.py"
        if args.only and name not in args.only:
            continue
        if not script.exists():
            print(f"\n=== {name}: benchmarks/{name}.py is not there; skipped", flush=True)
            continue
        print(f"\n=== {name}: {' '.join(['python', f'benchmarks/{name}.py'] + flags)}", flush=True)
        t0 = time.perf_counter()
        try:
            status = subprocess.run([sys.executable, str(script)] + flags, timeout=args.timeout).returncode
        except subprocess.TimeoutExpired:
            status = "timeout"
        seconds = time.perf_counter() - t0
        if status != 0:
            failed.append(name)
        rows.append({"script": f"benchmarks/{name}.py", "seconds": seconds,
                     "status": "ok" if status == 0 else f"failed ({status})",
                     "page": f":doc:`{page}`" if (args.out / f"{page}.rst").exists() else ""})
    elapsed = time.perf_counter() - start

    print_table([{k: v for k, v in r.items() if k != "page"} for r in rows], floatfmt="{:.0f}",
                title=f"run_all: {elapsed:.0f} s in all")
    # :orphan: keeps ``sphinx -W`` quiet until a toctree includes the page
    text = (":orphan:\n\n" + page_header("Runtime of the benchmark suite", args.command, elapsed)
            + "Each script ran in this order, one at a time; its page states its own command, "
              "machine, date and runtime.\n\n"
            + rst_table(rows, ["script", "seconds", "status", "page"], floatfmt="{:.0f}"))
    publish("run_all", text, rows, elapsed, args.out)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
