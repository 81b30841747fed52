"""Text normalisation shared by the metrics.

* :func:`normalize_answer` (defined in :mod:`indexes.text`, re-exported here) is SQuAD v1.1's
  (Rajpurkar et al. 2016; also the ``normalize_answer`` of AmbigQA's ``ambigqa_evaluate_script.py``
  and AmbigDocs' ``src/eval/eval.py``): lowercase, drop ASCII punctuation (``string.punctuation``),
  drop the articles a/an/the, collapse whitespace.
* :func:`ptb_tokenize` is a Python stand-in for the Stanford CoreNLP 3.4.1 PTBTokenizer
  (``-preserveLines -lowerCase``) that AmbigQA's script runs from a Java jar, followed by the
  script's removal of punctuation tokens. See its docstring for the known differences.
"""

from __future__ import annotations

import re

from indexes.text import normalize_answer

__all__ = ["PTB_PUNCTUATIONS", "normalize_answer", "ptb_normalized", "ptb_tokenize", "squad_tokens"]


def squad_tokens(s: str) -> list[str]:
    """``normalize_answer(s).split()``; empty for an empty or None string (AmbigDocs ``get_tokens``)."""
    return normalize_answer(s).split() if s else []


# Punctuation tokens the AmbigQA script drops after PTB tokenisation (pycocoevalcap PUNCTUATIONS).
# The list is case-sensitive and holds "-LRB-" etc. in upper case, while "-lowerCase" makes
# CoreNLP emit "-lrb-": so bracket tokens survive and SQuAD normalisation turns them into
# "lrb"/"rrb". We reproduce that quirk.
PTB_PUNCTUATIONS = {"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",",
                    ":", "-", "--", "...", ";"}
_BRACKETS = {"(": "-lrb-", ")": "-rrb-", "[": "-lsb-", "]": "-rsb-", "{": "-lcb-", "}": "-rcb-",
             '"': "''"}

_PTB_TOKEN = re.compile(
    r"""(?x)
    (?:[a-z]\.){2,}(?![a-z])          # abbreviations like u.s.
  | \d+(?:[.,:]\d+)+                  # numbers with internal separators: 1,000  3.5  10:30
  | n't(?![a-z])                      # clitic n't
  | '(?:s|re|ve|ll|d|m)(?![a-z])      # clitics 's 're 've 'll 'd 'm
  | [\w]+(?:-[\w]+)*?(?=n't(?![a-z]))  # the word before n't (do|n't)
  | [\w]+(?:-[\w]+)*                  # words, hyphenated words kept whole (PTB 3.4 behaviour)
  | \.\.\.|--|``|''                   # multi-char punctuation
  | \S                                # any other single character
    """
)


def ptb_tokenize(sentence: str) -> list[str]:
    """PTB-style tokens of ``sentence``, lowercased, with the script's punctuation tokens removed.

    Matches CoreNLP's PTBTokenizer on what matters after SQuAD normalisation: clitics split
    (``don't`` -> ``do n't``, ``harry's`` -> ``harry 's``), hyphenated words kept whole, numbers
    with separators kept whole, brackets and quotes split off. Known differences: no list of
    multi-word or abbreviation exceptions beyond dotted initials (``u.s.``), straight quotes are
    not told apart as opening/closing (both are removed anyway), and ``cannot``/``gonna`` are
    not split. Brackets become ``-lrb-`` etc., which the script's upper-case list does not remove.

    >>> ptb_tokenize("Who's the U.S. president in 2020, don't you know?")
    ['who', "'s", 'the', 'u.s.', 'president', 'in', '2020', 'do', "n't", 'you', 'know']
    """
    toks = [_BRACKETS.get(t, t) for t in _PTB_TOKEN.findall(sentence.replace("\n", " ").lower())]
    return [t for t in toks if t not in PTB_PUNCTUATIONS]


def ptb_normalized(sentence: str) -> str:
    """What the AmbigQA script compares: PTB tokens joined by spaces, then SQuAD-normalised."""
    return normalize_answer(" ".join(ptb_tokenize(sentence)))
