"""Build, save and load indexes. ``indexes.load(path)`` reads any index directory.

Importing this package loads numpy only; faiss and torch load when an index needs them.
"""

from __future__ import annotations

from indexes.index import Index, IndexLoadError, build, load, verify_index

__all__ = ["Index", "IndexLoadError", "build", "load", "verify_index"]
