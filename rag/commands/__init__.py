"""Subcommands of the ``ambigrag`` CLI that compose the whole pipeline (so they sit on the top
floor): ``eval score|retrieval|ambiguity|run`` and ``train ambiguity``. See :mod:`rag.cli`."""
