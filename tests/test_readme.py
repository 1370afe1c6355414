"""The README's Python code blocks run as they are written, so that the README cannot rot.

The blocks run in order in one namespace, as a reader pastes them. Only the estimator's
defaults are made small (through ``__kwdefaults__``, which ``get_params`` and ``clone`` read,
so the ``GridSearchCV`` block sees them too): the test checks the code, not the model.
"""

import contextlib
import io
import pathlib
import re
import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning

from sklearn_diffgen import DiffusionSupervisedGenerator

from conftest import FAST

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.S | re.M)


@pytest.fixture
def small_defaults(monkeypatch):
    defaults = {**DiffusionSupervisedGenerator.__init__.__kwdefaults__, **FAST, "max_iter": 5, "verbose": 0}
    monkeypatch.setattr(DiffusionSupervisedGenerator.__init__, "__kwdefaults__", defaults)


def test_readme_has_the_blocks_it_promises():
    assert len(BLOCKS) >= 3
    assert any("GridSearchCV" in b for b in BLOCKS) and any("TabularGenerator" in b for b in BLOCKS)


def test_readme_code_blocks_run(small_defaults):
    assert DiffusionSupervisedGenerator().max_iter == 5  # the fixture took effect
    namespace, out = {}, io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(out):
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter=5 stops early on purpose
        for i, block in enumerate(BLOCKS):
            exec(compile(block, f"README.md, python block {i + 1}", "exec"), namespace)
    printed = out.getvalue()
    assert "(500, 2)" in printed and "{'bandwidth': 0." in printed and "Chinstrap" in printed
    assert namespace["X_new"].shape[0] == 100 and len(namespace["y_bal"]) == 300
