"""Routes, request bodies and JSON error handlers of the web API (used by :func:`rag.web.app.create_app`).

Bodies are pydantic models with strict strings: a number where text belongs, an empty or
whitespace-only text, a text over ``MAX_TEXT`` characters or an unknown field is a 422, malformed
JSON a 400, each with ``{"error": "..."}`` naming the field.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import replace
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StrictStr, StringConstraints

from rag.feedback.implicit import CLASSIFIER_VERSION, FollowupLabel
from rag.feedback.store import AwaitingReply
from rag.types import Answer, Passage, Reading

_OTHER = re.compile(r"\bthe other( one)?\b", re.I)
_OTHER_ASKED = re.compile(r"(?:(?:and\s+|so\s+)?(?:what|how)\s+about\s+)?the\s+other(?:\s+one)?\s*[?.!]*", re.I)
MAX_TEXT = 1000            # characters of a question, reply or follow-up
MAX_COMMENT = 2000         # characters of a rating comment
SURE = 0.8
"""The naive-Bayes confidence from which a follow-up no rule labels counts as a remark on the
answer (unknown words get the shipped set's prior, about 0.6-0.7 "positive": "Paris", "hmm",
"American football"; remarks it knows score 0.89-0.97: "makes sense", "got it", "love it")."""
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'")   # no other site may frame the page and steer clicks into ratings
SECURITY_HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff",
                    "x-frame-options": "DENY"}   # X-Frame-Options: frame-ancestors for browsers without CSP 2
FASTAPI_BODY_ERROR = "There was an error parsing the body"  # fastapi/routing.py, a body it cannot decode

log = logging.getLogger("ambigrag.web")

Text = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)]
InteractionId = Annotated[StrictStr, StringConstraints(min_length=1, max_length=64)]


def payload(interaction_id: str, ans: Answer, passages: Callable[[str], Passage | None] | None) -> dict[str, Any]:
    """The JSON the API returns for an answer (see the module docstring)."""
    from readers.clarify import option_text

    number = {pid: i for i, pid in enumerate(ans.sources, start=1)}

    def cite(pid: str) -> dict[str, Any]:
        p = passages(pid) if passages else None
        return {"id": pid, "title": p.title if p else "", "text": p.text if p else "", "number": number.get(pid)}

    return {
        "interaction_id": interaction_id,
        "kind": "answer" if ans.kind == "single" else ans.kind,
        "text": ans.text,
        "readings": [{"label": r.label, "answer": r.answer, "citations": [cite(c) for c in r.citations]}
                     for r in ans.readings],
        "clarifying_question": ans.clarifying_question,
        "options": [option_text(r) for r in ans.readings] if ans.kind == "clarify" else [],
        "reason": ans.reason,
        "question": ans.question,
        "model_version": ans.model_version,
    }


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AskBody(_Body):
    question: Text


class ReplyBody(_Body):
    interaction_id: InteractionId
    text: Text


class FeedbackBody(_Body):
    interaction_id: InteractionId
    rating: Literal["correct", "partial", "wrong"]
    comment: Annotated[StrictStr, StringConstraints(strip_whitespace=True, max_length=MAX_COMMENT)] | None = None


class FollowupBody(_Body):
    interaction_id: InteractionId
    text: Text


class Handlers:
    """The work behind each ``/api/*`` route. Plain methods: FastAPI runs them in its thread pool,
    and each returns only after the store committed its rows."""

    def __init__(self, pipeline, store, passages):
        self.pipeline, self.store, self.passages = pipeline, store, passages

    def health(self) -> dict:
        return {"status": "ok", "interactions": self.store.count("interactions")}

    def interaction(self, interaction_id: str) -> dict:
        """The latest answer of an interaction, as the page shows it (after a reload)."""
        with _http_errors(interaction_id):
            ans, parent = self.store.state(interaction_id), self.store.parent(interaction_id)
        return {**payload(interaction_id, ans, self.passages), "parent_id": parent}

    def ask(self, body: AskBody) -> dict:
        ans = self._answer(body.question)
        return payload(self.store.new_interaction(body.question, ans), ans, self.passages)

    def reply(self, body: ReplyBody) -> dict:
        with _http_errors(body.interaction_id):
            state, version = self.store.clarify_state(body.interaction_id)
            ans = self.pipeline.reply(state, body.text)
            self.store.add_reply(body.interaction_id, version, body.text, ans)
        return payload(body.interaction_id, ans, self.passages)

    def feedback(self, body: FeedbackBody) -> dict:
        with _http_errors(body.interaction_id):
            self.store.add_rating(body.interaction_id, body.rating, body.comment or None)
        return {"interaction_id": body.interaction_id, "rating": body.rating, "stored": True}

    def followup(self, body: FollowupBody) -> dict:
        """A statement that names a reading offered earlier ("no, I meant the hockey player", "2",
        "the other one", also asked: "what about the other one?" or the first question again, "when
        was the other one drafted?") gets that reading, unless it is the reading just shown
        ("right, the hockey one" confirms it); a new question about "the other one" of two readings
        ("where was the other one born?") is asked about that reading by its label and stored as
        ``new_topic`` (it says nothing of the answer shown); a remark on the answer
        ("thanks", "that's wrong"), by a rule or a naive-Bayes label of at least :data:`SURE`, is
        recorded and the answer stays (``followup.asked`` is null); any other follow-up is asked
        as a question of its own, made to stand alone (:func:`retrievers.followup.contextualize`).
        The label stored is what was acted on (:meth:`_judge`)."""
        from fastapi import HTTPException

        from rag.validation import validate_question
        from retrievers.followup import contextualize

        with _bad_request():   # as /api/ask answers the same input
            validate_question(body.text, what="text")
        iid = body.interaction_id
        with _http_errors(iid):
            shown, before, offered = self.store.shown(iid), self.store.question(iid), self.store.offered(iid)
        picked, label, remark = self._judge(body.text, shown, offered)
        if remark:
            return self._remark(iid, body.text, label, shown[-1])
        other = _other_reading(shown[-1] if shown else None, offered[0] if offered else None)
        if picked is None and other is not None and _OTHER.search(body.text):   # "where was the other one born?"
            asked, label = _OTHER.sub(other.label, body.text, count=1), FollowupLabel("new_topic", 1.0, "other-asked")
        else:
            asked = offered[1] if picked else contextualize(body.text, before)
        if len(asked) > MAX_TEXT:
            raise HTTPException(422, f"text: made to stand on its own ({asked[:60]!r}...), the follow-up is "
                                     f"{len(asked)} characters long; the limit is {MAX_TEXT}")
        ans = picked or self._answer(asked)
        with _http_errors(iid):
            new_id = self.store.add_followup(iid, body.text, label.label, label.confidence, _classifier(label), ans,
                                             question=asked, picked_from=offered[2] if picked else None)
        out = payload(new_id, ans, self.passages)
        out["parent_id"] = iid
        out["followup"] = _followup_info(label, asked)
        return out

    def _judge(self, text: str, shown: list[Answer], offered) -> tuple[Answer | None, FollowupLabel, bool]:
        """``(the reading picked or None, the label to store, whether it is a remark)``. Stored is
        what was acted on: a picked reading is a ``rephrase``; a positive or negative label for a
        follow-up asked as a question is ``new_topic`` when the naive Bayes was unsure of it
        (words it never saw got its prior: "hmm", "Paris") or when a clarifying question was
        still waiting (no answer to judge yet)."""
        from rag.feedback.implicit import classify
        from retrievers.followup import is_question, is_remark, strip_preamble

        label, last = classify(text), (shown[-1] if shown else None)
        picked = None
        if offered and (not is_question(strip_preamble(text)) or _OTHER_ASKED.fullmatch(text.strip())
                        or _asks_again(text, offered[1])):
            picked = self._pick_reading(offered[0], last, text)
            if picked is not None and last is not None and last.kind == "single" \
                    and [r.label for r in picked.readings] == [r.label for r in last.readings]:
                picked = None   # it names the reading shown: a confirmation, not a correction
        if picked is not None:
            return picked, FollowupLabel("rephrase", 1.0, "picked-reading"), False
        sure = label.source.startswith("rule") or label.confidence >= SURE
        judges, pending = label.label in ("positive", "negative"), last is not None and last.kind == "clarify"
        if judges and sure and not pending and last is not None and is_remark(text):
            return None, label, True
        if judges and pending:
            return None, FollowupLabel("new_topic", label.confidence, f"clarify-pending-{label.label}"), False
        if not sure and label.label != "new_topic":
            return None, FollowupLabel("new_topic", label.confidence, f"nb-unsure-{label.label}"), False
        return None, label, False

    def _remark(self, iid: str, text: str, label, shown: Answer) -> dict:
        """A follow-up that only comments on the answer ("thanks", "that's wrong"): recorded as
        implicit feedback on ``iid``, and the answer shown stays (no new question is asked)."""
        with _http_errors(iid):
            self.store.add_followup(iid, text, label.label, label.confidence, _classifier(label), None)
        out = payload(iid, shown, self.passages)
        out["followup"] = _followup_info(label, None)
        return out

    def _answer(self, text: str) -> Answer:
        with _bad_request():
            return self.pipeline.ask(text, interactive=True)

    def _pick_reading(self, offered: Answer, last: Answer | None, text: str) -> Answer | None:
        """The reading of ``offered`` that ``text`` names, as a reply to it would pick it; with two
        readings, "the other one" is the one ``last`` did not answer. None when it names none."""
        state = replace(offered, kind="clarify", clarifying_question=offered.clarifying_question or offered.text,
                        turn=0)
        other = _other_reading(last, offered)
        if other is not None and _OTHER.search(text):
            text = str(offered.readings.index(other) + 1)
        picked = self.pipeline.reply(state, text)
        return picked if picked.kind == "single" else None


def _other_reading(last: Answer | None, offered: Answer | None) -> Reading | None:
    """With two readings offered and one of them shown last, the other one ("the other one")."""
    if offered is None or len(offered.readings) != 2 or last is None or len(last.readings) != 1:
        return None
    other = [r for r in offered.readings if r.label != last.readings[0].label]
    return other[0] if len(other) == 1 else None


def _asks_again(text: str, question: str) -> bool:
    """Whether ``text`` is ``question`` about "the other one" ("when was the other one drafted?"
    after "When was Bobby Carpenter drafted?"): a pick of the other reading, not a new question."""
    from retrievers.followup import strip_preamble, subject_of

    subject = subject_of(question)
    if subject is None or not _OTHER.search(text):
        return False
    return _words(_OTHER.sub(subject, strip_preamble(text), count=1)) == _words(question)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _classifier(label: FollowupLabel) -> str:
    """The store's ``classifier`` column: the classifier's version and what decided the label."""
    return f"{CLASSIFIER_VERSION}/{label.source}"


def _followup_info(label, asked: str | None) -> dict:
    """The ``followup`` field of a reply: the implicit label and what was asked (None: nothing,
    the follow-up was a remark on the answer shown)."""
    return {"label": label.label, "confidence": label.confidence, "source": label.source, "asked": asked}


@contextmanager
def _bad_request():
    """A ``ValueError`` (a question or text the validation refuses) as a 400 with its message."""
    from fastapi import HTTPException

    try:
        yield
    except ValueError as e:
        raise HTTPException(400, str(e)) from None


@contextmanager
def _http_errors(interaction_id: str):
    """The store's errors as HTTP errors: 404 unknown interaction, 409 nothing to reply to, or a
    clarifying question still waiting for its reply (nothing to rate or follow up on yet)."""
    from fastapi import HTTPException

    from rag.feedback.store import NotAwaitingReply, UnknownInteraction

    try:
        yield
    except UnknownInteraction:
        raise HTTPException(404, f"unknown interaction_id {interaction_id!r}") from None
    except (NotAwaitingReply, AwaitingReply) as e:
        raise HTTPException(409, str(e)) from None


def register_routes(app, pipeline, store, passages) -> None:
    """Bind :class:`Handlers` to the ``/api/*`` paths."""
    h = Handlers(pipeline, store, passages)
    app.api_route("/api/health", methods=["GET", "HEAD"])(h.health)   # HEAD for health checks
    app.get("/api/interaction/{interaction_id}")(h.interaction)
    app.post("/api/ask")(h.ask)
    app.post("/api/reply")(h.reply)
    app.post("/api/feedback")(h.feedback)
    app.post("/api/followup")(h.followup)


def _message(e: dict[str, Any]) -> str:
    """pydantic's message for one invalid field, in this API's words where pydantic's mislead
    ("String should have at least 1 character" for a question of spaces)."""
    value = e.get("input")
    if e.get("type") == "string_too_short" and isinstance(value, str):
        return "is only whitespace" if value else "is empty"
    return e.get("msg", "invalid")


def register_errors(app) -> None:
    """Every error as ``{"error": "..."}``: 400 malformed JSON, 422 invalid fields, the
    HTTPException's status otherwise, 500 (logged) for anything unexpected."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from retrievers.llm import ModelError

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc: RequestValidationError):
        errors = exc.errors()
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if request.method == "POST" and not (ctype == "application/json" or ctype.endswith("+json")):  # curl -d: a form
            return JSONResponse({"error": f"send the body as JSON with Content-Type: application/json "
                                          f"(got {ctype or 'none'})"}, status_code=415)
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse({"error": "malformed JSON in the request body"}, status_code=400)
        parts = []
        for e in errors:
            loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
            parts.append(f"{loc}: {_message(e)}")
        return JSONResponse({"error": "; ".join(parts)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc: StarletteHTTPException):
        detail = str(exc.detail)
        if exc.status_code == 400 and detail == FASTAPI_BODY_ERROR:  # FastAPI's words for a body not in UTF-8
            detail = "the request body is not UTF-8 JSON"
        return JSONResponse({"error": detail}, status_code=exc.status_code, headers=exc.headers)  # e.g. 405 Allow

    @app.exception_handler(ModelError)
    async def reader_failed(request, exc: ModelError):   # the model failed, not the request: its message
        log.error("%s %r: %s", request.method, request.url.path, exc)
        return JSONResponse({"error": str(exc)}, status_code=500)

    @app.exception_handler(Exception)
    async def crash(request, exc: Exception):   # answered outside the middleware: the page's headers here too
        log.exception("error on %s %r", request.method, request.url.path)
        return JSONResponse({"error": "internal server error"}, status_code=500,
                            headers=SECURITY_HEADERS)
