"""Numba kernel for BM25 top-k, used for indexes of ``KERNEL_MIN_DOCS`` passages and more.

Per query it adds each query term's postings into a dense score buffer, remembers which
documents it touched, selects the top k of those with a small binary heap, and clears only the
touched entries. Same float32 sums in the same order, hence the same scores and tie order
(lower row first), as the scipy path, without building a sparse result matrix. The queries of
a batch run in parallel (``numba.prange``) over per-worker buffers kept between calls.
This module imports numba; ``indexes.bm25`` imports it only when a large index is searched.
"""

from __future__ import annotations

import os
import threading

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _better(sa, ra, sb, rb):
    return sa > sb or (sa == sb and ra < rb)


@numba.njit(cache=True, nogil=True)
def _sift_up(hs, hr, x):
    while x > 0:
        par = (x - 1) // 2
        if _better(hs[par], hr[par], hs[x], hr[x]):
            hs[par], hs[x] = hs[x], hs[par]
            hr[par], hr[x] = hr[x], hr[par]
            x = par
        else:
            break


@numba.njit(cache=True, nogil=True)
def _sift_down(hs, hr, size):
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


@numba.njit(cache=True, nogil=True)
def _topk_one(indptr, indices, data, q_terms, q_counts, k, buf, seen, touched, out_s, out_r):
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
    hs = np.empty(m, dtype=np.float32)  # min-heap: the worst kept hit on top
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
            _sift_up(hs, hr, size - 1)
        elif _better(s, d, hs[0], hr[0]):
            hs[0], hr[0] = s, d
            _sift_down(hs, hr, size)
    for n in range(size - 1, -1, -1):  # pop the heap: worst first, so fill from the back
        out_s[n], out_r[n] = hs[0], hr[0]
        hs[0], hr[0] = hs[n], hr[n]
        _sift_down(hs, hr, n)
    return size


@numba.njit(cache=True, parallel=True)
def _topk_batch(indptr, indices, data, q_indptr, q_terms, q_counts, k, bufs, seens, toucheds,
                out_s, out_r, out_n):
    nq = len(q_indptr) - 1
    n_chunks = bufs.shape[0]
    for ch in numba.prange(n_chunks):
        for qi in range(ch, nq, n_chunks):
            lo, hi = q_indptr[qi], q_indptr[qi + 1]
            out_n[qi] = _topk_one(indptr, indices, data, q_terms[lo:hi], q_counts[lo:hi], k,
                                  bufs[ch], seens[ch], toucheds[ch], out_s[qi], out_r[qi])


# numba's default (workqueue) threading layer must not run parallel kernels from two threads at
# once, so calls are serialised; each call already uses every core. The lock also guards the
# scratch buffers, which are all zero / False between calls and are kept for the next call.
_LOCK = threading.Lock()
_BUFFERS: dict[str, tuple] = {}


def _buffers(n_workers: int, n_docs: int):
    b = _BUFFERS.get("scratch")
    if b is None or b[0].shape[0] < n_workers or b[0].shape[1] != n_docs:
        b = (np.zeros((n_workers, n_docs), np.float32), np.zeros((n_workers, n_docs), np.bool_),
             np.empty((n_workers, n_docs), np.int64))
        _BUFFERS["scratch"] = b
    return tuple(x[:n_workers] for x in b)


def search(matrix, qm, k: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Top-k per row of the (queries, terms) count matrix ``qm`` (see module docstring)."""
    qm = qm.tocsr()
    qm.sum_duplicates()
    nq = qm.shape[0]
    workers = max(1, min(nq, os.cpu_count() or 1))
    out_s = np.zeros((nq, k), dtype=np.float32)
    out_r = np.zeros((nq, k), dtype=np.int64)
    out_n = np.zeros(nq, dtype=np.int64)
    with _LOCK:
        bufs, seens, touched = _buffers(workers, matrix.shape[1])
        _topk_batch(np.asarray(matrix.indptr, dtype=np.int64), matrix.indices, matrix.data,
                    qm.indptr.astype(np.int64), qm.indices.astype(np.int64), qm.data.astype(np.float32),
                    k, bufs, seens, touched, out_s, out_r, out_n)
    return ([out_s[i, :out_n[i]].astype(np.float64) for i in range(nq)],
            [out_r[i, :out_n[i]] for i in range(nq)])
