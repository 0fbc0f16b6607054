"""The web drill's honest feedback and its progress view in Debian's Chromium (Playwright), at
a phone's width (375 px) and a desktop's (1280 px): a right answer, a named mistake, "show
solution" (given up), an open question; then the progress view, exported and imported.
Screenshots go to $DRILL_SCREENSHOT_DIR when set, else the test's temporary directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from examforge.drill import answers, web
from examforge.drill.exercise import exercise

from .browser import ARGS, CHROMIUM, require_browser, serving

@pytest.fixture(scope="module")
def server():
    require_browser()
    with serving(web.create_app()) as url:
        yield url


@pytest.mark.parametrize("width", [375, 1280])
def test_progress_view(server, tmp_path, width):
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("DRILL_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    shape = exercise("conv.output_shape", 3, "medium", "free")
    forgot = shape.qtype.mistakes(shape.variant.params)["forgot_padding"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": width, "height": 900}, accept_downloads=True)
        page.goto(server + "/?type=conv.output_shape&seed=3&difficulty=medium&form=free")
        page.wait_for_selector("#answer-input input.num")
        boxes = page.locator("#answer-input input.num")
        for i, v in enumerate(forgot):  # a named mistake: the verdict says which
            boxes.nth(i).fill(str(v))
        boxes.nth(1).press("Enter")
        page.wait_for_selector("#attempts li.wrong")
        assert "You left out the padding" in page.inner_text("#attempts")
        for i, v in enumerate(shape.expected):  # right now, but the first attempt counts
            boxes.nth(i).fill(str(v))
        boxes.nth(1).press("Enter")
        page.wait_for_selector("#attempts li.right")
        assert "Practice" in page.inner_text("#attempts li.right")
        if width == 375:
            assert page.evaluate("document.documentElement.scrollWidth") <= 376, "the page scrolls sideways"
        page.screenshot(path=str(shots / f"verdict-{width}.png"), full_page=True)

        page.locator("body").click(position={"x": 2, "y": 2})
        page.keyboard.press("n")  # N: the next variant
        expect(page.locator("#attempts li")).to_have_count(0)
        ent = exercise("info.entropy", 5, "medium", "free")
        page.goto(server + "/?type=info.entropy&seed=5&difficulty=medium&form=free")
        page.wait_for_selector("#answer-input input")
        page.click("#give-up")  # show solution: given up
        page.wait_for_selector("#attempts li.gave-up")
        page.fill("#answer-input input", answers.show(ent.expected))
        page.press("#answer-input input", "Enter")
        page.wait_for_selector("#attempts li.right")
        page.goto(server + "/?type=open.cnn.pooling_purpose&seed=0&difficulty=medium&form=free")
        page.wait_for_selector("textarea.open")
        page.fill("textarea.open", "Pooling makes the features robust to small shifts.")
        page.click("#check")
        page.wait_for_selector("#attempts li.open")
        assert "Compare with the model answer" in page.inner_text("#attempts")
        assert page.is_visible("#solution")

        page.click("#show-progress")
        page.wait_for_selector("#progress:not([hidden])")
        text = page.inner_text("#progress")
        assert "0 / 2" in text and "Open answers compared" in text, text  # wrong (first try), gave up
        assert "forgot padding" in text and "Convolutions" in text and "Information theory" in text
        if width == 375:
            assert page.evaluate("document.documentElement.scrollWidth") <= 376
        page.screenshot(path=str(shots / f"progress-{width}.png"), full_page=True)

        with page.expect_download() as info:
            page.click("#export-progress")
        exported = json.loads(Path(info.value.path()).read_text())
        assert [a["outcome"] for a in exported["attempts"]] == ["wrong", "gave_up", "open"]
        assert exported["attempts"][0]["mistakes"] == ["forgot_padding"]
        page.evaluate("localStorage.clear()")
        dump = tmp_path / "progress.json"
        dump.write_text(json.dumps(exported))
        page.set_input_files("#import-progress", str(dump))
        expect(page.locator("#progress-status")).to_contain_text("Imported 3")
        browser.close()
