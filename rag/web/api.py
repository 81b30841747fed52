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

from rag.types import Answer, Passage

_OTHER = re.compile(r"\bthe other( one)?\b", re.I)
MAX_TEXT = 1000            # characters of a question, reply or follow-up
MAX_COMMENT = 2000         # characters of a rating comment
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
        """A correction that describes a reading offered earlier ("no, I meant the hockey player",
        "the other one") gets that reading; a remark on the answer ("thanks", "that's wrong") is
        recorded and the answer stays (``followup.asked`` is null); any other follow-up is asked
        as a question of its own, made to stand alone (:func:`retrievers.followup.contextualize`)."""
        from rag.feedback.implicit import CLASSIFIER_VERSION, classify
        from rag.validation import validate_question
        from retrievers.followup import contextualize, is_question, is_remark, strip_preamble

        with _bad_request():   # as /api/ask answers the same input
            validate_question(body.text, what="text")
        iid = body.interaction_id
        with _http_errors(iid):
            shown, before, offered = self.store.shown(iid), self.store.question(iid), self.store.offered(iid)
        label = classify(body.text)
        classifier = f"{CLASSIFIER_VERSION}/{label.source}"
        picked, statement = None, not is_question(strip_preamble(body.text))
        if label.label in ("rephrase", "negative") and offered and statement:
            picked = self._pick_reading(offered[0], shown[-1] if shown else None, body.text)
        if picked is None and label.label in ("positive", "negative") and is_remark(body.text) and shown \
                and shown[-1].kind != "clarify":    # a clarifying question waits for a reply, not thanks
            return self._remark(iid, body.text, label, classifier, shown[-1])
        asked = offered[1] if picked else contextualize(body.text, before)
        ans = picked or self._answer(asked)
        with _http_errors(iid):
            new_id = self.store.add_followup(iid, body.text, label.label, label.confidence, classifier, ans, question=asked,
                                             picked_from=offered[2] if picked else None)
        out = payload(new_id, ans, self.passages)
        out["parent_id"] = iid
        out["followup"] = _followup_info(label, asked)
        return out

    def _remark(self, iid: str, text: str, label, classifier: str, shown: Answer) -> dict:
        """A follow-up that only comments on the answer ("thanks", "that's wrong"): recorded as
        implicit feedback on ``iid``, and the answer shown stays (no new question is asked)."""
        with _http_errors(iid):
            self.store.add_followup(iid, text, label.label, label.confidence, classifier, None)
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
        if _OTHER.search(text) and len(offered.readings) == 2 and last is not None and len(last.readings) == 1:
            other = [i for i, r in enumerate(offered.readings) if r.label != last.readings[0].label]
            text = str(other[0] + 1) if len(other) == 1 else text
        picked = self.pipeline.reply(state, text)
        return picked if picked.kind == "single" else None


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
    """The store's errors as HTTP errors: 404 unknown interaction, 409 nothing to reply to."""
    from fastapi import HTTPException

    from rag.feedback.store import NotAwaitingReply, UnknownInteraction

    try:
        yield
    except UnknownInteraction:
        raise HTTPException(404, f"unknown interaction_id {interaction_id!r}") from None
    except NotAwaitingReply as e:
        raise HTTPException(409, str(e)) from None


def register_routes(app, pipeline, store, passages) -> None:
    """Bind :class:`Handlers` to the ``/api/*`` paths."""
    h = Handlers(pipeline, store, passages)
    app.api_route("/api/health", methods=["GET", "HEAD"])(h.health)   # HEAD for health checks
    app.post("/api/ask")(h.ask)
    app.post("/api/reply")(h.reply)
    app.post("/api/feedback")(h.feedback)
    app.post("/api/followup")(h.followup)


def register_errors(app) -> None:
    """Every error as ``{"error": "..."}``: 400 malformed JSON, 422 invalid fields, the
    HTTPException's status otherwise, 500 (logged) for anything unexpected."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

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
            parts.append(f"{loc}: {e.get('msg', 'invalid')}")
        return JSONResponse({"error": "; ".join(parts)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc: StarletteHTTPException):
        detail = str(exc.detail)
        if exc.status_code == 400 and detail == FASTAPI_BODY_ERROR:  # FastAPI's words for a body not in UTF-8
            detail = "the request body is not UTF-8 JSON"
        return JSONResponse({"error": detail}, status_code=exc.status_code, headers=exc.headers)  # e.g. 405 Allow

    @app.exception_handler(Exception)
    async def crash(request, exc: Exception):
        log.exception("error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": "internal server error"}, status_code=500)
