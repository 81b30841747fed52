"""Optional numba kernel for BM25 top-k (used when numba is installed: ``pip install -e ".[fast]"``).

Per query it adds each query term's postings into a dense score buffer, remembers which
documents it touched, selects the top k of those with a small binary heap, and clears only the
touched entries. Same scores and tie order (lower row first) as the scipy path, without
building a sparse result matrix. Queries of a batch run in parallel (``numba.prange``).
"""

from __future__ import annotations

import os

import numpy as np


def _build():
    import numba

    @numba.njit(cache=True, nogil=True)
    def _better(sa, ra, sb, rb):
        return sa > sb or (sa == sb and ra < rb)

    @numba.njit(cache=True, nogil=True)
    def topk_one(indptr, indices, data, q_terms, q_counts, k, buf, seen, touched):
        n_touched = 0
        for j in range(len(q_terms)):
            t, c = q_terms[j], q_counts[j]
            for p in range(indptr[t], indptr[t + 1]):
                d = indices[p]
                if not seen[d]:
                    seen[d] = True
                    touched[n_touched] = d
                    n_touched += 1
                buf[d] += c * data[p]
        m = min(k, n_touched)
        hs = np.empty(m, dtype=np.float32)  # min-heap on (score, -row): the worst kept hit on top
        hr = np.empty(m, dtype=np.int64)
        size = 0
        for i in range(n_touched):
            d = touched[i]
            s = buf[d]
            buf[d] = 0.0
            seen[d] = False
            if size < m:
                hs[size], hr[size] = s, d
                size += 1
                x = size - 1
                while x > 0:
                    par = (x - 1) // 2
                    if _better(hs[par], hr[par], hs[x], hr[x]):
                        hs[par], hs[x] = hs[x], hs[par]
                        hr[par], hr[x] = hr[x], hr[par]
                        x = par
                    else:
                        break
            elif _better(s, d, hs[0], hr[0]):
                hs[0], hr[0] = s, d
                x = 0
                while True:
                    lo, hi, w = 2 * x + 1, 2 * x + 2, x
                    if lo < size and _better(hs[w], hr[w], hs[lo], hr[lo]):
                        w = lo
                    if hi < size and _better(hs[w], hr[w], hs[hi], hr[hi]):
                        w = hi
                    if w == x:
                        break
                    hs[w], hs[x] = hs[x], hs[w]
                    hr[w], hr[x] = hr[x], hr[w]
                    x = w
        order = np.argsort(-hs[:size], kind="mergesort")  # score desc; ties fixed below
        out_s, out_r = hs[order], hr[order]
        for a in range(1, size):  # insertion pass fixes row order among equal scores
            b = a
            while b > 0 and out_s[b] == out_s[b - 1] and out_r[b] < out_r[b - 1]:
                out_r[b], out_r[b - 1] = out_r[b - 1], out_r[b]
                b -= 1
        return out_s, out_r

    @numba.njit(cache=True, parallel=True)
    def topk_batch(indptr, indices, data, q_indptr, q_terms, q_counts, k, n_docs, n_chunks,
                   out_s, out_r, out_n):
        nq = len(q_indptr) - 1
        for ch in numba.prange(n_chunks):  # one set of buffers per chunk, reused by its queries
            buf = np.zeros(n_docs, dtype=np.float32)
            seen = np.zeros(n_docs, dtype=np.bool_)
            touched = np.empty(n_docs, dtype=np.int64)
            for qi in range(ch, nq, n_chunks):
                lo, hi = q_indptr[qi], q_indptr[qi + 1]
                s, r = topk_one(indptr, indices, data, q_terms[lo:hi], q_counts[lo:hi], k, buf, seen, touched)
                out_n[qi] = len(s)
                out_s[qi, : len(s)] = s
                out_r[qi, : len(r)] = r

    return topk_batch


_KERNEL = None


def available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def search(matrix, qm, k: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Top-k per row of the (queries, terms) count matrix ``qm`` (see module docstring)."""
    global _KERNEL
    if _KERNEL is None:
        _KERNEL = _build()
    qm = qm.tocsr()
    qm.sum_duplicates()
    nq = qm.shape[0]
    out_s = np.zeros((nq, k), dtype=np.float32)
    out_r = np.zeros((nq, k), dtype=np.int64)
    out_n = np.zeros(nq, dtype=np.int64)
    _KERNEL(np.asarray(matrix.indptr, dtype=np.int64), matrix.indices, matrix.data,
            qm.indptr.astype(np.int64), qm.indices.astype(np.int64), qm.data.astype(np.float32), k,
            matrix.shape[1], max(1, min(nq, os.cpu_count() or 1)), out_s, out_r, out_n)
    return ([out_s[i, :out_n[i]].astype(np.float64) for i in range(nq)],
            [out_r[i, :out_n[i]] for i in range(nq)])
