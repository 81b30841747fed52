"""``ambigrag serve``: the web page and JSON API on uvicorn (needs the ``web`` extra)."""

from __future__ import annotations

import logging

log = logging.getLogger("ambigrag")


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve the web page and JSON API (pip install -e '.[web]')",
                       description="Ask -> clarify -> answer in a browser; every turn, rating and "
                                   "follow-up is stored in a SQLite feedback database.")
    p.add_argument("--index", help="index directory (default: the default index, built on first use)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--allow-host", metavar="NAME", action="append", default=[],
                   help="on a loopback --host, a Host name to answer besides 127.0.0.1, localhost and [::1] "
                        "(a reverse proxy's; repeatable). Others get a 400, against DNS rebinding")
    p.add_argument("--feedback-db", metavar="PATH",
                   help="SQLite feedback database (default: feedback.sqlite in the user data directory, "
                        "$XDG_DATA_HOME/ambigrag or ~/.local/share/ambigrag)")
    p.add_argument("-k", type=int, default=10, help="passages to read per question (default 10)")
    p.add_argument("--extract", choices=("span", "llm"), default="span",
                   help="who reads the passages: the shipped span reader (default) or the local LLM")
    p.add_argument("--reader-model", metavar="DIR", help="a span reader directory (default: the shipped one)")
    p.add_argument("--no-llm", action="store_true",
                   help="load no LLM (with --extract llm: rank typed candidate spans without it)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> int:
    import importlib.util

    missing = [m for m in ("fastapi", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(f"serve needs {', '.join(missing)}: pip install -e '.[web]'")
    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be in 1..65535, got {args.port}")
    import uvicorn

    from rag.defaults import default_index
    from rag.feedback.store import FeedbackStore, default_db_path
    from rag.pipeline import Pipeline, default_llm
    from rag.web.app import LOOPBACK_HOSTS, PassageLookup, create_app

    _check_port(args.host, args.port)   # before building the default index or loading models, not after
    index_dir = args.index or default_index()
    llm = default_llm() if args.extract == "llm" and not args.no_llm else None
    pipe = Pipeline.from_index(index_dir, llm=llm, k=args.k, extract=args.extract, reader_model=args.reader_model)
    log.info("warming up (loads the encoder and the reader before the first request)")
    pipe.ask("What is this?", interactive=True)
    db = args.feedback_db or default_db_path()
    store = FeedbackStore(db)

    closed = []

    def close() -> None:   # closing checkpoints the write-ahead log into the database file: a copy of it is complete
        if not closed:
            store.close()
            closed.append(True)
            log.info("closed feedback database %s", db)

    hosts = LOOPBACK_HOSTS | {h.lower() for h in args.allow_host} if args.host in LOOPBACK_HOSTS else None
    app = create_app(pipe, store, passages=PassageLookup(index_dir), hosts=hosts, on_close=close)
    log.info("serving http://%s:%d  (index %s, feedback database %s)", args.host, args.port, index_dir, db)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)
    finally:
        close()   # a server that never started has no shutdown; after one, nothing is left to do
    return 0


def _check_port(host: str, port: int) -> None:
    """``ValueError`` naming the address when ``host:port`` cannot be bound (taken, or not this
    machine's address). Every address the name gives is tried, IPv6 ones with ``IPV6_V6ONLY``,
    as uvicorn binds them."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise ValueError(f"--host {host!r}: {e.strerror}") from None
    for family, kind, proto, _, addr in infos:
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as uvicorn binds
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                s.bind(addr)
            except OSError as e:
                raise ValueError(f"cannot serve on {host}:{port}: {e.strerror}"
                                 + (" (another server is using it? try --port)" if e.errno == errno.EADDRINUSE
                                    else "")) from None
