"""The docstring examples run and print what they show (they were never run by the suite).

Examples that need a built index or a downloaded model are marked ``# doctest: +SKIP`` in
their module; every other ``>>>`` line is checked here."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("indexes", "retrievers", "readers", "eval", "rag")
MODULES = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                 for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if ">>>" in p.read_text())


def test_the_modules_with_examples_are_found():
    assert {"indexes.types", "retrievers.fusion", "readers.replies", "eval.ambigqa", "rag.pipeline"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (printed above)"
