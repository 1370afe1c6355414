"""The package as a whole: every module compiles with warnings as errors, and the public names resolve."""

import pathlib
import warnings

import pytest

import sklearn_diffgen

MODULES = sorted(pathlib.Path(sklearn_diffgen.__file__).parent.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_compiles_with_warnings_as_errors(path):
    # an invalid escape in a docstring is a SyntaxWarning on Python 3.12+ (an error under -W error)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile(path.read_text(), str(path), "exec")


def test_public_names_resolve():
    assert len(MODULES) > 10
    for name in sklearn_diffgen.__all__:
        assert getattr(sklearn_diffgen, name) is not None
    assert issubclass(sklearn_diffgen.InversionWarning, UserWarning)
