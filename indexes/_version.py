"""The package version, on the bottom floor so that index manifests can record it without
importing :mod:`rag` (which re-exports it). Keep it equal to ``version`` in pyproject.toml."""

__version__ = "0.1.0"
