"""Run the examples of every docstring of the package (they are documentation: they must run).

Part of ``tests`` so that the README's test command runs them; the same as
``python -m pytest --doctest-modules src/spikewise``.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import spikewise

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(spikewise.__path__, prefix="spikewise.")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
