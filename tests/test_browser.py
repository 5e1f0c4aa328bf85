"""Lesson 01's watermark explorer in a real browser: JupyterLab and headless Chromium (issue 14.5).

The widget tests in test_plots_widgets.py set ``control.value`` in Python; this one checks the whole
path a student uses: JupyterLab renders the ipywidgets, a key press on the slider reaches the kernel
and the redrawn figure comes back to the page.

It starts JupyterLab on a free local port with a token (its own settings, data and runtime folders,
stopped at the end), opens lesson 01 (written from ``notebooks/01_*.py`` with jupytext into a
temporary folder) in headless Chromium driven by Selenium, runs all cells, moves the k slider with
the arrow keys and with a drag, and checks the readout and the figure's image.

Selenium drives Debian's ``chromium`` through Debian's ``chromium-driver``, which is built from the
same source release, so the two always match and nothing is downloaded at run time (Playwright
expects a browser build of its own). Skipped, with the reason, when Chromium, its driver, Selenium
or CIFAR-10 is missing. Install: ``apt-get install -y chromium chromium-driver``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSON = ROOT / "notebooks" / "01_colour_as_linear_algebra.py"

SERVER_TIMEOUT_S = 90  # JupyterLab answering on its port
PAGE_TIMEOUT_S = 90  # the notebook open in the page, its kernel started
RUN_TIMEOUT_S = 150  # all cells of lesson 01 run (about 10 s on 2 cores) and the explorer drawn
REDRAW_TIMEOUT_S = 60  # one redraw after the slider moved

pytestmark = pytest.mark.slow


def _find(*names: str) -> str | None:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def browser_paths() -> tuple[str, str]:
    """Chromium and its driver, or a skip that says which one is missing and how to install it."""
    chromium = _find("chromium", "chromium-browser", "google-chrome")
    driver = _find("chromedriver")
    if chromium is None or driver is None:
        found = (("chromium", chromium), ("chromedriver", driver))
        missing = " and ".join(name for name, path in found if path is None)
        pytest.skip(f"no {missing} on PATH: `apt-get install -y chromium chromium-driver`")
    pytest.importorskip("selenium", reason="selenium is not installed: pip install -e '.[course]'")
    return chromium, driver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lab_environment(tmp: Path) -> dict[str, str]:
    """The server's (and so the kernel's) environment: this checkout first, own Jupyter folders."""
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # the kernel draws inline, as a student's (Agg shows no image)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    for var, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ):
        env[var] = str(tmp / sub)
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    return env


def _quiet_lab_settings(settings: Path) -> None:
    """No news or update pop-ups over the notebook."""
    folder = settings / "@jupyterlab" / "apputils-extension"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}'
    )


def _wait_for_server(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"JupyterLab exited with code {proc.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer within {SERVER_TIMEOUT_S} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


@pytest.fixture
def lab(tmp_path, cifar_test) -> tuple[str, str, Path]:
    """JupyterLab serving a folder with lesson 01: (base URL, token, folder); stopped afterwards.

    ``cifar_test`` skips when CIFAR-10 is unavailable (the lesson loads it) and warms its cache.
    """
    import jupytext

    work = tmp_path / "lab"
    work.mkdir()
    jupytext.write(jupytext.read(LESSON), work / "lesson01.ipynb")
    settings = tmp_path / "settings"
    _quiet_lab_settings(settings)
    port, token = _free_port(), uuid.uuid4().hex
    log = tmp_path / "jupyterlab.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={work}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            env=_lab_environment(tmp_path),
            cwd=work,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(proc, f"{base}/api/status?token={token}", log)
        yield base, token, work
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server (it shuts its kernels down), then anything left in its process group."""
    if proc.poll() is None:
        proc.terminate()  # SIGTERM: the server stops its kernels and exits
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # a kernel the server left behind (same session)
    except ProcessLookupError:
        pass


@pytest.fixture
def driver(browser_paths, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = browser_paths
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    # chromedriver gives Chromium a fresh temporary profile (with --user-data-dir or --disable-gpu,
    # JupyterLab 4.6 never makes the notebook its current widget in headless Chromium 150).
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    try:
        yield browser
    finally:
        browser.quit()


def _explorer_parts(driver):
    """The k slider, its handle, its readout and the explorer's figure <img>, once all exist."""
    from selenium.webdriver.common.by import By

    sliders = [
        s
        for s in driver.find_elements(By.CSS_SELECTOR, ".widget-slider")
        if "signature k" in s.text
    ]
    if not sliders:
        return False
    box = sliders[0].find_element(By.XPATH, "ancestor::div[contains(@class, 'widget-vbox')][1]")
    images = box.find_elements(By.CSS_SELECTOR, ".widget-output img")
    if not images or not (images[0].get_attribute("src") or "").startswith("data:image/png"):
        return False
    return (
        sliders[0],
        sliders[0].find_element(By.CSS_SELECTOR, ".noUi-handle"),
        sliders[0].find_element(By.CSS_SELECTOR, ".widget-readout"),
        images[0],
    )


def _wait(driver, timeout: float, condition, what: str, tmp_path: Path):
    """WebDriverWait with a screenshot and the page's errors in the failure message."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(
            driver,
            timeout,
            poll_frequency=0.25,
            ignored_exceptions=(StaleElementReferenceException,),
        ).until(condition)
    except TimeoutException:
        shot = tmp_path / "browser-failure.png"
        driver.save_screenshot(str(shot))
        errors = " | ".join(
            e.text[:300]
            for e in driver.find_elements(
                "css selector", ".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']"
            )
        )
        pytest.fail(
            f"{what} within {timeout} s (screenshot {shot}); stderr in the page: {errors or 'none'}"
        )


def _run_all_cells(driver, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    def menu_item(d):
        items = d.find_elements(By.CSS_SELECTOR, "li[data-command='runmenu:run-all']")
        return items[0] if items and items[0].is_displayed() else False

    def open_run_menu(d):
        """Open the Run menu once the notebook's kernel is idle (before that, Run All waits)."""
        status = [
            (e.get_attribute("textContent") or "").strip()
            for e in d.find_elements(By.CSS_SELECTOR, ".jp-StatusBar-Item")
        ]
        if not any(t.startswith("Python 3") and t.endswith("| Idle") for t in status):
            return False
        item = menu_item(d)
        if item or d.find_elements(By.CSS_SELECTOR, ".lm-Menu"):  # open or opening: no 2nd click
            return item
        for entry in d.find_elements(By.CSS_SELECTOR, "#jp-MainMenu .lm-MenuBar-item"):
            if entry.text.strip() == "Run":
                entry.click()
        return False

    _wait(
        driver,
        PAGE_TIMEOUT_S,
        open_run_menu,
        "the notebook did not open with an idle kernel",
        tmp_path,
    ).click()


def test_lesson01_explorer_slider_redraws_the_figure_in_chromium(
    browser_paths, lab, driver, tmp_path
):
    """browser_paths first: without Chromium the test skips before JupyterLab starts."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    base, token, _ = lab
    started = time.monotonic()
    driver.get(f"{base}/lab/tree/lesson01.ipynb?token={token}")
    _run_all_cells(driver, tmp_path)
    slider, handle, readout, image = _wait(
        driver,
        RUN_TIMEOUT_S,
        _explorer_parts,
        "lesson 01 did not show the explorer with its figure",
        tmp_path,
    )
    assert readout.text.strip() == "60", f"readout {readout.text!r} at the start, expected '60'"
    before = image.get_attribute("src")

    # One right-arrow on the focused handle: one 5° step, the readout an integer, a new figure.
    driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center'}); arguments[0].focus();", handle
    )
    handle.send_keys(Keys.ARROW_RIGHT)
    _, _, readout, image = _wait(
        driver,
        REDRAW_TIMEOUT_S,
        lambda d: (
            (p := _explorer_parts(d))
            and p[2].text.strip() == "65"
            and p[3].get_attribute("src") != before
            and p
        ),
        "the right-arrow key did not move k to 65 and redraw the figure",
        tmp_path,
    )
    after_key = image.get_attribute("src")

    # A drag of 40 px moves k by whole 5° steps: a few of them, not hundreds of degrees.
    _, handle, _, _ = _explorer_parts(driver)
    ActionChains(driver).drag_and_drop_by_offset(handle, 40, 0).perform()
    slider, _, readout, image = _wait(
        driver,
        REDRAW_TIMEOUT_S,
        lambda d: (
            (p := _explorer_parts(d))
            and p[2].text.strip() not in ("65", "")
            and p[3].get_attribute("src") not in (after_key, before)
            and p
        ),
        "a drag did not move k and redraw the figure",
        tmp_path,
    )
    dragged = readout.text.strip()
    assert dragged.isdigit(), f"readout {dragged!r} after a drag, expected whole degrees"
    k = int(dragged)
    slider.screenshot(str(tmp_path / "explorer-slider.png"))
    # 5° steps over a track of about 225 px: some 1.5° a pixel (before: 195° for a 60-pixel drag).
    assert k % 5 == 0 and 65 < k <= 65 + 90, f"a 40-pixel drag moved k from 65 to {k}°"
    elapsed = time.monotonic() - started
    print(f"browser test: k 60 -> 65 (arrow) -> {k} (drag); {elapsed:.1f} s in the page")
