"""Browser fixtures: Debian's Chromium driven by Playwright (never a downloaded
browser), one browser per test session, and the app served by a real
server on 127.0.0.1 for each test."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from app import create_app
from web.state import close_stores

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class LiveServer:
    """The app behind werkzeug's server in a background thread (one request at a time)."""

    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=False)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        try:
            self.server.serve_forever(poll_interval=0.05)
        finally:
            close_stores()  # the server thread's own verdict-log connection

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join()
        self.server.server_close()


@pytest.fixture
def live(tmp_path):
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "verdicts.db"), "AUTH_DISABLED": True})
    with LiveServer(app) as server:
        yield server
    close_stores()


@pytest.fixture
def page(browser):
    """A fresh browser context per test; any dialog (alert, confirm) is recorded and dismissed."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    pg = context.new_page()
    pg.dialogs = []

    def on_dialog(dialog):
        pg.dialogs.append(dialog.message)
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    yield pg
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
