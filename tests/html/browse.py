"""Opens statuscheck's HTML report in headless Chromium and checks what a
reader gets: no request leaves the file, no console error, sorting and
filtering work, the table is there with JavaScript off, and nothing a
server sent runs.

    python3 tests/html/browse.py REPORT.html EXPECT.json SCREENSHOT.png

EXPECT.json: {"rows": N, "down": N, "filter": "TEXT", "filtered": N}.
Exits non-zero with the reason on the first check that fails. The driver is
Debian's /usr/bin/chromedriver for Debian's /usr/bin/chromium: Selenium
Manager is never asked to download one.
"""

import base64
import json
import os
import pathlib
import sys

# Selenium Manager never looks for (or downloads) a driver or a browser.
os.environ["SE_OFFLINE"] = "true"

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

# Runs before the page's own script (CDP scripts are not under the page's
# CSP): counts alert() calls, so a payload that got to run is seen even
# where a dialog would not be.
WATCH_ALERTS = "window.__alerts = []; window.alert = function (m) { window.__alerts.push(String(m)); };"


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def browser(javascript):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-default-apps", "--metrics-recording-only"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


def visible_rows(driver):
    return driver.execute_script(
        "return Array.prototype.filter.call(document.querySelectorAll('#results tbody tr'),"
        " function (r) { return !r.hidden; }).length;")


def column(driver, index):
    """The data-v of column `index` in the rows' current order."""
    return driver.execute_script(
        "var i = arguments[0]; return Array.prototype.map.call(document.querySelectorAll('#results tbody tr'),"
        " function (r) { return r.cells[i].getAttribute('data-v'); });", index)


def requests(driver):
    """Every URL the page asked for, from the DevTools Network events."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls



def only_the_file_and_no_errors(driver, url, when):
    """No console error, and no request but the page's own (which the
    DevTools log must have seen, or it could not have seen others)."""
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    if errors:
        fail(f"{when}console errors: {errors}")
    seen = requests(driver)
    if url not in seen:
        fail(f"{when}the DevTools log did not see the page's own request, so it could not see others: {seen}")
    leaving = [u for u in seen if u != url]
    if leaving:
        fail(f"{when}requests other than the file itself: {leaving}")

def check_sorted(values, descending):
    numbers = [float(v) for v in values if v not in ("", None)]
    empties = [v for v in values if v in ("", None)]
    if values[len(numbers):] != empties:
        fail(f"rows without a value are not last: {values}")
    if numbers != sorted(numbers, reverse=descending):
        fail(f"column not sorted {'descending' if descending else 'ascending'}: {numbers}")


def with_javascript(url, expect, screenshot):
    driver = browser(javascript=True)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_ALERTS})
        driver.get(url)
        WebDriverWait(driver, 20).until(lambda d: d.find_element(By.ID, "shown").text.endswith("rows"))

        first = driver.find_element(By.CSS_SELECTOR, "#results tbody tr").get_attribute("data-state")
        if first != "down":
            fail(f"the first row is {first}: the rows not up come first")
        total = visible_rows(driver)
        if total != expect["rows"]:
            fail(f"{total} rows visible, expected {expect['rows']}")

        # Sorting: the Code column (index 2), then again the other way.
        header = driver.find_element(By.CSS_SELECTOR, "#results thead th:nth-child(3) button")
        header.click()
        check_sorted(column(driver, 2), descending=False)
        if driver.find_element(By.CSS_SELECTOR, "#results thead th:nth-child(3)").get_attribute("aria-sort") != "ascending":
            fail("the sorted header does not say so (aria-sort)")
        header.click()
        check_sorted(column(driver, 2), descending=True)
        # State sorts worst first.
        driver.find_element(By.CSS_SELECTOR, "#results thead th:nth-child(1) button").click()
        first = driver.find_element(By.CSS_SELECTOR, "#results tbody tr").get_attribute("data-state")
        if first != "down":
            fail(f"sorted by state, the first row is {first}, not down")

        # Filtering: text, then state, then both cleared.
        box = driver.find_element(By.ID, "filter")
        box.send_keys(expect["filter"])
        if visible_rows(driver) != expect["filtered"]:
            fail(f"filter {expect['filter']!r}: {visible_rows(driver)} rows, expected {expect['filtered']}")
        if not driver.find_element(By.ID, "shown").text.startswith(f"{expect['filtered']} of "):
            fail(f"the count says {driver.find_element(By.ID, 'shown').text!r}")
        box.clear()
        box.send_keys(" ")  # an input event with an empty filter
        Select(driver.find_element(By.ID, "state")).select_by_visible_text("down")
        if visible_rows(driver) != expect["down"]:
            fail(f"state down: {visible_rows(driver)} rows, expected {expect['down']}")
        Select(driver.find_element(By.ID, "state")).select_by_visible_text("all")
        if visible_rows(driver) != expect["rows"]:
            fail("clearing the filters does not show every row again")

        # Nothing a server sent ran.
        if driver.execute_script("return window.__pwned;") is not None:
            fail(f"a hostile string ran: window.__pwned = {driver.execute_script('return window.__pwned;')}")
        alerts = driver.execute_script("return window.__alerts;")
        if alerts:
            fail(f"alert() was called: {alerts}")
        try:
            fail(f"an alert is open: {driver.switch_to.alert.text}")
        except NoAlertPresentException:
            pass
        scripts = driver.execute_script("return document.scripts.length;")
        if scripts != 1:
            fail(f"{scripts} script elements, expected the report's own one")

        only_the_file_and_no_errors(driver, url, "")

        driver.execute_script("window.scrollTo(0, 0);")
        driver.save_screenshot(screenshot)
        schemes_and_print(driver, screenshot)
        return total
    finally:
        driver.quit()


def background(driver):
    return driver.execute_script("return getComputedStyle(document.body).backgroundColor;")


def schemes_and_print(driver, screenshot):
    """Dark and light follow prefers-color-scheme; print media hides the
    controls and repeats the table head; the page prints to a PDF."""
    emulate = lambda **media: driver.execute_cdp_cmd("Emulation.setEmulatedMedia", media)
    emulate(features=[{"name": "prefers-color-scheme", "value": "light"}])
    light = background(driver)
    emulate(features=[{"name": "prefers-color-scheme", "value": "dark"}])
    dark = background(driver)
    if light != "rgb(255, 255, 255)" or dark != "rgb(13, 17, 23)":
        fail(f"colour schemes: light {light}, dark {dark}")
    driver.save_screenshot(screenshot.replace(".png", "-dark.png"))
    emulate(media="print", features=[{"name": "prefers-color-scheme", "value": "dark"}])
    if background(driver) != "rgb(255, 255, 255)":
        fail(f"printed dark: background {background(driver)}")
    shown = driver.execute_script(
        "return [getComputedStyle(document.getElementById('controls')).display,"
        " getComputedStyle(document.querySelector('#results thead')).display];")
    if shown != ["none", "table-header-group"]:
        fail(f"print media: controls and table head display as {shown}")
    emulate(media="", features=[])
    pdf = base64.b64decode(driver.print_page())
    if not pdf.startswith(b"%PDF") or len(pdf) < 10_000:
        fail(f"printing gave {len(pdf)} bytes")


def without_javascript(url, expect):
    driver = browser(javascript=False)
    try:
        driver.get(url)
        rows = driver.find_elements(By.CSS_SELECTOR, "#results tbody tr")
        if len(rows) != expect["rows"]:
            fail(f"JavaScript off: {len(rows)} rows, expected {expect['rows']}")
        if not rows[0].is_displayed() or not driver.find_element(By.ID, "results").is_displayed():
            fail("JavaScript off: the table is not shown")
        if driver.find_elements(By.CSS_SELECTOR, "#results th button"):
            fail("JavaScript off, yet the script made the sort buttons: it was not off")
        if driver.find_element(By.ID, "controls").is_displayed():
            fail("JavaScript off: the filter, which needs it, is shown")
        only_the_file_and_no_errors(driver, url, "JavaScript off: ")
    finally:
        driver.quit()


def main():
    report, expect, screenshot = sys.argv[1:4]
    url = pathlib.Path(report).resolve().as_uri()
    expect = json.loads(pathlib.Path(expect).read_text())
    rows = with_javascript(url, expect, screenshot)
    without_javascript(url, expect)
    print(json.dumps({"rows": rows, "screenshot": screenshot}))


if __name__ == "__main__":
    main()
