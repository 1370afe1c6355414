"""benchmarks/fine_tuning.py: its headline arithmetic, its variants check, and a short run that writes its page."""

import doctest
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
fine_tuning = pytest.importorskip("fine_tuning", reason="benchmarks/ needs matplotlib")


def test_doctests():
    assert doctest.testmod(fine_tuning).failed == 0


def test_unknown_variant_is_a_parser_error(tmp_path):
    with pytest.raises(SystemExit):
        fine_tuning.main(["--smoke", "--out", str(tmp_path), "--variants", "fine-tuned,bogus"])


def test_smoke_run_writes_the_page(tmp_path):
    assert fine_tuning.main(["--smoke", "--out", str(tmp_path), "--datasets", "wine", "--variants",
                             "silu fine-tuned"]) == 0
    page = (tmp_path / "fine_tuning.rst").read_text()
    rows = (tmp_path / "fine_tuning.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[1].startswith("wine,defaults,") and rows[2].startswith("wine,silu fine-tuned,")
    epochs = rows[0].split(",").index("fine-tuning epochs")
    assert rows[1].split(",")[epochs] == "0" and int(rows[2].split(",")[epochs]) > 0
    assert ".. figure:: fine_tuning.png" in page and "silu fine-tuned gain" in page
