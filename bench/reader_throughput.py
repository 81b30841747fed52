"""Reader throughput: the span reader against SmolLM2 reading the same passages, same run.

Both read the documents of the first RAMDocs questions (gold-documents setting) question by
question, as the pipeline does: the span reader batches a question's passages; SmolLM2 runs the
LLM evidence step (``SpanExtractor`` in generate mode, one batched call per question, transformers
backend, no cache). Also times a warm ``Pipeline.ask`` with the span reader on the default index.

    python bench/reader_throughput.py --questions 12 --threads 2

Prints passages/s of each reader and the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def _passages(n_questions: int):
    from eval.data import default_path
    from eval.run import record_hits
    from readers.span_train import read_jsonl

    recs = read_jsonl(default_path("ramdocs"))[:n_questions]
    return [(r["question"], record_hits(dict(r, id=str(i)))) for i, r in enumerate(recs)]


def _time(extractor, items, warm_passages: int | None = None) -> tuple[float, int]:
    """Seconds and passages for ``extractor.extract`` over every question, after one warm-up call."""
    extractor.extract(items[0][0], items[0][1][:warm_passages])
    t = time.perf_counter()
    n = 0
    for q, hits in items:
        extractor.extract(q, hits)
        n += len(hits)
    return time.perf_counter() - t, n


def time_span(items) -> tuple[float, int]:
    from readers.span_reader import SpanEvidence

    return _time(SpanEvidence(), items)


def time_llm(items) -> tuple[float, int]:
    import os

    from rag.llm.hf import TransformersLLM
    from rag.llm.llamacpp import smollm2_gguf
    from readers.evidence import SpanExtractor

    path = smollm2_gguf()
    return _time(SpanExtractor(TransformersLLM(os.path.dirname(path), gguf_file=os.path.basename(path))),
                 items, warm_passages=2)


def time_pipeline(repeats: int) -> list[float]:
    from rag.pipeline import Pipeline

    pipe = Pipeline.default()
    qs = ["Who won New Hampshire in 2016?", "Who played the weasley brothers in harry potter?",
          "What sport is Bobby Carpenter associated with?"]
    pipe.ask(qs[0])
    out = []
    for _ in range(repeats):
        for q in qs:
            t = time.perf_counter()
            pipe.ask(q)
            out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--questions", type=int, default=12)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-llm", action="store_true")
    ap.add_argument("--pipeline-repeats", type=int, default=3, help="0 to skip the Pipeline.ask timing")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    items = _passages(args.questions)
    res: dict = {"questions": len(items), "threads": args.threads}
    s, n = time_span(items)
    res["span"] = {"passages": n, "seconds": round(s, 2), "passages_per_s": round(n / s, 1)}
    if not args.skip_llm:
        s2, n2 = time_llm(items)
        res["smollm2"] = {"passages": n2, "seconds": round(s2, 2), "passages_per_s": round(n2 / s2, 2)}
        res["ratio"] = round((n / s) / (n2 / s2), 1)
    if args.pipeline_repeats:
        lat = time_pipeline(args.pipeline_repeats)
        res["pipeline_ask_s"] = {"median": round(statistics.median(lat), 3), "max": round(max(lat), 3),
                                 "n": len(lat)}
    print(json.dumps(res, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
