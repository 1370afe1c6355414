"""Run the whole benchmark suite (quality, speed, scaling, labelling, density, tabular) as subprocesses.

Each script runs as ``python benchmarks/<name>.py`` with ``--quick`` and ``--seed`` passed
through, one after the other (they share the machine's cores, so running them side by side
would distort the timings), with its output streamed. Every script writes its own page in
``doc/benchmarks``; this one then writes ``doc/benchmarks/run_all.rst``: the runtime and
status of each script, with links to their pages. A script that fails is reported and the others
still run; the exit status is non-zero when any failed. ``labelling.py`` runs only where it
exists.

Run: ``python benchmarks/run_all.py --quick``: under 10 minutes on 2 cores (quality about 4,
speed 2.5, scaling 1 to 2, labelling 1; speed took 139 s and scaling 36 s with ``--threads 1``
on a machine shared with other jobs), or ``python benchmarks/run_all.py`` (full mode: about
65 minutes on 2 cores, estimated from the quick runs: quality about 45, speed 15, scaling 6;
each page states its own measured runtime). On a machine shared with other jobs, add
``--threads 1`` (passed to the scripts that take it): with one thread per core by default,
torch's and BLAS's threads wait on each other and our training ran about 20 times slower.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from report import DOC_DIR, page_header, print_table, rst_table, write_page

BENCH_DIR = Path(__file__).resolve().parent
#: Scripts in running order, with the page each writes (in doc/benchmarks).
SCRIPTS = {"quality": "quality", "speed": "speed", "scaling": "scaling", "labelling": "labelling",
           "density": "density", "tabular": "tabular"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every script")
    parser.add_argument("--seed", type=int, default=0, help="passed to every script")
    parser.add_argument("--only", nargs="+", choices=list(SCRIPTS), help="run only these scripts")
    parser.add_argument("--threads", type=int, default=None,
                        help="passed to the scripts that take it (threads of torch and the BLAS/OpenMP "
                             "pools; default: the libraries' defaults)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds after which a script is stopped (default: none)")
    args = parser.parse_args(argv)
    if args.threads:  # so that the page's machine line states the scripts' thread count
        import torch

        torch.set_num_threads(args.threads)

    rows, failed = [], []
    start = time.perf_counter()
    for name, page in SCRIPTS.items():
        script = BENCH_DIR / f"{name}.py"
        if args.only and name not in args.only:
            continue
        if not script.exists():
            print(f"\n=== {name}: benchmarks/{name}.py is not there; skipped", flush=True)
            continue
        source = script.read_text()
        # a script that does not define an option is not given it (labelling.py belongs to
        # another issue)
        flags = ((["--quick"] if args.quick and '"--quick"' in source else [])
                 + (["--seed", str(args.seed)] if '"--seed"' in source else [])
                 + (["--threads", str(args.threads)] if args.threads and '"--threads"' in source else []))
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
                     "page": f":doc:`{page}`" if (DOC_DIR / f"{page}.rst").exists() else ""})
    elapsed = time.perf_counter() - start

    command = "python benchmarks/run_all.py" + (" --quick" if args.quick else "") + (
        f" --seed {args.seed}" if args.seed else "") + (f" --threads {args.threads}" if args.threads else "")
    print_table([{k: v for k, v in r.items() if k != "page"} for r in rows], floatfmt="{:.0f}",
                title=f"run_all: {elapsed:.0f} s in all")
    # :orphan: keeps ``sphinx -W`` quiet until a toctree includes the page
    text = (":orphan:\n\n" + page_header("Runtime of the benchmark suite", command, elapsed)
            + "Each script ran in this order, one at a time; its page states its own command, "
              "machine, date and runtime.\n\n"
            + rst_table(rows, ["script", "seconds", "status", "page"], floatfmt="{:.0f}"))
    path = write_page("run_all", text)
    print(f"wrote {path}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
