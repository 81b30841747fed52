"""Where the default corpus, the user cache and the default index live.

The corpus, data and cache paths are defined in :mod:`indexes.paths` and re-exported here.

* Default corpus: ``$AMBIGRAG_CORPUS`` if set, else ``../shared/data/ambigqa_passages/corpus.jsonl``
  next to the repository checkout (found by walking up from this file and from the working
  directory).
* Cache: ``$AMBIGRAG_CACHE``, else ``$XDG_CACHE_HOME/ambigrag``, else ``~/.cache/ambigrag``.
* Default index: built on first use into the cache (a few minutes on a CPU, with progress
  bars) and reused afterwards. Its folder name carries the corpus checksum, so a changed
  corpus gets a fresh index. The checksum is hashed once per corpus file state and then read
  from a stamp in the cache (:mod:`indexes.cache`), so finding the index costs no hashing.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from indexes.paths import (
    CORPUS_REL,
    DATA_REL,
    cache_dir,
    corpus_digest,
    default_corpus,
    shared_data_dir,
)

__all__ = ["CORPUS_REL", "DATA_REL", "cache_dir", "corpus_digest", "default_corpus", "default_index",
           "default_index_path", "shared_data_dir"]

log = logging.getLogger("ambigrag")


def default_index_path(corpus: str | Path | None = None) -> Path:
    from indexes.dense import DEFAULT_ENCODER
    from indexes.index import FORMAT_VERSION

    corpus = Path(corpus) if corpus else default_corpus()
    from indexes.tokenize import Tokenizer

    settings = hashlib.sha256(repr(Tokenizer().to_dict()).encode()).hexdigest()[:6]
    key = f"{corpus_digest(corpus)}-{DEFAULT_ENCODER.split('/')[-1]}-v{FORMAT_VERSION}-{settings}"
    return cache_dir() / "indexes" / f"{corpus.stem}-{key}"


def default_index(corpus: str | Path | None = None, *, device: str | None = None,
                  progress: bool = True) -> Path:
    """Path of the default hybrid index, building it on first use."""
    from indexes.index import build
    from indexes.layout import is_index

    corpus = Path(corpus) if corpus else default_corpus()
    path = default_index_path(corpus)
    if not is_index(path):
        log.warning("building the default index for %s into %s (first use; takes a few minutes "
                    "on a CPU)", corpus, path)
        build(corpus, path, device=device, progress=progress)
    return path
