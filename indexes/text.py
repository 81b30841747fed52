"""Text normalisation shared by retrievers, readers and the metrics.

:func:`normalize_answer` is SQuAD v1.1's (Rajpurkar et al. 2016; also the ``normalize_answer``
of AmbigQA's ``ambigqa_evaluate_script.py`` and AmbigDocs' ``src/eval/eval.py``): lowercase,
drop ASCII punctuation (``string.punctuation``), drop the articles a/an/the, collapse whitespace.
:mod:`eval.normalize` re-exports it beside the PTB tokenizer of the AmbigQA script.
"""

from __future__ import annotations

import re
import string

_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(s: str) -> str:
    """SQuAD normalisation: lower, remove punctuation, remove articles, fix whitespace.

    >>> normalize_answer("The  Beatles!")
    'beatles'
    """
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())
