"""Drill sets on the web page, in Debian's headless Chromium (driven by Playwright, as
tests/test_drill_browser.py): the start page lists the sets; a set's URL drills only its types,
with "any question of the set" kept across variants; a type picked within the set; links that
reproduce a variant keep the set. Screenshots go to $DRILL_SCREENSHOT_DIR when set. In CI a
missing Chromium or Playwright is a failure, not a skip."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from examforge.drill import web
from examforge.drill.sets import load_sets

from .browser import launch, require_browser, serving

WEEK5 = {"conv.forward_values", "conv.im2col", "conv.output_shape", "conv.receptive_field",
         "conv.stacked_vs_single", "pool.max_backward", "pool.values"}
SETS_YAML = """\
week5: {title: "Week 5: convolutions and pooling", questions: ["conv.*", "pool.*"], difficulty: hard}
quiz: {title: "Concepts quiz", questions: ["concepts.cnn.*"], form: mc}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app with two sets, as `examforge serve` runs it (tests/browser.py)."""
    require_browser()
    path = tmp_path_factory.mktemp("sets") / "drills.yaml"
    path.write_text(SETS_YAML, encoding="utf-8")
    with serving(web.create_app(sets=load_sets(path))) as url:
        yield url


@pytest.fixture(scope="module")
def page(server, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = launch(p, tmp_path_factory.mktemp("chromium-profile"), viewport={"width": 1000, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        requests: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and errors.append(f"console: {m.text}"))
        page.on("request", lambda r: requests.append(r.url))
        yield page
        assert not errors, f"JavaScript errors: {errors}"
        offsite = [u for u in requests if not u.startswith(server) and not u.startswith("data:")]
        assert not offsite, f"the page loaded from elsewhere: {offsite}"
        context.close()


def _variant(page, previous_seed=None) -> tuple[str, int]:
    from playwright.sync_api import expect

    if previous_seed is not None:
        expect(page.locator("#meta-seed")).not_to_have_text(str(previous_seed), timeout=30000)
    page.wait_for_selector("#card:not([hidden]) #question > *", timeout=30000)  # (not every question has math)
    return page.text_content("#meta-type"), int(page.text_content("#meta-seed"))


def test_the_start_page_lists_the_sets_and_a_set_drills_only_its_types(page, server, tmp_path):
    from playwright.sync_api import expect

    shots = Path(os.environ.get("DRILL_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page.goto(server + "/")
    _variant(page)
    links = page.locator("#sets a")
    expect(links).to_have_count(2)
    assert [links.nth(k).get_attribute("href") for k in range(2)] == ["/?set=week5", "/?set=quiz"]
    assert links.nth(0).text_content() == "Week 5: convolutions and pooling"
    assert page.is_hidden("#set-title")

    links.nth(0).click()  # the set's own URL
    page.wait_for_url(lambda url: "set=week5" in url, timeout=30000)
    type_id, seed = _variant(page)
    page.screenshot(path=str(shots / "drill-set-week5.png"), full_page=True)
    assert page.text_content("#set-title") == "Week 5: convolutions and pooling"
    assert page.get_attribute("#sets a[aria-current]", "href") == "/?set=week5"
    options = [o.get_attribute("value") for o in page.locator("#type option").all()]
    assert options[0] == "" and set(options[1:]) == WEEK5  # "any question of the set", then its types
    assert page.input_value("#type") == "" and page.input_value("#difficulty") == "hard"
    assert type_id in WEEK5 and page.text_content("#meta-difficulty") == "hard"
    assert re.fullmatch(rf"/\?set=week5&seed={seed}&difficulty=hard&form=(free|mc|tf)",
                        page.get_attribute("#permalink", "href"))
    seen = {type_id}
    for _ in range(4):  # another variant: still any question of the set
        page.click("#another")
        type_id, seed = _variant(page, seed)
        assert type_id in WEEK5 and page.input_value("#type") == ""
        seen.add(type_id)
    assert len(seen) >= 2

    page.select_option("#type", "pool.values")  # one type within the set
    type_id, seed = _variant(page, seed)
    assert type_id == "pool.values" and "type=pool.values" in page.url and "set=week5" in page.url

    permalink = page.get_attribute("#permalink", "href")  # the exact variant, in the set
    page.goto(server + "/")
    _variant(page)
    page.goto(server + permalink)
    assert _variant(page) == ("pool.values", seed)
    assert page.text_content("#set-title") == "Week 5: convolutions and pooling"


def test_a_sets_form_applies(page, server):
    page.goto(server + "/?set=quiz")
    type_id, _ = _variant(page)
    assert type_id.startswith("concepts.cnn.")
    assert page.locator("#answer-input input[type=radio]").count() >= 2 or \
        page.locator("#answer-input input[type=checkbox]").count() >= 2
    page.goto(server + "/?set=nope")  # an unknown set: said so, and every question is offered
    _variant(page)
    page.locator("#status").filter(has_text="There is no drill set").wait_for(timeout=30000)
    assert page.text_content("#status") == "There is no drill set nope on this server."
    assert page.is_hidden("#set-title") and page.input_value("#type") != ""
