"""`examforge serve`: the web drill page and its JSON API.

    GET  /                     the drill page (static HTML + JS; KaTeX served from /static)
    GET  /api/types            the question types a drill can use, with their forms
    GET  /api/variant?type=ID[&seed=N][&difficulty=easy|medium|hard][&form=free|mc|tf]
                               the question, without its answer (a missing seed is drawn here
                               and returned, so the link reproduces it)
    GET  /api/variant?set=NAME[&type=ID][&seed=N][&difficulty=..][&form=..]
                               a variant of the drill set NAME: its type picked from the seed
                               (or the given type, which must be in the set), the set's
                               difficulty and form unless given
    GET  /api/sets             the drill sets (`serve --sets FILE`; examforge.drill.sets)
    POST /api/check            {"type", "seed", "difficulty", "form", "answer"} -> verdict,
                               the right answer and the worked solution (an open question's
                               verdict is "compare with the model answer": never graded)
    GET  /api/solution?type=ID&seed=N[&difficulty=..][&form=..]
                               the answer and worked solution without an attempt ("show
                               solution": the page counts it as given up)
    GET  /healthz              200 {"ready": true} once the server is warmed up, else 503

The server keeps no state: every request names (type, seed, difficulty, form) and the
exercise is rebuilt from them, so any number of processes can serve behind a load balancer.
Bad requests get a 4xx JSON {"error": message}; nothing answers with a traceback. Every response,
the page and the static files included, carries SECURITY_HEADERS. `/api/check` reads only
`application/json` (optionally `; charset=utf-8`) bodies of at most MAX_BODY bytes, nested at most
MAX_JSON_DEPTH deep, with numbers of bounded length; the answer itself is read by
`answers.parse`, whose time is linear in its (bounded) length. `examforge.drill.server` runs the
app under uvicorn with time and size limits on the requests themselves.

Serving: the handlers are `async def` on purpose. Their work is CPU-bound Python (1-5 ms), so
each worker process runs one request at a time, first come first served; Starlette's threadpool
would only interleave them under the GIL (measured on 2 cores: 119 instead of about 500
variants/s, p95 374 ms). Parallelism comes from worker processes, one per core (`--workers 2`
on 2 cores: 3 workers or 1 gave a worse p95). `create_served_app` warms every type up and
freezes the startup objects out of the garbage collector; checks now and then close their
keep-alive connection so that clients spread over the workers (see RECONNECT_AFTER_CHECKS).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import random
import re
import secrets
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from examforge import __version__, registry
from examforge.drill import answers, markup, sets as drill_sets
from examforge.drill.exercise import (DIFFICULTIES, FORM_NAMES, Exercise, answer_kind, drill_forms, exercise,
                                     is_open, parse_seed)
from examforge.drill.topics import subject_of, topic_name
from examforge.errors import ExamforgeError, InputError

log = logging.getLogger("examforge.drill")
MAX_BODY = 64 * 1024  # a check's body is under 1 KiB
MAX_JSON_DEPTH = 4  # the object, the answer, a grid's rows, and one spare
MAX_JSON_NUMBER_CHARS = 100  # a JSON number's digits: int() and float() of them stay cheap
# A keep-alive connection stays on the worker process that accepted it, so a burst of new
# connections can all land on one worker (measured: 20 of 20) while the others idle. Closing a
# connection after a check now and then (like nginx's keepalive_requests) lets clients reconnect
# to whichever worker is free, so the load spreads over the workers within seconds. Only after a
# check: a variant and its check stay on one worker, whose LRU cache has the exercise.
RECONNECT_AFTER_CHECKS = 50  # on average; the client reconnects (HTTP "Connection: close")
_reconnect = random.Random()
STATIC = Path(str(resources.files("examforge.drill") / "static"))

# On every response. Everything comes from this server: no CDN, nothing loaded from elsewhere;
# no other site may frame the page, and browsers take every response for its declared type.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                               "form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
_RAW_SECURITY_HEADERS = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()]


class SecurityHeaders:
    """ASGI middleware: SECURITY_HEADERS on every response (the page, the API, static files and
    error responses), unless the response set one of them itself."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                present = {name for name, _ in headers.raw}
                headers.raw.extend(pair for pair in _RAW_SECURITY_HEADERS if pair[0] not in present)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class DrillStaticFiles(StaticFiles):
    """The vendored KaTeX, the script and the style sheet; not index.html, which is a template
    only `/` renders (served raw it would show `{{version}}`)."""

    HIDDEN = frozenset({"index.html"})

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        if os.path.normcase(os.path.normpath(path)) in self.HIDDEN:
            return "", None
        return super().lookup_path(path)


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})})


# -- what the browser may see ---------------------------------------------------------------------


def public_exercise(ex: Exercise) -> dict[str, Any]:
    """The question without its answer: no solution, no answer values, no mistake names."""
    data: dict[str, Any] = {
        **ex.query,
        "summary": getattr(ex.qtype, "summary", ""),
        "forms": list(drill_forms(ex.qtype)),
        "question_html": markup.to_html(ex.question_latex),
        "answer_format": ex.fmt.public(),
        "permalink": permalink(ex),
    }
    if ex.form in ("mc", "multi"):
        data["choices"] = [{"letter": c.letter, "html": markup.inline_html(c.latex)} for c in ex.variant.choices]
    elif ex.form == "tf":
        data["choices"] = [{"letter": "T", "html": "True"}, {"letter": "F", "html": "False"}]
    return data


def permalink(ex: Exercise) -> str:
    q = ex.query
    return f"/?type={q['type']}&seed={q['seed']}&difficulty={q['difficulty']}&form={q['form']}"


def revealed(ex: Exercise) -> dict[str, Any]:
    """The right answer and the worked solution (and an open question's model answer and rubric)."""
    data: dict[str, Any] = {**ex.query, "topic": ex.qtype.topic, "solution_html": markup.to_html(ex.solution_latex)}
    if ex.is_open:
        data["expected_html"] = ""
        data["model_answer_html"] = markup.to_html(ex.answer_latex)
        data["rubric"] = [{"points": p, "html": markup.inline_html(t)} for p, t in ex.rubric()]
    else:
        data["expected_html"] = markup.inline_html(ex.expected_latex)
        if "".join(ex.answer_latex.split()) != "".join(ex.expected_latex.split()):
            data["answer_html"] = markup.to_html(ex.answer_latex)  # the full answer, when it says more
    return data


def checked(ex: Exercise, response: Any) -> dict[str, Any]:
    try:
        verdict, given = ex.check(response)
    except answers.AnswerSyntaxError as err:
        raise ApiError(422, str(err)) from None
    shown = answers.show_as(given, ex.fmt)
    data = {
        **revealed(ex),
        "correct": verdict.correct,
        "graded": verdict.correct is not None,  # False: an open question, compared by the student
        "message": verdict.message,
        "given": shown,
    }
    if getattr(verdict, "credit", None) is not None and ex.form == "multi":
        data["credit"] = verdict.credit
    if getattr(verdict, "mistake", None):
        data["mistake"] = verdict.mistake
        data["mistakes"] = list(verdict.mistakes or (verdict.mistake,))
    if getattr(verdict, "why", None):
        data["why"] = verdict.why
    return data


# -- handlers ---------------------------------------------------------------------------------------


def _types_payload() -> list[dict[str, Any]]:
    out = []
    for t in registry.all_types():
        forms = drill_forms(t)
        if forms:
            out.append({"id": t.id, "topic": t.topic, "topic_name": topic_name(t.topic),
                        "subject": subject_of(t), "summary": getattr(t, "summary", ""), "mirrors": getattr(t, "mirrors", ""),
                        "forms": list(forms), "answer_kind": "open" if is_open(t) else answer_kind(t.id)})
    return out


async def api_solution(request: Request) -> Response:
    q = request.query_params
    unknown = sorted(set(q.keys()) - {"type", "seed", "difficulty", "form"})
    if unknown:
        raise ApiError(400, f"unknown parameter {unknown[0]!r}; use type, seed, difficulty, form")
    type_id, seed = _one(q, "type"), _one(q, "seed")
    if not type_id or seed in (None, ""):
        raise ApiError(400, "type and seed are required, e.g. /api/solution?type=conv.output_shape&seed=7")
    ex = exercise(type_id, seed, _one(q, "difficulty") or "medium", _one(q, "form") or None)
    return _json(revealed(ex))


async def healthz(request: Request) -> Response:
    ready = bool(getattr(request.app.state, "ready", False))
    return _json({"ready": ready, "version": __version__}, 200 if ready else 503)


async def api_types(request: Request) -> Response:
    return _json({"types": request.app.state.types, "difficulties": list(DIFFICULTIES), "forms": FORM_NAMES})


def _one(params, name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise ApiError(400, f"{name} is given {len(values)} times; give it once")
    return values[0] if values else None


async def api_variant(request: Request) -> Response:
    q = request.query_params
    unknown = sorted(set(q.keys()) - {"type", "seed", "difficulty", "form", "set"})
    if unknown:
        raise ApiError(400, f"unknown parameter {unknown[0][:40]!r}; use type, seed, difficulty, form, set")
    set_name = _one(q, "set")
    if set_name is not None:
        return _json(set_variant(request.app.state.sets, set_name, q))
    type_id = _one(q, "type")
    if not type_id:
        raise ApiError(400, "type is required, e.g. /api/variant?type=conv.output_shape (see /api/types)")
    seed = _one(q, "seed")
    ex = exercise(
        type_id,
        secrets.randbelow(2**31) if seed in (None, "") else seed,
        _one(q, "difficulty") or "medium",
        _one(q, "form") or None,
    )
    return _json(public_exercise(ex))


def set_variant(sets: dict[str, drill_sets.DrillSet], name: str, q) -> dict[str, Any]:
    """A variant of a drill set: the seed picks the type (unless one of the set's types is
    given); the set's difficulty and form apply unless the query gives them. A type that is not
    drilled in the set's form gets its own default form."""
    drill_set = sets.get(name)
    if drill_set is None:
        known = ", ".join(sets) or "none: start the server with --sets FILE"
        raise ApiError(404, f"unknown drill set {name[:40]!r}; the sets are: {known}")
    seed = _one(q, "seed")
    seed = parse_seed(secrets.randbelow(2**31) if seed in (None, "") else seed)
    given = _one(q, "type")
    type_id = given or drill_sets.pick_type(drill_set, seed)
    if type_id not in drill_set.type_ids:
        raise ApiError(400, f"type {type_id[:60]!r} is not in the drill set {name!r} (see /api/sets)")
    form = _one(q, "form") or None
    if form is None and drill_set.form in drill_forms(registry.get(type_id)):
        form = drill_set.form
    ex = exercise(type_id, seed, _one(q, "difficulty") or drill_set.difficulty, form)
    data = public_exercise(ex)
    data["set"] = name
    # the link keeps the set; a type the seed picked is left out (the seed picks it again), so
    # the page's "any question of the set" stays selected when the link is opened
    data["permalink"] = (f"/?set={name}" + (f"&type={ex.qtype.id}" if given else "")
                         + f"&seed={ex.seed}&difficulty={ex.difficulty}&form={ex.form}")
    return data


async def api_sets(request: Request) -> Response:
    return _json({"sets": [s.public() for s in request.app.state.sets.values()]})


def is_json_content_type(value: str) -> bool:
    """`application/json`, optionally with `; charset=utf-8`, and nothing else: a form or
    `text/plain` (which any web page can make a browser send) is refused."""
    mime, _, params = value.partition(";")
    if mime.strip().lower() != "application/json":
        return False
    if not params.strip():
        return True
    name, eq, charset = params.partition("=")
    return bool(eq) and name.strip().lower() == "charset" and charset.strip().strip('"').lower() in ("utf-8", "utf8")


# Strings are skipped whole (an unterminated one runs to the end: the match never fails and
# restarts, so the scan is linear); what is left of the body is reduced to its brackets.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_EMPTY_PAIR = re.compile(rb"\[\]|\{\}")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _nested_too_deep(body: bytes) -> bool:
    """Whether the JSON text nests brackets deeper than MAX_JSON_DEPTH (or leaves some open):
    each pass removes the innermost pairs, so a body within the limit is empty after that many
    passes. Linear passes over the body, before the parser recurses into it."""
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    for _ in range(MAX_JSON_DEPTH):
        if not brackets:
            return False
        brackets = _EMPTY_PAIR.sub(b"", brackets)
    return bool(brackets)


class _BadNumber(ValueError):
    pass


def _json_int(text: str) -> int:
    if len(text) > MAX_JSON_NUMBER_CHARS:
        raise _BadNumber(f"a number in the body has {len(text)} digits; at most {MAX_JSON_NUMBER_CHARS}")
    return int(text)


def _json_float(text: str) -> float:
    if len(text) > MAX_JSON_NUMBER_CHARS:
        raise _BadNumber(f"a number in the body has {len(text)} characters; at most {MAX_JSON_NUMBER_CHARS}")
    return float(text)


def _json_constant(name: str) -> None:
    raise _BadNumber(f"{name} is not a number JSON allows")


def parse_json_body(body: bytes) -> Any:
    """The body as JSON, read within bounds: UTF-8, at most MAX_JSON_DEPTH deep, numbers of at
    most MAX_JSON_NUMBER_CHARS characters, no NaN or Infinity, no unpaired surrogates. ApiError
    (400) otherwise. Linear in the length of the body, which the caller bounds."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ApiError(400, f"the body is not UTF-8: byte {err.start} is not valid") from None
    if _nested_too_deep(body):
        raise ApiError(400, f"the body is not valid JSON within limits: its brackets nest deeper than "
                            f"{MAX_JSON_DEPTH} levels, or are not all closed")
    try:
        data = json.loads(text, parse_int=_json_int, parse_float=_json_float, parse_constant=_json_constant)
    except json.JSONDecodeError as err:
        raise ApiError(400, f"the body is not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})") from None
    except _BadNumber as err:
        raise ApiError(400, f"the body is not accepted: {err}") from None
    except RecursionError:  # not expected after _nested_too_deep; never a 500 all the same
        raise ApiError(400, f"the body nests brackets deeper than {MAX_JSON_DEPTH} levels") from None
    if _SURROGATE_ESCAPE.search(body):  # "\ud800" alone is valid JSON but no text: refuse it here
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(400, "the body contains an unpaired surrogate (\\ud800-\\udfff); send text as UTF-8") from None
    return data


async def read_body(request: Request) -> bytes:
    """The request body, at most MAX_BODY bytes (413 beyond, without reading the rest)."""
    length = request.headers.get("content-length")
    if length is not None:
        if not (length.isascii() and length.isdigit()):
            raise ApiError(400, "the Content-Length header is not a number")
        if len(length) > 12 or int(length) > MAX_BODY:
            raise ApiError(413, f"the request body is larger than {MAX_BODY} bytes")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise ApiError(413, f"the request body is larger than {MAX_BODY} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise ApiError(400, "the connection closed before the whole body arrived") from None
    return b"".join(chunks)


async def api_check(request: Request) -> Response:
    if not is_json_content_type(request.headers.get("content-type", "")):
        raise ApiError(415, "send the answer as JSON (Content-Type: application/json)")
    data = parse_json_body(await read_body(request))
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object with type, seed, difficulty, form and answer")
    unknown = sorted(set(data) - {"type", "seed", "difficulty", "form", "answer"})
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0][:40]!r}; use type, seed, difficulty, form, answer")
    for name in ("type", "seed", "answer"):
        if name not in data:
            raise ApiError(400, f"field {name!r} is required")
    for name in ("type", "difficulty", "form"):
        if name in data and data[name] is not None and not isinstance(data[name], str):
            raise ApiError(400, f"field {name!r} must be a string")
    ex = exercise(data["type"], data["seed"], data.get("difficulty") or "medium", data.get("form") or None)
    response = _json(checked(ex, data["answer"]))
    if _reconnect.random() * RECONNECT_AFTER_CHECKS < 1:
        response.headers["Connection"] = "close"
    return response


async def favicon(request: Request) -> Response:
    return Response(status_code=204)


async def index(request: Request) -> Response:
    return HTMLResponse(request.app.state.index_html, headers={"Cache-Control": "no-cache"})


# -- errors: always JSON with a message, never a traceback --------------------------------------------


async def _api_error(request: Request, exc: ApiError) -> Response:
    return _json({"error": exc.message}, exc.status)


async def _input_error(request: Request, exc: InputError) -> Response:
    message = str(exc)
    status = 404 if message.startswith("unknown question type") else 400
    return _json({"error": message}, status)


def _path(request: Request) -> str:
    """The path asked for, short (request.url would parse the Host header, which may be junk)."""
    path = request.scope.get("path", "")
    return path if len(path) <= 80 else path[:77] + "..."


async def _examforge_error(request: Request, exc: ExamforgeError) -> Response:
    log.error("examforge error on %s: %s", _path(request), exc)
    return _json({"error": str(exc)}, 500)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    messages = {404: f"not found: {_path(request)}", 405: f"method {request.method[:20]} is not allowed here"}
    return _json({"error": messages.get(exc.status_code, exc.detail)}, exc.status_code, exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    # Starlette calls this from outside the middleware stack: the security headers are set here.
    log.exception("internal error on %s", _path(request))
    return _json({"error": f"internal error ({type(exc).__name__}); the server log has the details"}, 500,
                 SECURITY_HEADERS)


def create_app(sets: dict[str, drill_sets.DrillSet] | None = None) -> Starlette:
    """The app; `sets` are the drill sets (default: the file named by $EXAMFORGE_DRILL_SETS)."""
    app = Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/favicon.ico", favicon, methods=["GET"]),
            Route("/api/types", api_types, methods=["GET"]),
            Route("/api/variant", api_variant, methods=["GET"]),
            Route("/api/sets", api_sets, methods=["GET"]),
            Route("/api/check", api_check, methods=["POST"]),
            Route("/api/solution", api_solution, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Mount("/static", app=DrillStaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={
            ApiError: _api_error,
            InputError: _input_error,
            ExamforgeError: _examforge_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    app.state.ready = False  # /healthz says ready after warm_up (create_served_app)
    app.state.types = _types_payload()
    app.state.sets = drill_sets.sets_from_environment() if sets is None else sets
    app.state.index_html = (STATIC / "index.html").read_text(encoding="utf-8").replace("{{version}}", __version__)
    return app


def warm_up(app: Starlette) -> None:
    """Build, show and check one variant of every type in every form, once, before serving.

    The first request for a type otherwise pays 20-55 ms for compiling its templates and first
    calls (2-5 ms afterwards), in front of every request queued behind it. Then the objects made
    so far (torch, the registry, compiled templates: about 300,000) are frozen out of the cyclic
    garbage collector's reach: a full collection scanning them took about 200 ms, a stall every
    few thousand requests in each worker."""
    for t in app.state.types:
        for form in t["forms"]:
            try:
                ex = exercise(t["id"], 0, "medium", form)
                public_exercise(ex)
                checked(ex, answers.show(ex.expected) if ex.form == "free" else ", ".join(sorted(ex.expected)))
            except Exception:  # a broken type must not stop the server: its requests report it
                log.exception("warm-up of %s (%s) failed", t["id"], form)
    gc.collect()
    gc.freeze()
    app.state.ready = True


def create_served_app() -> Starlette:
    """The app as `examforge serve` runs it: warmed up (see `warm_up`)."""
    app = create_app()
    warm_up(app)
    return app
