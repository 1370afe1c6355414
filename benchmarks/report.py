"""Shared helpers of the benchmark scripts: command line, machine, rst pages and tables, timing, peak memory.

The scripts run as ``python benchmarks/<name>.py``, so ``benchmarks/`` is on ``sys.path`` and they
import this module as ``from report import ...``. Each ``main`` builds its parser with
:func:`make_parser` (the shared ``--quick``, ``--smoke``, ``--seed``, ``--threads`` and ``--out``
flags) and reads it with :func:`parse_args`, which applies ``--threads`` and records the command
line.
Every results page goes to ``--out`` (:data:`DOC_DIR`, ``doc/benchmarks/<name>.rst``, by
default), starts with :func:`page_header` (title, command, machine, date, runtime), holds tables
made by :func:`rst_table` and figures saved by :func:`save_figure`, and is written with its raw
rows (``<name>.csv``) by :func:`publish`, which also opens it with the page's figure
(``benchmarks/figures.py``, drawn from that csv); the same tables go to stdout through
:func:`print_table`.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

__all__ = [
    "DOC_DIR",
    "SMOKE_PARAMS",
    "make_parser",
    "parse_args",
    "limit_threads",
    "machine_info",
    "machine_line",
    "page_header",
    "rst_table",
    "text_table",
    "print_table",
    "section",
    "docstring_body",
    "grouped_tables",
    "write_page",
    "write_csv",
    "read_csv",
    "publish",
    "save_figure",
    "median_time",
    "run_fresh",
    "peak_rss_mib",
]

#: Where the results pages and their figures go (included by the sphinx docs).
DOC_DIR = Path(__file__).resolve().parents[1] / "doc" / "benchmarks"
_BENCH_DIR = Path(__file__).resolve().parent
#: Parameters that every fit of our estimator takes under ``--smoke`` (``args.ours_params``): few
#: labels and epochs, so that each script runs in a minute or two and tests its code, not the model.
SMOKE_PARAMS = {"n_labels": 2000, "max_iter": 20}


# -------------------------------------------------------------------- command line
def make_parser(doc: str, *, quick: bool = True, seed: bool = True, threads: bool = True,
                out: bool = True) -> argparse.ArgumentParser:
    """The parser of a benchmark script, holding the flags that the scripts share.

    Parameters
    ----------
    doc : str
        The script's docstring; its first line describes the script in ``--help``.
    quick, seed, threads, out : bool
        Whether to add ``--quick`` (the script's short run) and ``--smoke`` (the quick run with
        :data:`SMOKE_PARAMS` for our estimator, to test the script; its numbers mean nothing,
        so it needs an ``--out`` other than :data:`DOC_DIR`), ``--seed`` (int, default 0),
        ``--threads`` (int or None: the thread count of torch and of the BLAS/OpenMP pools,
        applied by :func:`parse_args`) and ``--out`` (the folder of the page, its csv and
        figures; default :data:`DOC_DIR`).

    Returns
    -------
    parser : argparse.ArgumentParser
        Add the script's own flags, then read it with :func:`parse_args`.

    Examples
    --------
    >>> args = make_parser("Demo.", seed=False, out=False).parse_args(["--quick", "--threads", "1"])
    >>> args.quick, args.threads
    (True, 1)
    """
    parser = argparse.ArgumentParser(description=doc.strip().split("\n")[0])
    if quick:
        parser.add_argument("--quick", action="store_true",
                            help="the short run (the script's docstring says what it cuts)")
        parser.add_argument("--smoke", action="store_true",
                            help=f"--quick, and our estimator with {SMOKE_PARAMS}: a test of the script "
                                 "(needs --out)")
    if seed:
        parser.add_argument("--seed", type=int, default=0, help="seed of the data and the models")
    if threads:
        parser.add_argument("--threads", type=int, default=None,
                            help="threads of torch and of the BLAS/OpenMP pools, for every model alike "
                                 "(default: the libraries' defaults); on a machine shared with other "
                                 "jobs, 1 avoids oversubscription")
    if out:
        parser.add_argument("--out", type=Path, default=DOC_DIR,
                            help="folder for the page, its csv and its figures (default: doc/benchmarks)")
    return parser


def parse_args(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """Parse ``argv`` (default ``sys.argv[1:]``), apply ``--threads`` and record the command.

    ``args.command`` is the command line as a shell would take it,
    ``python benchmarks/<script> <arguments>``, for the page header. ``args.ours_params`` holds
    the parameters that every fit of our estimator takes on top of its own: :data:`SMOKE_PARAMS`
    under ``--smoke`` (which also sets ``args.quick``), else none.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    smoke = getattr(args, "smoke", False)
    if smoke and Path(getattr(args, "out", DOC_DIR)).resolve() == DOC_DIR:
        parser.error(f"--smoke pages are tests, not results: give --out (a folder other than {DOC_DIR})")
    if smoke:
        args.quick = True
    args.ours_params = dict(SMOKE_PARAMS) if smoke else {}
    limit_threads(getattr(args, "threads", None))
    args.command = shlex.join(["python", f"benchmarks/{parser.prog}", *argv])
    return args


def limit_threads(threads: int | None, *, with_torch: bool = True) -> None:
    """Limit this process's BLAS/OpenMP pools (and torch's, ``with_torch``) to ``threads``.

    None or 0 leaves the libraries' defaults. On a machine shared with other jobs one thread
    avoids oversubscription: with one thread per core, torch's training ran about 20 times
    slower there, and the peers' BLAS threads suffer likewise.
    """
    if not threads:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    if with_torch:
        import torch

        torch.set_num_threads(threads)


# ------------------------------------------------------------------------- machine
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float:
    try:
        import psutil

        return psutil.virtual_memory().total / 2**30
    except ImportError:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def machine_info() -> dict:
    """Describe the machine and the library versions the numbers were measured with.

    Returns
    -------
    info : dict
        ``cpu`` (model name), ``cores`` (CPUs this process may run on), ``ram_gib``,
        ``python``, ``torch``, ``numpy``, ``sklearn`` (versions), ``torch_threads``
        (``torch.get_num_threads()``: torch's default unless ``--threads`` set it) and ``gpu``
        (the CUDA device name, or ``"none"``).
    """
    import numpy
    import sklearn
    import torch

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return {
        "cpu": _cpu_model(),
        "cores": cores,
        "ram_gib": round(_ram_gib(), 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "sklearn": sklearn.__version__,
        "torch_threads": torch.get_num_threads(),
        "gpu": gpu,
    }


def machine_line(info: dict | None = None) -> str:
    """One line summarising :func:`machine_info` (for stdout and page headers)."""
    m = info or machine_info()
    return (f"{m['cpu']}, {m['cores']} cores, {m['ram_gib']:.0f} GiB RAM, GPU: {m['gpu']}; "
            f"python {m['python']}, torch {m['torch']} (threads: {m['torch_threads']}), "
            f"numpy {m['numpy']}, scikit-learn {m['sklearn']}")


# ---------------------------------------------------------------------- rst output
def page_header(title: str, command: str, elapsed_s: float | None = None) -> str:
    """The start of a results page: title, command line, machine, date and runtime.

    Parameters
    ----------
    title : str
        Page title (an rst section title, underlined with ``=``).
    command : str
        The command that produced the page, e.g. ``"python benchmarks/speed.py --quick"``.
    elapsed_s : float or None
        Wall-clock seconds the command took, when known.

    Returns
    -------
    text : str
        rst text ending with a blank line.
    """
    date = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    lines = [title, "=" * len(title), "", f":Command: ``{command}``",
             f":Machine: {machine_line()}", f":Date: {date} (UTC)"]
    if elapsed_s is not None:
        lines.append(f":Runtime: {elapsed_s:.0f} s")
    return "\n".join(lines) + "\n\n"


def _cell(value, floatfmt: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return floatfmt.format(value) if value == value else "nan"
    try:  # numpy scalars
        import numpy as np

        if isinstance(value, np.floating):
            return _cell(float(value), floatfmt)
        if isinstance(value, np.integer):
            return str(int(value))
    except ImportError:
        pass
    return str(value)


def _columns(rows: list[dict], columns: list[str] | None) -> list[str]:
    if columns is not None:
        return list(columns)
    out: list[str] = []
    for row in rows:
        out.extend(k for k in row if k not in out)
    return out


def rst_table(rows: list[dict], columns: list[str] | None = None, floatfmt: str = "{:.4g}") -> str:
    """An rst ``list-table`` of ``rows``, one dict per row.

    Parameters
    ----------
    rows : list of dict
        Column name -> value. Missing keys and None give empty cells.
    columns : list of str or None
        Columns in order; None takes the keys of the rows in order of first appearance.
    floatfmt : str
        Format of float cells (``str.format`` syntax).

    Returns
    -------
    text : str
        The directive with a header row, ending with a blank line.

    Examples
    --------
    >>> print(rst_table([{"model": "kde", "seconds": 1.23456}]))
    .. list-table::
       :header-rows: 1
    <BLANKLINE>
       * - model
         - seconds
       * - kde
         - 1.235
    <BLANKLINE>
    """
    cols = _columns(rows, columns)
    out = [".. list-table::", "   :header-rows: 1", ""]
    for cells in [cols] + [[_cell(r.get(c), floatfmt) for c in cols] for r in rows]:
        out.append(f"   * - {cells[0]}")
        out.extend(f"     - {c}" for c in cells[1:])
    return "\n".join(out) + "\n"


def text_table(rows: list[dict], columns: list[str] | None = None, floatfmt: str = "{:.4g}") -> str:
    """The same table as :func:`rst_table`, as aligned plain text (for stdout)."""
    cols = _columns(rows, columns)
    cells = [cols] + [[_cell(r.get(c), floatfmt) for c in cols] for r in rows]
    widths = [max(len(row[j]) for row in cells) for j in range(len(cols))]

    def fmt(row):
        # first column left-aligned (names), the others right-aligned (numbers)
        return "  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths)))

    return "\n".join([fmt(cells[0]), "  ".join("-" * w for w in widths)] + [fmt(r) for r in cells[1:]])


def print_table(rows: list[dict], columns: list[str] | None = None, floatfmt: str = "{:.4g}",
                title: str | None = None) -> None:
    """Print :func:`text_table` to stdout, under ``title`` when given, and flush."""
    if title:
        print(f"\n{title}")
    print(text_table(rows, columns, floatfmt), flush=True)


def section(title: str, underline: str = "-") -> str:
    """An rst section title: ``title``, underlined to its length, and a blank line."""
    return f"{title}\n{underline * len(str(title))}\n\n"


def docstring_body(doc: str) -> str:
    """A script's docstring less its title line and from its ``Run:`` paragraph on: the page's intro."""
    return doc.split("\n\n", 1)[1].split("\nRun:")[0]


def write_page(name: str, text: str, out: Path = DOC_DIR) -> Path:
    """Write ``text`` to ``out/<name>.rst`` (creating the folder) and return the path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.rst"
    path.write_text(text if text.endswith("\n") else text + "\n")
    return path


def write_csv(name: str, rows: list[dict], columns: list[str] | None = None, out: Path = DOC_DIR) -> Path:
    """Write the raw rows to ``out/<name>.csv`` (full precision; empty cells for None).

    ``columns`` defaults to the keys of the rows in order of first appearance, so rows of
    several tables can share one file (give them a column saying which table they are from).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=_columns(rows, columns), restval="", extrasaction="ignore")
        writer.writeheader()
        writer.writerows([{k: "" if v is None else v for k, v in r.items()} for r in rows])
    return path


def read_csv(name: str, out: Path = DOC_DIR) -> list[dict]:
    """The rows that :func:`write_csv` wrote to ``out/<name>.csv``, with their types back.

    Integers and floats are parsed, ``True`` and ``False`` become booleans and empty cells None,
    so :func:`rst_table` formats the rows as it formatted the originals.
    """
    def value(cell: str):
        if cell == "":
            return None
        if cell in ("True", "False"):
            return cell == "True"
        if re.fullmatch(r"[+-]?\d+", cell):
            return int(cell)
        if "_" not in cell:  # float() would read "1_000"
            try:
                return float(cell)
            except ValueError:
                pass
        return cell

    with (Path(out) / f"{name}.csv").open(newline="") as f:
        return [{k: value(v) for k, v in row.items()} for row in csv.DictReader(f)]


def grouped_tables(rows: list[dict], key: str, columns: list, floatfmt: str = "{:.4g}") -> str:
    """One rst section per value of ``row[key]`` (in order of appearance): its title, then the
    :func:`rst_table` of its rows over those of ``columns`` that any of them has a value for.

    ``columns`` is a list of names, or a list of such lists: one table each, under the same
    title, to split a wide table (repeat the naming column in each).
    """
    tables = columns if columns and isinstance(columns[0], list) else [columns]
    text = ""
    for group in dict.fromkeys(r[key] for r in rows):
        sub = [r for r in rows if r[key] == group]
        text += section(group)
        for table in tables:
            cols = [c for c in table if any(r.get(c) is not None for r in sub)]
            text += f"{rst_table(sub, cols, floatfmt)}\n"
        text += "\n"
    return text


def publish(name: str, page: str, rows: list[dict], elapsed_s: float, out: Path = DOC_DIR) -> Path:
    """Write the raw rows and the page (``out/<name>.csv`` and ``out/<name>.rst``) and say so.

    The page opens, after its header, with the figure that ``benchmarks/figures.py`` draws for
    it from the csv just written (``out/<name>.png``), where that module has one for ``name``.
    A figure that fails is reported and left out, so that a long run keeps its page;
    ``python benchmarks/figures.py <name> --out <out>`` draws it again.
    """
    import figures  # imported here: it imports this module, and matplotlib

    write_csv(name, rows, out=out)
    try:
        page = figures.place(page, name, figures.opening_figure(name, out))
    except Exception as exc:  # noqa: BLE001 -- whatever the drawing error, the page still gets written
        print(f"\n{name}: its figure failed and is left out of the page ({exc!r})", file=sys.stderr,
              flush=True)
    path = write_page(name, page, out)
    print(f"\nwrote {path} and {name}.csv in {elapsed_s:.0f} s", flush=True)
    return path


def save_figure(fig, name: str, alt: str | None = None, out: Path = DOC_DIR,
                caption: str | None = None) -> str:
    """Save a matplotlib figure as ``out/<name>.png``, close it, and return its rst directive.

    Returns
    -------
    text : str
        ``.. image:: <name>.png`` with its ``:alt:`` option, or with a ``caption`` the
        ``.. figure::`` directive with that caption, ending with a blank line.
    """
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / f"{name}.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    if caption is None:
        return f".. image:: {name}.png\n   :alt: {alt or name}\n\n"
    return f".. figure:: {name}.png\n   :alt: {alt or name}\n\n   {caption}\n\n"


# ------------------------------------------------------------------ time and memory
def median_time(fn, repeats: int = 3):
    """Call ``fn()`` ``repeats`` times; return the median wall-clock seconds and the last result.

    Parameters
    ----------
    fn : callable
        Called without arguments.
    repeats : int
        Number of calls (at least 1).

    Returns
    -------
    seconds : float
        Median of the ``time.perf_counter`` durations.
    result : object
        What the last call returned.

    Examples
    --------
    >>> seconds, result = median_time(lambda: sum(range(10)), repeats=3)
    >>> result, seconds >= 0
    (45, True)
    """
    times, result = [], None
    for _ in range(max(1, int(repeats))):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


_SETUP_MARK = "__report_setup_maxrss__"
_PEAK_MARK = "__report_peak_maxrss__"
_RESULT_MARK = "__report_result__"


#: Run in the child: its peak RSS in KiB. On Linux, VmHWM of /proc/self/status is the peak of
#: the process's own memory map; ``ru_maxrss`` is not used there because the kernel carries the
#: parent's resident size at fork over into the child's ``ru_maxrss``, so a child started from a
#: parent holding torch would report at least the parent's size.
_PEAK_KIB = """
def _report_peak_kib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # macOS reports bytes
"""


def run_fresh(code: str, *, setup: str = "", result: str | None = None,
              timeout: float | None = None) -> dict:
    """Run ``setup`` then ``code`` in a fresh Python subprocess and report its peak memory.

    The child runs with ``python -c``, ``benchmarks/`` on its path (so ``from peers_sklearn
    import ...`` works) and torch's default thread count, and reports its own peak resident size
    after ``setup`` and after ``code``: ``VmHWM`` from ``/proc/self/status`` on Linux,
    ``ru_maxrss`` of ``RUSAGE_SELF`` elsewhere. A fresh process per job keeps one job's
    high-water mark from hiding the next one's. ``getrusage`` figures are avoided on Linux:
    the parent's RUSAGE_CHILDREN is a maximum over every child it ever waited for, so it
    could only grow, and a child's own ``ru_maxrss`` starts at the parent's resident size at
    the fork, so a child of a process holding torch would report at least that.

    Parameters
    ----------
    code : str
        The job, e.g. ``"est.fit(X)"``; it sees the names that ``setup`` defines.
    setup : str
        Imports and data preparation, run first.
    result : str or None
        A Python expression evaluated in the child after ``code``; its value, which must be
        JSON-serialisable, comes back as ``"result"`` (e.g. seconds the child timed).
    timeout : float or None
        Seconds before the child is killed (then ``subprocess.TimeoutExpired`` is raised).

    Returns
    -------
    out : dict
        ``peak_mib`` (peak RSS of the child, MiB), ``setup_mib`` (its high-water mark at the
        end of ``setup``), ``result`` (None without ``result``) and ``stdout``.

    Raises
    ------
    RuntimeError
        When the child exits with a non-zero status (its stderr is in the message).

    Examples
    --------
    >>> out = run_fresh("y = sum(x)", setup="x = list(range(10))", result="y")
    >>> out["result"], out["peak_mib"] >= out["setup_mib"] > 0
    (45, True)
    """
    report = "print({mark!r}, _report_peak_kib(), flush=True)"
    lines = [
        "import sys, json",
        _PEAK_KIB,
        f"sys.path.insert(0, {str(_BENCH_DIR)!r})",
        textwrap.dedent(setup),
        report.format(mark=_SETUP_MARK),
        textwrap.dedent(code),
        report.format(mark=_PEAK_MARK),
    ]
    if result is not None:
        lines.append(f"print({_RESULT_MARK!r}, json.dumps({result}), flush=True)")
    proc = subprocess.run([sys.executable, "-c", "\n".join(lines)], capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"run_fresh: child exited with {proc.returncode}:\n{proc.stderr[-3000:]}")
    out = {"peak_mib": None, "setup_mib": None, "result": None, "stdout": proc.stdout}
    for line in proc.stdout.splitlines():
        mark, _, value = line.partition(" ")
        if mark == _SETUP_MARK:
            out["setup_mib"] = int(value) / 1024
        elif mark == _PEAK_MARK:
            out["peak_mib"] = int(value) / 1024
        elif mark == _RESULT_MARK:
            out["result"] = json.loads(value)
    return out


def peak_rss_mib(code: str, *, setup: str = "", subtract_setup: bool = False,
                 timeout: float | None = None) -> float:
    """Peak resident memory (MiB) of a job run in a fresh Python subprocess (see :func:`run_fresh`).

    Parameters
    ----------
    code : str
        The job, e.g. ``"est.fit(X)"``; it sees the names that ``setup`` defines.
    setup : str
        Imports and data preparation whose memory should not be charged to the job when
        ``subtract_setup`` is True.
    subtract_setup : bool
        Return the peak minus the high-water mark reached at the end of ``setup``: the memory
        the job added on top of the interpreter, the imported libraries and the data.
    timeout : float or None
        Seconds before the child is killed (then ``subprocess.TimeoutExpired`` is raised).

    Returns
    -------
    mib : float
        Peak RSS of the whole child, or its increase over the setup when ``subtract_setup``.

    Examples
    --------
    >>> code = "x = bytearray(200 * 2**20); x[::4096] = b'1' * len(x[::4096])"
    >>> peak_rss_mib(code, subtract_setup=True) > 150
    True
    """
    out = run_fresh(code, setup=setup, timeout=timeout)
    return out["peak_mib"] - out["setup_mib"] if subtract_setup else out["peak_mib"]
