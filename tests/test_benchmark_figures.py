"""The benchmark pages' opening figures (benchmarks/figures.py): each draws from its committed csv."""

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
DOC = BENCHMARKS.parent / "doc" / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

figures = pytest.importorskip("figures", reason="benchmarks/figures.py needs matplotlib")


@pytest.mark.parametrize("name", sorted(figures.DRAW))
def test_figure_from_committed_csv(name, tmp_path):
    (tmp_path / f"{name}.csv").write_bytes((DOC / f"{name}.csv").read_bytes())
    directive = figures.opening_figure(name, tmp_path)
    png = tmp_path / f"{name}.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert directive.startswith(f".. figure:: {name}.png\n")
    assert f"drawn from ``{name}.csv``" in directive


def test_place_after_header_once():
    page = ("Title\n=====\n\n:Command: ``x``\n:Date: today\n\nText.\n\n"
            ".. image:: p.png\n   :alt: old\n\nMore.\n")
    directive = ".. figure:: p.png\n   :alt: new\n\n   Caption.\n\n"
    once = figures.place(page, "p", directive)
    assert once.index(".. figure:: p.png") > once.index(":Date:")
    assert once.index(".. figure:: p.png") < once.index("Text.")
    assert "old" not in once and once.count("p.png") == 1 and "More." in once
    assert figures.place(once, "p", directive) == once
    assert figures.place(page, "p", None) == page
