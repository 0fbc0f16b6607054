"""The web drill's HTTP API and page, through Starlette's test client (no network)."""

from __future__ import annotations

import json
import re

import pytest
from starlette.testclient import TestClient

from examforge import registry
from examforge.drill import answers, web
from examforge.drill.exercise import drill_forms, exercise


@pytest.fixture(scope="module")
def app():
    return web.create_app()


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _keys(data) -> set[str]:
    if isinstance(data, dict):
        return set(data) | {k for v in data.values() for k in _keys(v)}
    if isinstance(data, list):
        return {k for v in data for k in _keys(v)}
    return set()


def _right(ex) -> object:
    if ex.is_open:
        return "my own answer"
    if ex.form == "multi":
        return sorted(ex.expected)
    return answers.show(ex.expected) if ex.form == "free" else sorted(ex.expected)[0]


# -- the page and its static files: everything local ------------------------------------------------------


def test_page_loads_katex_from_this_server_only(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    page = r.text
    assert '/static/katex/katex.min.js' in page and '/static/katex/katex.min.css' in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page), "the page must not load anything from elsewhere"
    js = client.get("/static/drill.js").text
    assert "http://" not in js and "https://" not in js


def test_vendored_katex_is_complete(client):
    for path in ("katex.min.js", "katex.min.css", "contrib/auto-render.min.js", "LICENSE"):
        r = client.get(f"/static/katex/{path}")
        assert r.status_code == 200 and len(r.content) > 500, path
    css = client.get("/static/katex/katex.min.css").text
    fonts = set(re.findall(r"url\((fonts/[^)]+\.woff2)\)", css))
    assert len(fonts) > 15
    for font in fonts:
        assert client.get(f"/static/katex/{font}").status_code == 200, font
    assert "MIT" in client.get("/static/katex/LICENSE").text


# -- /api/types and /api/variant --------------------------------------------------------------------------


def test_types_lists_every_drillable_type(client):
    data = client.get("/api/types").json()
    ids = [t["id"] for t in data["types"]]
    assert ids == [t.id for t in registry.all_types() if drill_forms(t)]
    assert data["difficulties"] == ["easy", "medium", "hard"]
    shape = next(t for t in data["types"] if t["id"] == "conv.output_shape")
    assert shape["forms"] == ["free", "mc", "tf"] and shape["answer_kind"] == "shape"


def test_variant_is_reproducible_from_its_link(client):
    first = client.get("/api/variant", params={"type": "conv.output_shape"}).json()
    assert isinstance(first["seed"], int)
    assert first["permalink"] == (f"/?type=conv.output_shape&seed={first['seed']}&difficulty=medium&form=free")
    again = client.get("/api/variant" + first["permalink"][1:]).json()
    assert again == first


def test_variant_never_carries_the_answer(client):
    for form in ("free", "mc", "tf"):
        data = client.get("/api/variant", params={"type": "conv.output_shape", "seed": 7, "form": form}).json()
        assert set(data) <= {"type", "seed", "difficulty", "form", "summary", "forms", "question_html",
                             "answer_format", "permalink", "choices"}
        assert not _keys(data) & {"answer", "solution", "solution_html", "mistake", "correct", "expected"}
        ex = exercise("conv.output_shape", 7, "medium", form)
        assert "Apply" not in data["question_html"]  # the worked solution's first word
        body = json.dumps(data)
        assert "H' \\\\times W'" not in body  # answer_latex
        if form != "free":
            assert [c["letter"] for c in data["choices"]] == list(ex.letters)
            assert all(set(c) == {"letter", "html"} for c in data["choices"])


def test_answer_format_fits_the_type(client):
    def fmt(type_id):
        return client.get("/api/variant", params={"type": type_id, "seed": 1}).json()["answer_format"]

    assert fmt("conv.output_shape") == {"kind": "shape", "hint": answers.AnswerFormat("shape", 0).hint, "rank": 2}
    assert fmt("conv.forward_values")["kind"] == "matrix"
    assert fmt("backprop.two_neuron")["kind"] == "number"
    assert fmt("tokenizer.greedy")["kind"] == "vector" and "labels" not in fmt("tokenizer.greedy")
    assert fmt("prob.bayes")["percent"] is True and "percent" not in fmt("cnn.shape_trace")
    mc = client.get("/api/variant", params={"type": "cnn.shape_trace", "seed": 1, "form": "mc"}).json()
    assert mc["answer_format"]["kind"] == "choice" and len(mc["choices"]) == 4


# -- /api/check ------------------------------------------------------------------------------------------------


def test_check_right_and_wrong_with_the_worked_solution(client):
    ex = exercise("conv.output_shape", 7, "medium", "free")
    body = {"type": "conv.output_shape", "seed": 7, "difficulty": "medium", "form": "free"}
    right = client.post("/api/check", json={**body, "answer": _right(ex)}).json()
    assert right["correct"] is True and right["message"] == "Right."
    assert "Apply" in right["solution_html"] and right["expected_html"]
    h, w = ex.expected
    wrong = client.post("/api/check", json={**body, "answer": [str(h + 1), str(w)]}).json()
    assert wrong["correct"] is False and "entry 1" in wrong["message"] and wrong["solution_html"]
    assert wrong["given"] == f"{h + 1} \u00d7 {w}"


def test_check_multiple_choice(client):
    ex = exercise("cnn.shape_trace", 3, "medium", "mc")
    body = {"type": "cnn.shape_trace", "seed": 3, "form": "mc"}
    (letter,) = ex.expected
    assert client.post("/api/check", json={**body, "answer": letter.lower()}).json()["correct"] is True
    other = next(x for x in ex.letters if x != letter)
    assert client.post("/api/check", json={**body, "answer": other}).json()["correct"] is False


@pytest.mark.parametrize("qtype", registry.all_types(), ids=lambda t: t.id)
def test_every_type_is_served_and_checks_its_own_answer(client, qtype):
    for form in drill_forms(qtype):
        v = client.get("/api/variant", params={"type": qtype.id, "seed": 3, "form": form})
        assert v.status_code == 200, v.text
        data = v.json()
        ex = exercise(qtype.id, 3, "medium", form)
        r = client.post("/api/check", json={"type": qtype.id, "seed": 3, "form": data["form"], "answer": _right(ex)})
        want = None if ex.is_open else True  # an open question is compared, never graded
        assert r.status_code == 200 and r.json()["correct"] is want, (qtype.id, form, r.text)


# -- bad requests: 4xx with a message, never a traceback ---------------------------------------------------------

BAD_VARIANTS = [
    ({}, 400, "type is required"),
    ({"type": "conv.output_shap"}, 404, "did you mean conv.output_shape"),
    ({"type": "conv.output_shape", "seed": "abc"}, 400, "seed must be a whole number"),
    ({"type": "conv.output_shape", "seed": "-1"}, 400, "seed must be a whole number"),
    ({"type": "conv.output_shape", "seed": str(2**53)}, 400, "seed must be a whole number"),
    ({"type": "conv.output_shape", "difficulty": "brutal"}, 400, "difficulty"),
    ({"type": "cnn.shape_trace", "form": "tf"}, 400, "not offered"),
    ({"type": "conv.output_shape", "colour": "red"}, 400, "unknown parameter"),
    ([("type", "conv.output_shape"), ("type", "cnn.shape_trace")], 400, "given 2 times"),
]


@pytest.mark.parametrize("params, status, message", BAD_VARIANTS)
def test_bad_variant_requests(client, params, status, message):
    r = client.get("/api/variant", params=params)
    assert r.status_code == status and message in r.json()["error"]
    assert "Traceback" not in r.text


GOOD = {"type": "conv.output_shape", "seed": 7, "answer": "6 x 6"}
BAD_CHECKS = [
    ({**GOOD, "answer": "abc"}, 422, "could not read"),
    ({**GOOD, "answer": ""}, 422, "empty"),
    ({**GOOD, "answer": "1 x 2 x 3"}, 422, "expected 2 dimensions"),
    ({**GOOD, "answer": {"h": 6}}, 422, "expected a list"),
    ({k: v for k, v in GOOD.items() if k != "answer"}, 400, "'answer' is required"),
    ({k: v for k, v in GOOD.items() if k != "seed"}, 400, "'seed' is required"),
    ({**GOOD, "seed": 1.5}, 400, "seed must be a whole number"),
    ({**GOOD, "type": 3}, 400, "must be a string"),
    ({**GOOD, "type": "nope.nothing"}, 404, "unknown question type"),
    ({**GOOD, "form": "essay"}, 400, "not offered"),
    ({**GOOD, "extra": 1}, 400, "unknown field"),
    ({**GOOD, "answer": "1" * 20000}, 422, "longer than"),
    ({"type": "cnn.shape_trace", "seed": 7, "form": "free", "answer": "50%"}, 422, "is a percentage"),
    ([1, 2], 400, "JSON object"),
]


@pytest.mark.parametrize("body, status, message", BAD_CHECKS)
def test_bad_check_requests(client, body, status, message):
    r = client.post("/api/check", json=body)
    assert r.status_code == status, r.text
    assert message in r.json()["error"] and "Traceback" not in r.text


def test_malformed_transport(client):
    r = client.post("/api/check", content=b"{bad", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    r = client.post("/api/check", content=b"\xff\xfe", headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = client.post("/api/check", content=b"answer=3", headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    r = client.post("/api/check", content=b"[" * 70000, headers={"content-type": "application/json"})
    assert r.status_code == 413
    r = client.get("/api/check")
    assert r.status_code == 405 and "not allowed" in r.json()["error"]
    r = client.get("/api/nothing")
    assert r.status_code == 404 and r.json()["error"]


def test_internal_errors_are_500_without_a_traceback(client, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(web, "exercise", boom)
    r = client.get("/api/variant", params={"type": "conv.output_shape", "seed": 1})
    assert r.status_code == 500
    assert r.json() == {"error": "internal error (RuntimeError); the server log has the details"}


def test_stateless_any_instance_can_check_any_variant():
    """Two independent app instances (two servers behind a load balancer) agree."""
    with TestClient(web.create_app()) as a, TestClient(web.create_app()) as b:
        va = a.get("/api/variant", params={"type": "backprop.two_neuron", "seed": 99, "difficulty": "hard"}).json()
        vb = b.get("/api/variant", params={"type": "backprop.two_neuron", "seed": 99, "difficulty": "hard"}).json()
        assert va == vb
        ex = exercise("backprop.two_neuron", 99, "hard", "free")
        r = b.post("/api/check", json={"type": "backprop.two_neuron", "seed": 99, "difficulty": "hard",
                                       "answer": _right(ex)})
        assert r.json()["correct"] is True


def test_served_app_is_warmed_up_and_frozen(app, monkeypatch):
    """`examforge serve` builds every type and form once before serving, then freezes the
    startup objects out of the garbage collector's reach (no 200 ms full collections)."""
    import gc

    built = []
    real = web.exercise
    monkeypatch.setattr(web, "exercise", lambda *a: built.append(a) or real(*a))
    try:
        web.warm_up(app)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    wanted = {(t["id"], form) for t in app.state.types for form in t["forms"]}
    assert {(a[0], a[3]) for a in built} == wanted


def test_checks_now_and_then_end_the_keep_alive_connection(client, monkeypatch):
    """About one check in RECONNECT_AFTER_CHECKS answers "Connection: close", so clients
    reconnect to whichever worker process is free; variants never do (their check follows)."""
    body = {"type": "conv.output_shape", "seed": 7, "answer": "6 x 6"}

    class Fixed:
        def __init__(self, value):
            self.value = value

        def random(self):
            return self.value

    monkeypatch.setattr(web, "_reconnect", Fixed(0.0))
    assert client.post("/api/check", json=body).headers.get("connection") == "close"
    assert "close" not in client.get("/api/variant", params={"type": "conv.output_shape"}).headers.get("connection", "")
    monkeypatch.setattr(web, "_reconnect", Fixed(0.5))
    assert "close" not in client.post("/api/check", json=body).headers.get("connection", "")


# -- strict JSON, bounded bodies, security headers everywhere ---------------------------------------------------


@pytest.mark.parametrize("content_type", [
    "application/json", "application/json; charset=utf-8", "Application/JSON;charset=\"UTF-8\"", "application/json ;",
])
def test_check_reads_json_content_types(client, content_type):
    r = client.post("/api/check", content=json.dumps(GOOD).encode(), headers={"content-type": content_type})
    assert r.status_code == 200 and r.json()["correct"] is True


@pytest.mark.parametrize("content_type", [
    "text/plain; x=json",  # the probe: any web page can make a browser send it, no preflight
    "text/plain", "application/json-seq", "application/jsonp", "text/json", "application/x-json",
    "application/json; charset=latin-1", "application/json; x=1", "application/json; charset=utf-8; x=1",
    "multipart/form-data; boundary=json", "application/x-www-form-urlencoded", "", "json",
])
def test_check_refuses_other_content_types(client, content_type):
    headers = {"content-type": content_type} if content_type else {}
    r = client.post("/api/check", content=json.dumps(GOOD).encode(), headers=headers)
    assert r.status_code == 415 and "application/json" in r.json()["error"]


def _post(client, body: bytes):
    return client.post("/api/check", content=body, headers={"content-type": "application/json"})


@pytest.mark.parametrize("body, message", [
    (b"[" * 3000, "deeper than 4 levels"),  # was a 500 (RecursionError)
    (b"{" * 3000, "deeper than 4 levels"),
    (json.dumps({**GOOD, "answer": [[[["6"]]], "6"]}).encode(), "deeper than 4 levels"),
    (b'{"type": "conv.output_shape", "seed": 7, "answer": "6 x 6"' + b'"\\"' * 20000, "deeper than 4 levels"),
    (json.dumps({**GOOD, "seed": 10**200}).encode(), "at most 100"),  # seeds over 4300 digits were a 500
    (b'{"type": "conv.output_shape", "seed": ' + b"7" * 5000 + b', "answer": "6 x 6"}', "at most 100"),
    (json.dumps({**GOOD, "answer": [float("nan"), 6]}).encode(), "NaN is not a number JSON allows"),
    (b'{"type": "conv.output_shape", "seed": 7, "answer": Infinity}', "Infinity is not a number JSON allows"),
    (b'{"type": "conv.output_shape", "seed": 7, "answer": "\\ud800"}', "unpaired surrogate"),
    (b'\xef\xbb\xbf' + json.dumps(GOOD).encode(), "not valid JSON"),
    (json.dumps(GOOD).encode("utf-16"), "not UTF-8"),
    (b'{"type": "conv.output_shape", "seed": 7, "answer": "6 x 6",}', "not valid JSON"),
])
def test_bodies_are_parsed_within_bounds(client, body, message):
    r = _post(client, body)
    assert r.status_code == 400 and message in r.json()["error"], r.text


def test_nesting_within_the_limit_is_read(client):
    ex = exercise("conv.forward_values", 2, "medium", "free")
    grid = [[answers.show(v) for v in row] for row in ex.expected]
    body = {"type": "conv.forward_values", "seed": 2, "form": "free", "answer": grid}
    assert _post(client, json.dumps(body).encode()).json()["correct"] is True


@pytest.mark.parametrize("answer, message", [
    ("1e20000000 x 2", "exponent 20000000 is out of range"),
    ("1e100000000", "exponent 100000000 is out of range"),
    ("1e308000 x 2", "exponent 308000 is out of range"),
    ("\u00b2 x 2", "digits as 0-9"),
    ([10**90, 10**90], None),  # big but allowed: a wrong answer
    (["1"] * 5000, "at most 200"),
])
def test_absurd_answers_are_refused_quickly(client, answer, message):
    r = client.post("/api/check", json={**GOOD, "answer": answer})
    if message is None:
        assert r.status_code == 200 and r.json()["correct"] is False
    else:
        assert r.status_code == 422 and message in r.json()["error"], r.text


def test_bad_seed_in_the_query_is_a_400(client):
    for seed in ("\u00b2", "1" * 5000, "%F0%9F%98%80"):
        r = client.get(f"/api/variant?type=conv.output_shape&seed={seed}")
        assert r.status_code == 400 and "seed must be a whole number" in r.json()["error"]


@pytest.mark.parametrize("path", ["/", "/api/types", "/api/variant?type=conv.output_shape&seed=1", "/static/drill.js",
                                  "/static/drill.css", "/static/katex/katex.min.css", "/static/katex/fonts/KaTeX_Main-Regular.woff2",
                                  "/nothing", "/api/check", "/static/index.html", "/static/missing.js", "/favicon.ico"])
def test_every_response_carries_the_security_headers(client, path):
    r = client.get(path)
    for name, value in web.SECURITY_HEADERS.items():
        assert r.headers.get(name) == value, (path, name)
    assert r.headers.get_list("content-security-policy") == [web.SECURITY_HEADERS["Content-Security-Policy"]]
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_internal_errors_carry_the_security_headers(client, monkeypatch):
    monkeypatch.setattr(web, "exercise", lambda *a, **k: 1 / 0)
    r = client.get("/api/variant", params={"type": "conv.output_shape", "seed": 1})
    assert r.status_code == 500 and r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/static/index.html", "/static/./index.html", "/static/katex/../index.html",
                                  "/static//index.html", "/static/index.html/", "/static/%69ndex.html", "/static/",
                                  "/static"])
def test_the_page_template_is_not_served_raw(client, path):
    r = client.get(path)
    assert r.status_code == 404 and r.json()["error"].startswith("not found")
    assert "{{version}}" not in r.text


def test_static_files_have_their_types(client):
    assert client.get("/static/drill.js").headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    assert client.get("/static/drill.css").headers["content-type"].startswith("text/css")
    assert "{{version}}" not in client.get("/").text


def test_junk_host_header_is_not_a_500(client):
    r = client.get("/nothing", headers={"host": "["})
    assert r.status_code == 404 and r.json()["error"] == "not found: /nothing"
