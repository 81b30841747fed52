"""The web page and JSON API (``ambigrag serve``; needs the ``web`` extra). See :mod:`rag.web.app`."""

from __future__ import annotations
