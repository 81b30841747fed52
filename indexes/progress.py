"""Whether a progress bar shows: the caller's ``progress`` flag, overruled by ``ambigrag -q``.

tqdm's own ``TQDM_DISABLE`` cannot do it: it is read once, when tqdm is imported, and an
explicit ``disable=`` argument wins over it anyway.

>>> hidden(True, {"AMBIGRAG_QUIET": "1"}), hidden(True, {}), hidden(False, {})
(True, False, True)
"""

from __future__ import annotations

import os
from collections.abc import Mapping

QUIET = "AMBIGRAG_QUIET"


def hidden(progress: bool = True, environ: Mapping[str, str] | None = None) -> bool:
    """tqdm's ``disable``: True when the caller asked for no bar, or ``AMBIGRAG_QUIET`` is ``1``
    (set by ``ambigrag -q`` for the command it runs)."""
    return not progress or (os.environ if environ is None else environ).get(QUIET) == "1"
