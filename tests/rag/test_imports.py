from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "faiss", "transformers", "sentence_transformers", "datasets", "langchain_core", "scipy")


def test_importing_every_package_is_cheap():
    code = ("import sys, rag, rag.cli, rag.types, rag.protocols, indexes, retrievers, readers, eval; "
            "import retrievers.factory, retrievers.fusion, indexes.dense, indexes.bm25; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
