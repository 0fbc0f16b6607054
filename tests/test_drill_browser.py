"""End to end: the web drill in Debian's Chromium, headless, driven by Playwright.

Opens the page, picks a topic, gets a variant, submits a wrong answer and then the right
one, and sees both verdicts, the rendered math and the worked solution; saves screenshots
(to $DRILL_SCREENSHOT_DIR when set, else the test's temporary directory). In CI a missing
Chromium or Playwright is a failure, not a skip: `make test` installs Chromium.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from examforge import registry
from examforge.drill import answers, markup, web
from examforge.drill.exercise import drill_forms, exercise

from .browser import launch, require_browser, serving

@pytest.fixture(scope="module")
def server():
    """The real app as `examforge serve` runs it, on a free loopback port (tests/browser.py)."""
    require_browser()
    with serving(web.create_app()) as url:
        yield url


@pytest.fixture(scope="module")
def browser_context(server, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = launch(p, tmp_path_factory.mktemp("chromium-profile"), viewport={"width": 1000, "height": 900})
        yield context
        context.close()


@pytest.fixture
def page(browser_context, server):
    page = browser_context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    # A Content-Security-Policy or nosniff refusal ("Refused to load/execute/apply ...") is a
    # console error; the API's 4xx answers to unreadable answers are expected ones.
    page.on("console", lambda m: m.type == "error" and not re.match(
        r"Failed to load resource: the server responded with a status of 4\d\d", m.text) and errors.append(
        f"console: {m.text}"))
    page.requests, page.js_errors = requests, errors
    yield page
    offsite = [u for u in requests if not u.startswith(server) and not u.startswith("data:")]
    assert not offsite, f"the page loaded from elsewhere: {offsite}"
    assert not errors, f"JavaScript errors: {errors}"
    page.close()


@pytest.fixture
def shots(tmp_path):
    where = Path(os.environ.get("DRILL_SCREENSHOT_DIR") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def _question_loaded(page, seed_before=None):
    from playwright.sync_api import expect  # waits without evaluating strings (the page's CSP forbids eval)

    page.wait_for_selector("#question .katex", timeout=30000)
    if seed_before is not None:
        expect(page.locator("#meta-seed")).not_to_have_text(str(seed_before), timeout=30000)
        page.wait_for_selector("#question .katex", timeout=30000)
    return int(page.text_content("#meta-seed"))


def test_wrong_then_right_answer_with_rendered_math(page, server, shots):
    page.goto(server + "/")
    _question_loaded(page)
    page.select_option("#type", "conv.output_shape")
    from playwright.sync_api import expect

    expect(page.locator("#meta-type")).to_have_text("conv.output_shape", timeout=30000)
    seed = _question_loaded(page)
    assert f"seed={seed}" in page.url and "type=conv.output_shape" in page.url
    ex = exercise("conv.output_shape", seed, "medium", "free")
    h, w = ex.expected
    boxes = page.locator("#answer-input input")
    assert boxes.count() == 2  # a shape: one box per dimension

    boxes.nth(0).fill(str(h + 1))
    boxes.nth(1).fill(str(w))
    page.click("#check")
    page.wait_for_selector("#attempts li.wrong")
    assert "Wrong" in page.text_content("#attempts li.wrong")
    assert page.is_visible("#solution .katex")  # the worked solution, typeset

    boxes.nth(0).fill(str(h))
    page.click("#check")
    page.wait_for_selector("#attempts li.right")
    verdicts = page.locator("#attempts li")
    assert verdicts.count() == 2
    assert verdicts.nth(0).get_attribute("data-correct") == "false"
    assert verdicts.nth(1).get_attribute("data-correct") == "true"
    assert "Right" in verdicts.nth(1).text_content()
    assert page.locator(".katex-error").count() == 0
    assert page.locator("#question .katex").count() > 3
    assert "Apply" in page.text_content("#solution")
    page.screenshot(path=str(shots / "drill-right-answer.png"), full_page=True)

    # the link reproduces this exact variant
    question = page.text_content("#question")
    link = page.get_attribute("#permalink", "href")
    page.click("#another")
    _question_loaded(page, seed_before=seed)
    assert page.text_content("#question") != question
    page.goto(server + link)
    assert _question_loaded(page) == seed and page.text_content("#question") == question


def test_multiple_choice_and_matrix_grid(page, server, shots):
    page.goto(server + "/?type=cnn.shape_trace&seed=3&difficulty=medium&form=mc")
    _question_loaded(page)
    ex = exercise("cnn.shape_trace", 3, "medium", "mc")
    (right,) = ex.expected
    wrong = next(x for x in ex.letters if x != right)
    page.check(f"#answer-input input[value={wrong}]")
    page.click("#check")
    page.wait_for_selector("#attempts li.wrong")
    page.check(f"#answer-input input[value={right}]")
    page.click("#check")
    page.wait_for_selector("#attempts li.right")
    assert page.locator("table.tabular").count() >= 1  # the layer table, as HTML

    page.goto(server + "/?type=conv.forward_values&seed=2&difficulty=medium&form=free")
    _question_loaded(page)
    ex = exercise("conv.forward_values", 2, "medium", "free")
    rows, cols = len(ex.expected), len(ex.expected[0])
    for _ in range(rows - 2):
        page.click("text=+ row")
    for _ in range(cols - 2):
        page.click("text=+ col")
    cells = page.locator(".matrix input")
    assert cells.count() == rows * cols
    for i, row in enumerate(ex.expected):
        for j, v in enumerate(row):
            cells.nth(i * cols + j).fill(answers.show(v))
    page.click("#check")
    page.wait_for_selector("#attempts li.right")
    page.screenshot(path=str(shots / "drill-matrix.png"), full_page=True)


def test_unreadable_answer_is_not_a_verdict(page, server):
    page.goto(server + "/?type=backprop.two_neuron&seed=1&difficulty=medium&form=free")
    _question_loaded(page)
    page.fill("#answer-input input", "twelve")
    page.click("#check")
    page.wait_for_selector("#attempts li.unreadable")
    assert "Could not read" in page.text_content("#attempts li.unreadable")
    assert page.is_hidden("#reveal")  # nothing revealed


def test_katex_renders_every_types_math(page, server):
    """Every formula of every registered type (questions, options, answers, solutions)
    typesets with the vendored KaTeX without an error."""
    page.goto(server + "/?type=conv.output_shape&seed=1")
    _question_loaded(page)
    formulas: dict[tuple[str, bool], str] = {}
    for qtype in registry.all_types():
        for form in drill_forms(qtype):
            for seed in range(3):
                ex = exercise(qtype.id, seed, "medium", form)
                for src in (ex.question_latex, ex.solution_latex, ex.answer_latex, ex.expected_latex,
                            *[c.latex for c in ex.variant.choices]):
                    for m in re.finditer(r'<(span|div) class="math( display)?">(.*?)</\1>', markup.to_html(src), re.S):
                        tex = m.group(3).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
                        formulas.setdefault((tex, bool(m.group(2))), f"{qtype.id} seed {seed} {form}")
    items = [{"tex": t, "display": d, "where": w} for (t, d), w in formulas.items()]
    failures = page.evaluate(
        """items => items.flatMap(it => {
            try { katex.renderToString(it.tex, {displayMode: it.display, throwOnError: true, strict: "ignore"}); return []; }
            catch (e) { return [it.where + ": " + e.message.slice(0, 160)]; }
        })""",
        items,
    )
    assert len(items) > 500
    assert not failures, "\n".join(failures[:10])
