"""The competition server in a real browser: headless Chromium driven by Selenium.

The leaderboard updates without a reload, a team logs in and submits through the form and
its row appears, marks it final with the page's button, a hostile team name renders as text,
and the browser logs no console error (the pages' Content-Security-Policy would log one for
any injected script). Skipped, with
the reason, where Chromium or its driver is not installed (Debian: chromium chromium-driver).
"""

from __future__ import annotations

import os
import shutil
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the serve extra is not installed")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")

from serve_support import (  # noqa: E402 - after the skip checks above
    FIRST_FIT,
    SECRET,
    cli,
    server,
    token_of,
    upload,
    write_competition,
)

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser")) if p), None)
DRIVER = shutil.which("chromedriver") or (
    "/usr/bin/chromedriver" if os.access("/usr/bin/chromedriver", os.X_OK) else None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="headless Chromium and chromedriver are needed (apt-get install chromium "
    "chromium-driver)",
)
EVIL = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-extensions",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path}/p",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _until(check: Callable[[], Any], timeout: float = 180.0) -> Any:
    deadline = time.monotonic() + timeout
    from selenium.common.exceptions import StaleElementReferenceException

    while time.monotonic() < deadline:
        try:
            value = check()
        except StaleElementReferenceException:  # the live page replaced the element: look again
            value = None
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("timed out waiting in the browser")


def test_leaderboard_form_and_escaping_in_chromium(
    browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from selenium.webdriver.common.by import By

    from simcontinuum.serve.config import load_competition
    from simcontinuum.serve.store import Store

    monkeypatch.setenv("SIMCONTINUUM_COMPETITION_SECRET", SECRET)
    path = write_competition(tmp_path)
    cli("serve", str(path), "--create")
    alpha = token_of(cli("serve", str(path), "--add-team", "alpha").stdout)
    evil = token_of(cli("serve", str(path), "--add-team", "evil").stdout)
    cli("serve", str(path), "--open", "public")
    cli("serve", str(path), "--open", "private")
    comp = load_competition(path)
    store = Store(comp.database_url(), comp)
    team = store.team_for(evil)
    assert team is not None
    store.rename_unchecked(team.id, EVIL)
    store.close()
    policy = tmp_path / "my_policy.py"
    policy.write_text(textwrap.dedent(FIRST_FIT))

    with server(path) as srv:
        browser.get(srv.url + "/")
        assert "Leaderboard" in browser.title
        assert browser.find_elements(By.CSS_SELECTOR, "tr.team-row") == []
        browser.execute_script("window.__marker = 'same page';")
        # a submission arrives: the open page shows its row by itself (no reload)
        assert upload(srv.url, evil, "e.py", FIRST_FIT)[0] == 202
        cell = _until(lambda: browser.find_elements(By.CSS_SELECTOR, "tr.team-row td.team"))
        assert cell[0].text == EVIL  # the name is text, not markup
        assert browser.execute_script("return window.__marker") == "same page"
        assert browser.execute_script("return window.__xss") is None
        assert browser.find_elements(By.CSS_SELECTOR, "#boards img, #boards script") == []

        # a team logs in and submits through the form
        browser.get(srv.url + "/login")
        browser.find_element(By.ID, "token").send_keys(alpha)
        browser.find_element(By.ID, "login").click()
        _until(lambda: browser.current_url.endswith("/team"))
        assert browser.find_element(By.ID, "team-name").text == "alpha"
        browser.find_element(By.ID, "policy").send_keys(str(policy))
        browser.find_element(By.ID, "submit").click()
        _until(lambda: "queued=" in browser.current_url)
        row = browser.find_element(By.CSS_SELECTOR, "#jobs tr.job")
        assert "my_policy.py" in row.text
        _until(lambda: "scored" in browser.find_element(By.CSS_SELECTOR, "#jobs tr.job").text)
        # none marked final yet: the page says the best public ones count; then mark it
        assert "count automatically" in browser.find_element(By.ID, "finals").text
        button = browser.find_element(By.CSS_SELECTOR, "#jobs button[id^='final-']")
        sid = button.get_attribute("id").split("-", 1)[1]
        button.click()
        message = _until(lambda: browser.find_elements(By.ID, "message"))
        assert message[0].text == f"submission {sid} is final"
        assert f"Final submissions: #{sid}" in browser.find_element(By.ID, "finals").text

        browser.get(srv.url + "/")
        teams = _until(
            lambda: (
                [e.text for e in browser.find_elements(By.CSS_SELECTOR, "tr.team-row td.team")]
                if len(browser.find_elements(By.CSS_SELECTOR, "tr.team-row")) == 2
                else None
            )
        )
        assert sorted(teams) == sorted(["alpha", EVIL])
        time.sleep(3.5)  # one more live refresh, then read the console
        logs = browser.get_log("browser")
    errors = [e for e in logs if e.get("level") == "SEVERE"]
    assert errors == [], errors
