"""How long an HTML report takes to open in headless Chromium, and to sort
and filter once open (bench/html runs it; not a test: nothing is asserted).

    python3 bench/html_open.py REPORT.html [--runs 5] [--screenshot PNG] [--dark]

For each run, in a fresh browser: the page's own Navigation Timing (response
end, DOMContentLoaded, load), then a click on a header and a filter typed,
each timed in the page up to a forced layout. Prints one JSON object: the
median and the range of each figure, in milliseconds. Uses Debian's
/usr/bin/chromium and /usr/bin/chromedriver (never a downloaded driver).
"""

import argparse
import json
import os
import pathlib
import statistics
import time

# Selenium Manager never looks for (or downloads) a driver or a browser.
os.environ["SE_OFFLINE"] = "true"

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

TIMING = """
var n = performance.getEntriesByType('navigation')[0];
return {dom_content_loaded: n.domContentLoadedEventEnd, load: n.loadEventEnd, response_end: n.responseEnd};
"""

# Each action timed up to a forced layout (what the reader waits for, less the paint).
SORT = """
var t = performance.now();
document.querySelector('#results thead th:nth-child(4) button').click();
document.body.offsetHeight;
return performance.now() - t;
"""
FILTER = """
var box = document.getElementById('filter'), t = performance.now();
box.value = 'status/404';
box.dispatchEvent(new Event('input'));
document.body.offsetHeight;
return [performance.now() - t, document.getElementById('shown').textContent];
"""


def browser(width, height):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(executable_path="/usr/bin/chromedriver"))


def one_run(url):
    driver = browser(1280, 900)
    try:
        started = time.monotonic()
        driver.get(url)  # returns once the load event has fired
        wall = (time.monotonic() - started) * 1000
        WebDriverWait(driver, 60).until(lambda d: d.find_element("id", "shown").text.endswith("rows"))
        figures = driver.execute_script(TIMING)
        figures["driver_get"] = wall
        figures["sort_click"] = driver.execute_script(SORT)
        figures["filter"], shown = driver.execute_script(FILTER)
        figures["rows"] = driver.execute_script("return document.querySelectorAll('#results tbody tr').length;")
        return figures, shown
    finally:
        driver.quit()


def screenshot(url, path, dark):
    driver = browser(1100, 820)
    try:
        if dark:
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                                   {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        driver.get(url)
        driver.save_screenshot(path)
    finally:
        driver.quit()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("report")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--screenshot")
    parser.add_argument("--dark", action="store_true")
    args = parser.parse_args()
    url = pathlib.Path(args.report).resolve().as_uri()
    if args.screenshot:
        screenshot(url, args.screenshot, args.dark)
        return
    runs = [one_run(url) for _ in range(args.runs)]
    keys = ["response_end", "dom_content_loaded", "load", "driver_get", "sort_click", "filter"]
    summary = {"report_bytes": pathlib.Path(args.report).stat().st_size, "rows": runs[0][0]["rows"],
               "filter_shows": runs[0][1], "runs": args.runs}
    for key in keys:
        values = [r[0][key] for r in runs]
        summary[key + "_ms"] = {"median": round(statistics.median(values), 1),
                                "min": round(min(values), 1), "max": round(max(values), 1)}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
