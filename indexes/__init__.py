"""Build, save and load indexes. ``indexes.load(path)`` reads any index directory.

Importing this package loads nothing heavy (the records of :mod:`indexes.types` stay cheap for
``import rag``): ``Index``, ``IndexLoadError``, ``build`` and ``load`` come from
:mod:`indexes.index` on first use; numpy loads then, faiss and torch when an index needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from indexes.index import Index, IndexLoadError, build, load, verify_index

__all__ = ["Index", "IndexLoadError", "build", "load", "verify_index"]


def __getattr__(name: str):
    if name in __all__:
        from indexes import index

        return getattr(index, name)
    raise AttributeError(f"module 'indexes' has no attribute {name!r}")
