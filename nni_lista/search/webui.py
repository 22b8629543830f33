"""Look at NNI's web UI the way a person does: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by selenium) opens the trial page, finds the trials and their final
metric, opens the per-layer intermediate curves and saves a screenshot.

Used by the web UI tests and by ``examples/nnictl_tpe_webui.py``. The flags keep Chromium off
the network (no background services), as this machine's closed network wants.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)
_TAB = "//button[@role='tab' and @name='Intermediate result']"


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        raise RuntimeError(
            f"headless Chromium is missing ({', '.join(missing)}): apt-get install chromium chromium-driver"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))


def column_choices(url: str, trial_ids: Sequence[str], timeout: float = 60) -> str:
    """The text of the trial table's "Add/Remove columns" dialog at ``url``/detail: the columns
    a user can add, among them every named entry of the trials' dict final metrics."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = _browser()
    try:
        driver.get(f"{url}/detail")
        WebDriverWait(driver, timeout).until(lambda d: all(t in d.page_source for t in trial_ids))
        driver.find_element(By.XPATH, "//button[.//span[text()='Add/Remove columns']]").click()
        WebDriverWait(driver, timeout).until(lambda d: "Customize columns" in d.find_element(By.TAG_NAME, "body").text)
        return driver.find_element(By.CSS_SELECTOR, "div[role='dialog']").text
    finally:
        driver.quit()


def show_trials(
    url: str, trial_ids: Sequence[str], finals: Sequence[float], screenshot: Path, timeout: float = 60
) -> None:
    """Open ``url``/detail, check that every trial id and final metric (as NNI prints it) is
    shown, switch to the intermediate-result chart and save ``screenshot`` (PNG)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = _browser()
    try:
        driver.get(f"{url}/detail")
        WebDriverWait(driver, timeout).until(lambda d: all(t in d.page_source for t in trial_ids))
        text = driver.find_element(By.TAG_NAME, "body").text
        for final in finals:
            shown = f"{final:.6f}".rstrip("0")  # NNI shows six decimals without trailing zeros
            if shown not in text:
                raise AssertionError(f"final metric {shown} is not shown in the web UI")
        driver.find_element(By.XPATH, _TAB).click()
        WebDriverWait(driver, timeout).until(
            lambda d: d.find_element(By.XPATH, _TAB).get_attribute("aria-selected") == "true"
        )
        WebDriverWait(driver, timeout).until(lambda d: d.find_elements(By.CSS_SELECTOR, "div[role='tabpanel'] canvas"))
        time.sleep(1.0)  # the chart animates in
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        if not driver.save_screenshot(str(screenshot)):
            raise RuntimeError(f"could not write {screenshot}")
    finally:
        driver.quit()


#: where NNI 3.0's web UI bundle (Fluent UI's ``initializeIcons``) fetches its icon font from
ICON_FONT_HOST = "res-1.cdn.office.net"


def overview(url: str, timeout: float = 60) -> dict:
    """NNI's overview page at ``url``: its text (``"text"``: the experiment's name is shown there)
    and the load status of every icon font the page declared (``"icon_fonts"``: family ->
    ``loaded``, ``error`` or ``unloaded``), read from ``document.fonts`` once the page asked for them."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = _browser()
    try:
        driver.get(f"{url}/oview")
        WebDriverWait(driver, timeout).until(lambda d: "Best metric" in d.find_element(By.TAG_NAME, "body").text)
        WebDriverWait(driver, timeout).until(
            lambda d: d.execute_script(
                "return [...document.fonts].some(f => f.family.includes('FabricMDL2Icons') && ['loaded', "
                "'error'].includes(f.status))"
            )
        )
        time.sleep(1.0)  # later icon subsets are declared as the page renders
        fonts = driver.execute_script(
            "return [...document.fonts].filter(f => f.family.includes('FabricMDL2Icons')).map(f => [f.family, "
            "f.status])"
        )
        return {
            "text": driver.find_element(By.TAG_NAME, "body").text,
            "icon_fonts": {family.strip("\"'"): status for family, status in fonts},
        }
    finally:
        driver.quit()
