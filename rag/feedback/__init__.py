"""Feedback kept for learning: a SQLite store of interactions, turns, reader logs, ratings and
follow-ups (:mod:`rag.feedback.store`), and a classifier of follow-up messages
(:mod:`rag.feedback.implicit`). Importing this package loads nothing heavy."""

from __future__ import annotations
