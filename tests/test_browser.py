"""Every widget in a real browser: JupyterLab on localhost, Debian's Chromium driven by Playwright.

The test starts JupyterLab on a free loopback port in a scratch folder holding
tests/browser/widgets.ipynb, runs all its cells from the Run menu, then drives each widget
as a learner would: the retrieval inspector (type a question), the playground (Ask), the
forgetting lab (Train disables itself, the status and the plot change while it trains, Stop
stops it) and the decision guide (change an answer). It fails on "Error displaying widget",
a Python traceback in any output, or a JavaScript console error, and saves a screenshot of
each step in $LABKIT_SCREENSHOTS (default: a folder in the pytest tmp dir; the path is printed).

Chromium comes from Debian (`make test` installs the package when it is missing); Playwright's
own browser download is not used. Without /usr/bin/chromium the test is skipped, saying so.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HERE = Path(__file__).resolve().parent
TOKEN = "labkit-browser-test"
# Chromium's own background traffic would hit the closed network; these flags keep it quiet
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
# errors from the page's own attempts to reach the internet (JupyterLab's news feed, fonts) are not the kit's
OFFLINE_NOISE = ("net::ERR_", "Failed to load resource", "ERR_NAME_NOT_RESOLVED", "ERR_INTERNET_DISCONNECTED")

pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="no Chromium: `make test` installs Debian's chromium package (apt-get)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyter(tmp_path):
    """JupyterLab serving a scratch copy of the widgets notebook; yields its base URL."""
    shutil.copy(HERE / "browser" / "widgets.ipynb", tmp_path / "widgets.ipynb")
    port = free_port()
    env = {**os.environ, "LABKIT_QUICK": "1", "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime")}
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
           f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={tmp_path}", "--ServerApp.open_browser=False",
           "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp_path / "jupyter.log", "w")
    server = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=1)
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"JupyterLab exited: {(tmp_path / 'jupyter.log').read_text()[-2000:]}")
                time.sleep(0.5)
        else:
            pytest.fail(f"JupyterLab did not answer in 60 s: {(tmp_path / 'jupyter.log').read_text()[-2000:]}")
        yield base
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def test_every_widget_works_in_chromium(jupyter, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("LABKIT_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    console_errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: console_errors.append(f"page error: {e}"))
        page.set_default_timeout(60_000)
        page.goto(f"{jupyter}/lab/tree/widgets.ipynb?token={TOKEN}")
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
        # JupyterLab may ask which kernel to start, and whether to fetch its news: answer as a learner would, while
        # waiting for the kernel (a fixed wait for a dialog that mostly never comes idled this worker for 10 s)
        select = page.locator(".jp-Dialog button", has_text="Select")
        idle = page.get_by_text("Python 3 (ipykernel) | Idle")
        deadline = time.monotonic() + 90
        while not idle.is_visible() and time.monotonic() < deadline:
            if select.count() and select.first.is_visible():
                select.first.click()
            page.wait_for_timeout(250)
        no_news = page.locator(".jp-toast-button, .Toastify button", has_text="No")
        if no_news.count():
            no_news.first.click()
        expect(idle).to_be_visible(timeout=30_000)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

        def shot(name):
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

        # the guide is the last cell: when it shows a recommendation, every cell has run
        guide = page.locator(".widget-html-content h4", has_text="Recommended")
        expect(guide).to_be_visible(timeout=240_000)
        shot("1-all-cells-run")

        # retrieval inspector: a new question redraws the table of sources
        question = page.get_by_placeholder("Ask something about the documents")
        question.fill("Where is the new warehouse?")
        question.press("Enter")
        expect(page.locator(".widget-html-content", has_text="Hollin Tarn")).to_be_visible(timeout=60_000)
        shot("2-retrieval-inspector")

        # playground: Ask fills one answer per column and comes back enabled
        ask = page.locator("button.widget-button", has_text="Ask")
        ask.click()
        expect(ask).to_be_disabled(timeout=30_000)  # no double clicks while it answers
        answers = page.locator(".widget-html-content div[style*='display:flex']")
        expect(answers).to_contain_text("closed-book", timeout=180_000)
        expect(answers).to_contain_text("RAG")
        expect(ask).to_be_enabled(timeout=60_000)
        shot("3-playground")

        # forgetting lab: Train disables itself, the status and plot move, Stop stops
        train = page.locator("button.widget-button", has_text="Train")
        stop = page.locator("button.widget-button", has_text="Stop")
        plot = page.locator(".widget-image").first
        before = plot.get_attribute("src")
        train.click()
        expect(train).to_be_disabled(timeout=30_000)
        expect(stop).to_be_enabled(timeout=30_000)
        expect(page.locator(".widget-html-content", has_text="step 4 of")).to_be_visible(timeout=240_000)
        assert plot.get_attribute("src") != before, "the plot did not change while training"
        shot("4-forgetting-lab-training")
        stop.click()
        expect(train).to_be_enabled(timeout=240_000)
        expect(stop).to_be_disabled()
        shot("5-forgetting-lab-stopped")

        # decision guide: another answer, another recommendation
        first = guide.inner_text()
        page.locator(".widget-dropdown", has_text="need").locator("select").select_option("behaviour")
        expect(page.locator(".widget-html-content h4", has_text="Recommended")).not_to_have_text(first, timeout=30_000)
        shot("6-decision-guide")

        outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
        browser.close()
    print(f"screenshots: {shots}")
    assert not [o for o in outputs if "Error displaying widget" in o]
    assert not [o for o in outputs if "Traceback (most recent call last)" in o or "Error: " in o], outputs
    assert not [e for e in console_errors if not any(noise in e for noise in OFFLINE_NOISE)], console_errors
