"""The ``ambigrag`` command line. Run ``ambigrag --help`` or ``ambigrag COMMAND --help``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import textwrap

log = logging.getLogger("ambigrag")


def _add_index_build(sub) -> None:
    p = sub.add_parser("build", help="build an index directory from a corpus",
                       description="Build BM25 and/or dense indexes over a JSONL, TSV or HF-dataset corpus.")
    p.add_argument("corpus", help="corpus file or HF dataset directory")
    p.add_argument("--out", required=True, help="index directory to write (replaced atomically)")
    p.add_argument("--format", choices=("jsonl", "tsv", "hf"), help="corpus format (default: by suffix)")
    p.add_argument("--bm25", action=argparse.BooleanOptionalAction, default=True, help="build BM25 (default on)")
    p.add_argument("--dense", action=argparse.BooleanOptionalAction, default=True, help="build dense (default on)")
    p.add_argument("--encoder", help="sentence-transformers model id or path (default all-MiniLM-L6-v2, shipped)")
    p.add_argument("--device", choices=("cpu", "cuda"), help="encoding device (default: cuda if available)")
    p.add_argument("--batch-size", type=int, default=64, help="encoding batch size")
    _add_encoder_backend(p, "torch", "encoder backend: torch (sentence-transformers, fp32; default) or "
                                     "onnx-int8 (the onnx extra: ONNX Runtime, int8 weights, CPU, ~2x faster)")
    p.add_argument("--index-type", choices=("auto", "flat", "hnsw", "ivf"), default="auto",
                   help="FAISS index type (auto: flat up to 100k passages, then IVF-Flat)")
    p.add_argument("--bm25-variant", choices=("okapi", "lucene"), default="okapi", help="BM25 idf variant")
    p.add_argument("--stem", metavar="LANG", default="english",
                   help="Snowball stemmer language (default english); 'none' to disable")
    p.add_argument("--keep-stopwords", action="store_true", help="do not drop English stopwords")
    p.add_argument("--skip-bad", action="store_true", help="skip and count bad records instead of failing")
    p.add_argument("--max-record-bytes", type=int, default=None, metavar="N",
                   help="largest corpus record (line or row) accepted, in bytes (default 1 MiB); "
                        "a larger one is an error, or skipped with --skip-bad")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local (this process; default) or ray: BM25 statistics per shard and encoding on "
                        "an actor pool on a Ray cluster (pip install -e '.[ray]')")
    p.add_argument("--workers", type=int, default=2, metavar="N",
                   help="ray engine: CPUs of the local cluster, encoder actors and shards (default 2)")
    p.add_argument("--address", metavar="ADDR",
                   help="ray engine: join this cluster (e.g. ray://head:10001) instead of starting a local one")
    p.set_defaults(func=_cmd_index_build)


def _add_encoder_backend(p, default: str | None, help: str) -> None:
    p.add_argument("--encoder-backend", choices=("torch", "onnx-int8"), default=default, help=help)
    p.add_argument("--encoder-threads", type=int, metavar="N",
                   help="onnx-int8: ONNX Runtime intra-op threads (default: one per physical core)")


def _cmd_index_build(args) -> int:
    from indexes.bm25 import BM25Params
    from indexes.corpus import DEFAULT_MAX_RECORD_BYTES, record_limit
    from indexes.dense import DenseParams, pick_device, require_encoder
    from indexes.index import build
    from indexes.onnx_encoder import make_encoder
    from indexes.paths import check_outputs
    from indexes.tokenize import Tokenizer
    from rag.validation import require_at_least

    if args.engine == "local" and args.address:
        raise ValueError("--address needs --engine ray")
    check_outputs({}, {"the corpus": args.corpus}, dirs={"--out": args.out})   # never inside the shared data
    require_at_least((("--workers", args.workers), ("--encoder-threads", args.encoder_threads),
                      ("--batch-size", args.batch_size), ("--max-record-bytes", args.max_record_bytes)))
    if args.encoder_threads is not None and args.encoder_backend == "torch":   # it was silently ignored
        raise ValueError("--encoder-threads sets ONNX Runtime's threads (--encoder-backend onnx-int8); "
                         "the torch backend uses torch's own (OMP_NUM_THREADS)")
    if args.device and args.dense:
        pick_device(args.device)   # a CUDA torch lacks: refused before the corpus is read
    if args.engine == "ray" and args.encoder_backend != "torch":
        raise ValueError(f"--engine ray encodes with the torch backend only, not {args.encoder_backend}; "
                         "use --engine local for an int8 ONNX index")
    enc = make_encoder(args.encoder, args.encoder_backend, device=args.device, batch_size=args.batch_size,
                       threads=args.encoder_threads)
    if args.dense and args.engine == "local":   # a model that cannot be had fails now, not after the corpus
        require_encoder(enc)                       # (ray's workers load it, perhaps from their own disks)
    limit = DEFAULT_MAX_RECORD_BYTES if args.max_record_bytes is None else args.max_record_bytes
    options = dict(fmt=args.format, bm25=args.bm25, dense=args.dense, encoder=enc,
                   tokenizer=Tokenizer(stopwords=None if args.keep_stopwords else "en",
                                       stemmer=None if args.stem.lower() == "none" else args.stem),
                   bm25_params=BM25Params(variant=args.bm25_variant),
                   dense_params=DenseParams(index_type=args.index_type), skip_bad=args.skip_bad)
    with record_limit(limit):
        if args.engine == "ray":
            from indexes.ray_build import build_ray, require_ray

            try:
                require_ray()
            except ModuleNotFoundError as e:  # the ray extra is not installed: a message, not a trace
                raise ValueError(str(e)) from e
            out = build_ray(args.corpus, args.out, workers=args.workers, address=args.address, **options)
        else:
            out = build(args.corpus, args.out, **options)
    manifest = json.loads((out / "manifest.json").read_text())
    skipped = sum(manifest["corpus"]["skipped"].values())
    print(f"built {out}: {manifest['n_docs']} passages, kinds {', '.join(manifest['kinds'])}"
          + (f", {skipped} bad records skipped {manifest['corpus']['skipped']}" if skipped else "")
          + f" ({manifest['build_seconds']} s)")
    return 0


def _add_index_verify(sub) -> None:
    p = sub.add_parser("verify", help="hash every file of an index against its manifest",
                       description="Check paths and sha256 of every file the manifest lists; print OK or "
                                   "FAIL per file; exit 1 if any fails. Verified files are stamped in the "
                                   "cache, so later loads skip hashing them until they change.")
    p.add_argument("dir", help="index directory")
    p.set_defaults(func=_cmd_index_verify)


def _cmd_index_verify(args) -> int:
    from indexes.index import verify_index

    results = verify_index(args.dir)
    for name, error in results:
        print(f"OK    {name}" if error is None else f"FAIL  {name}: {error}")
    files = [error for name, error in results if name != "structure"]
    failed = sum(error is not None for error in files)
    broken = any(error is not None for name, error in results if name == "structure")
    print(f"{args.dir}: {len(files) - failed} of {len(files)} files OK" + (f", {failed} FAILED" if failed else "")
          + ("; structure FAILED" if broken else ""))
    return 1 if failed or broken else 0


def _add_search(sub) -> None:
    p = sub.add_parser("search", help="search an index",
                       description="Print ranked hits. With one positional argument it is the query and "
                                   "the default index (built on first use) is searched.")
    p.add_argument("args", nargs="+", metavar="[INDEX_DIR] QUERY")
    p.add_argument("-k", type=int, default=10, help="passages to retrieve (default 10; as in ask)")
    p.add_argument("--mode", choices=("auto", "bm25", "dense", "hybrid"), default="auto",
                   help="retrieval (default auto: hybrid, or the one part a --no-dense/--no-bm25 index has)")
    p.add_argument("--fuse", choices=("convex", "rrf", "dbsf"), default="convex", help="hybrid fusion")
    p.add_argument("--device", choices=("cpu", "cuda"))
    _add_encoder_backend(p, None, "query encoder backend (default: the one the index was built with; "
                                  "another is refused)")
    p.add_argument("--json", action="store_true", help="one JSON object per hit")
    p.set_defaults(func=_cmd_search)


def _cmd_search(args) -> int:
    from pathlib import Path

    import indexes
    from indexes.layout import is_index
    from rag.defaults import default_index
    from rag.validation import require_at_least, validate_k, validate_question
    from retrievers.factory import retriever_for

    if len(args.args) > 2:
        raise ValueError("search takes [INDEX_DIR] QUERY; quote a query with spaces")
    index_dir, query = (args.args if len(args.args) == 2 else (None, args.args[0]))
    if index_dir is None and is_index(Path(query)):   # it built the default index to search for the path
        raise ValueError(f"search {query}: a query is missing (search [INDEX_DIR] QUERY)")
    query, k = validate_question(query, what="query"), validate_k(args.k)
    require_at_least([("--encoder-threads", args.encoder_threads)])
    index = indexes.load(index_dir or default_index(device=args.device), device=args.device)
    enc = index.encoder(device=args.device, backend=args.encoder_backend, threads=args.encoder_threads) \
        if index.dense is not None and args.mode != "bm25" else None
    hits = retriever_for(index, args.mode, fuse=args.fuse, device=args.device, encoder=enc).retrieve([query], k)[0]
    for h in hits:
        if args.json:
            print(json.dumps(h.to_dict(), ensure_ascii=False))
        else:
            snippet = textwrap.shorten(h.passage.text, 160, placeholder=" …")
            print(f"{h.rank:>3}  {h.score:8.4f}  [{h.passage.id}] {h.passage.title}\n       {snippet}")
    if not hits:
        print("no hits", file=sys.stderr)
    return 0


def _add_ask(sub) -> None:
    p = sub.add_parser("ask", help="answer a question (complete answer, clarifying question or abstention)",
                       description="Retrieve, read every reading the evidence supports, and answer.")
    p.add_argument("question")
    p.add_argument("--index", help="index directory (default: the default index, built on first use)")
    p.add_argument("-k", type=int, default=10, help="passages to retrieve and read (default 10; as in search)")
    p.add_argument("--mode", choices=("auto", "bm25", "dense", "hybrid"), default="auto",
                   help="retrieval (default auto: hybrid, or the one part a --no-dense/--no-bm25 index has)")
    p.add_argument("--interactive", action="store_true",
                   help="ask a clarifying question when the question is ambiguous; read the reply on stdin")
    p.add_argument("--extract", choices=("span", "llm"), default="span",
                   help="who reads the passages: the trained span reader (default, shipped) or the "
                        "local LLM (the llm extra)")
    p.add_argument("--reader-model", metavar="DIR", help="a span reader directory (default: the shipped one)")
    p.add_argument("--policy", metavar="DIR", help="a learned answer/clarify/abstain policy (ambigrag eval policy "
                   "--out DIR: DIR/policy); default: the ambiguity classifier's threshold rule")
    p.add_argument("--no-llm", action="store_true",
                   help="load no LLM (with --extract llm: rank typed candidate spans without it)")
    p.add_argument("--rewrite", metavar="NAMES", help="query rewriting before retrieval: comma-separated "
                                                      "interpretations,evidence,decompose,icl")
    p.add_argument("--encoder-backend", choices=("torch", "onnx-int8"),
                   help="query encoder backend (default: the one the index was built with; another is refused)")
    p.add_argument("--json", action="store_true", help="print the structured Answer as JSON")
    p.set_defaults(func=_cmd_ask)


SNIPPET = 100   # characters of a cited passage shown under a text answer


def _print_answer(ans, as_json: bool, passages=None) -> None:
    """The answer's text; under it each cited passage ("  [1] Title: first words..."), looked up
    with ``passages`` (id -> Passage or None); with ``as_json`` the Answer as one JSON line."""
    if as_json:
        print(json.dumps(ans.to_dict(), ensure_ascii=False))
        return
    print(ans.text)
    if ans.kind == "abstain" and ans.reason:
        print(f"(abstained: {ans.reason})")
    if ans.kind in ("single", "multi") and passages is not None:
        cited = {c for r in ans.readings for c in r.citations}
        for n, pid in enumerate(ans.sources, start=1):
            p = passages(pid) if pid in cited else None
            if p is not None:
                text = " ".join(p.text.split())
                text = text if len(text) <= SNIPPET else text[:SNIPPET].rsplit(" ", 1)[0] + "…"
                print(f"  [{n}] {p.title or pid}: {text}")


def _cmd_ask(args) -> int:
    from rag.defaults import default_index
    from rag.pipeline import Pipeline, default_llm
    from rag.validation import validate_k, validate_question

    question, k = validate_question(args.question), validate_k(args.k)  # before any loading
    wants_llm = args.extract == "llm" or "interpretations" in (args.rewrite or "")
    llm = default_llm() if wants_llm and not args.no_llm else None
    pipe = Pipeline.from_index(args.index or default_index(), llm=llm, k=k, rewrite=args.rewrite,
                               mode=args.mode, extract=args.extract, reader_model=args.reader_model,
                               action_policy=args.policy, encoder_backend=args.encoder_backend)
    hits = pipe.retrieve([question])[0]
    ans = pipe.read(question, hits, interactive=args.interactive)
    while ans.kind == "clarify":
        _print_answer(ans, args.json)
        sys.stdout.flush()
        reply = sys.stdin.readline()
        if not reply:
            raise ValueError("no reply on stdin to the clarifying question")
        ans = pipe.reply(ans, reply.strip())
    _print_answer(ans, args.json, {h.passage.id: h.passage for h in hits}.get)   # the passages read, not the index
    return 0


def build_parser() -> argparse.ArgumentParser:
    from rag import __version__

    parser = argparse.ArgumentParser(prog="ambigrag", description=__doc__)
    parser.add_argument("--version", action="version", version=f"ambigrag {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on stderr (no progress bars)")
    sub = parser.add_subparsers(dest="command", required=True)
    index = sub.add_parser("index", help="build and verify indexes").add_subparsers(dest="index_cmd", required=True)
    _add_index_build(index)
    _add_index_verify(index)
    _add_search(sub)
    _add_ask(sub)
    train = sub.add_parser("train", help="train models").add_subparsers(dest="train_cmd", required=True)
    from rag.commands.ambiguity_cli import register_train

    register_train(train)
    from rag.commands.train_reader_cli import register as register_train_reader

    register_train_reader(train)
    from rag.commands.eval_cli import register as register_eval

    register_eval(sub)
    from rag.feedback.cli import register as register_feedback
    from rag.web.cli import register as register_serve

    register_serve(sub)
    register_feedback(sub)
    from rag.learn_cli import register as register_learn

    register_learn(sub)
    from rag.commands.learn_policy_cli import register as register_learn_policy

    register_learn_policy(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit status. Run as the program (``argv`` None, as the
    ``ambigrag`` script and ``python -m rag.cli`` do) it exits through :func:`fast_exit`."""
    code = _main(argv)
    if argv is None:
        fast_exit(code)
    return code


def fast_exit(code: int) -> None:
    """Flush output and exit without Python's finalisation, which costs about 1.6 CPU seconds
    once torch and transformers are imported (measured in ``bench/cold_ask.py``). Everything
    the commands write is closed before they return (the LLM cache commits per write)."""
    import os

    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe (ambigrag ... | head): nothing left to deliver
        pass
    logging.shutdown()
    os._exit(code)


def error_text(e: Exception) -> str:
    """The message of a bad-input error; an ``OSError`` from ``open`` reads as the path and what is
    wrong with it, not as the errno.

    >>> error_text(FileNotFoundError(2, "No such file or directory", "/nope.jsonl"))
    '/nope.jsonl: no such file or directory'
    >>> error_text(ValueError("--lr must be > 0, got -1.0"))
    '--lr must be > 0, got -1.0'
    """
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        return f"{e.filename}: {e.strerror[0].lower()}{e.strerror[1:]}"
    return str(e)


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.quiet:   # transformers' "Loading weights" bars; read when huggingface_hub is imported
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("sentence_transformers", "transformers", "httpx", "faiss", "datasets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from indexes.progress import QUIET
    from retrievers.llm import ModelError

    quiet_before = os.environ.get(QUIET)
    if args.quiet:   # our progress bars (indexes.progress.hidden), for this command only
        os.environ[QUIET] = "1"
    try:
        return int(args.func(args) or 0)
    except ModelError as e:  # a model failed (the reader's, the rewriter's): its message, status 1 (not the user's fault)
        print(f"ambigrag: error: {e}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError,
            PermissionError) as e:  # bad input: a message, not a trace
        print(f"ambigrag: error: {error_text(e)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader of stdout stopped (`| head`): quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as e:  # the system's (a full disk, a file too large): its message, not a trace
        print(f"ambigrag: error: {error_text(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ambigrag: interrupted", file=sys.stderr)
        return 130
    finally:   # main() runs in-process too (tests, notebooks): -q must not outlive its command
        if quiet_before is None:
            os.environ.pop(QUIET, None)
        else:
            os.environ[QUIET] = quiet_before


if __name__ == "__main__":
    sys.exit(main())
