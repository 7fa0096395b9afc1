"""Driving the wizard in a real browser: the Streamlit server as a child process and Playwright helpers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
# Streamlit sets this attribute on the app root; "notRunning" means the script run (and its reruns) finished.
IDLE = 'document.querySelector(\'[data-testid="stApp"]\')?.dataset.testScriptState === "notRunning"'
NO_STALE = '!document.querySelector(\'[data-stale="true"]\')'
# Widgets whose code loads lazily show a skeleton first, even after the script run ended.
NO_SKELETON = '!document.querySelector(\'[data-testid="stSkeleton"]\')'


def find_chromium() -> str | None:
    """Debian's chromium (the project never downloads browsers)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StreamlitServer:
    """`streamlit run app.py` on a free port with its own workspace; output goes to a log file, never a pipe."""

    def __init__(self, home: Path, log: Path) -> None:
        self.home, self.log, self.port = home, log, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120.0) -> None:
        # The app as users get it, warm engine included (conftest turns it off for the AppTest pages).
        env = {**os.environ, "FINETUNE_HOME": str(self.home), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
               "FINETUNE_WARM_ENGINE": "1"}
        command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(self.port),
                   "--server.address", "127.0.0.1", "--server.headless", "true",
                   "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"streamlit did not answer within {timeout:.0f} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        """Stop the server, then any training, search or standby process it launched (each in its own session)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        pid_files = [*(self.home / "runs").glob("*/pid"), *(self.home / "searches").glob("*/pid"),
                     self.home / ".standby" / "pid", self.home / ".standby" / "ready"]
        for pid_file in pid_files:
            try:
                os.killpg(int(pid_file.read_text().strip()), signal.SIGTERM)
            except (OSError, ValueError):
                pass


def settle(page: Page, timeout: float = 120_000) -> None:
    """Wait until the app finished its current run and every element is fresh and drawn."""
    page.wait_for_function(f"() => {IDLE} && {NO_STALE} && {NO_SKELETON}", timeout=timeout)


def open_step(page: Page, slug: str, heading: str, timeout: float = 120_000) -> None:
    """Click a step's link in the sidebar as a user would (found by its url path) and wait for its page.

    A click that lands while the app is swapping elements after a rerun can be dropped by the browser (seen once in
    CI on a loaded machine); a user would click again, and so does this helper, up to three times.
    """
    link = page.locator(f'a[data-testid="stSidebarNavLink"][href$="/{slug}"]')
    for attempt in range(3):
        settle(page, timeout)
        link.click()
        try:
            page.wait_for_url(f"**/{slug}", timeout=20_000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=timeout)
    settle(page, timeout)


def choose(page: Page, label: str, option: str) -> None:
    """Pick `option` in the selectbox labelled `label` and wait for the rerun."""
    box = page.get_by_role("combobox", name=label)
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(box).to_have_value(option)
    settle(page)


def metric_value(page: Page, label: str) -> str:
    """The shown value of the metric labelled `label`."""
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=label)
    return metric.locator('[data-testid="stMetricValue"]').inner_text()


def snap(page: Page, step: str) -> Path:
    """A 1280x800 screenshot of the visible page, for the docs."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{step}.png"
    page.wait_for_timeout(500)  # let charts finish their entry animation
    page.screenshot(path=str(path))
    return path
