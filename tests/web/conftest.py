"""Shared by the browser checks of tests/web: headless Debian Chromium, driven by selenium
through Debian's chromedriver. Where either is missing the checks are skipped with the
reason, except under CI=true, where they fail (.ci/run installs chromium and chromium-driver).
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest


@pytest.fixture(scope="module")
def start_chromium(tmp_path_factory):
    """A function that starts headless Chromium with a ``width`` x ``height`` window and
    returns its selenium driver (browser console logged in full); every driver it started
    quits at the end of the test module."""
    drivers = []

    def start(width: int, height: int, *, script_timeout: float = 60):
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        chromedriver = shutil.which("chromedriver")
        missing = None
        if not (chromium and chromedriver):
            missing = ("the browser checks need Debian's chromium and chromium-driver "
                       "(apt-get install chromium chromium-driver)")
        elif importlib.util.find_spec("selenium") is None:
            missing = "selenium is not installed: pip install -r requirements.txt -c constraints.txt"
        if missing:
            if os.environ.get("CI") == "true":
                pytest.fail(f"{missing} (CI=true: the browser checks must run; .ci/run installs them)")
            pytest.skip(missing)
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-quic", "--hide-scrollbars", "--force-device-scale-factor=1",
                    f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
                    f"--window-size={width},{height}"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(chromedriver), options=options)
        drivers.append(driver)
        driver.set_page_load_timeout(60)
        driver.set_script_timeout(script_timeout)
        return driver

    yield start
    for driver in drivers:
        driver.quit()
