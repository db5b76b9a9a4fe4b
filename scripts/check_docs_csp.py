"""/docs and /redoc in a real browser: both render under their Content-Security-Policy.

Starts the app with gunicorn (production configuration, a fresh SQLite database in a temporary
folder) on a free port, opens each page in headless Chromium (Debian's `chromium` and
`chromium-driver`, through selenium), waits until it has rendered the API (Swagger UI: the
operation blocks; ReDoc: the API's title and its operations), and fails on any CSP violation
(the page's `securitypolicyviolation` events and the console's "Refused to ..." messages) and on
any JavaScript error in the console. Screenshots of both go to a temporary folder, printed.

    python scripts/check_docs_csp.py   (or `make check-docs`, which installs Chromium when missing)
"""

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.processes import ServerDidNotStart, start_gunicorn  # noqa: E402  (the checkout's own)

RENDER_TIMEOUT = 30

# Runs in each page before its own scripts (DevTools' addScriptToEvaluateOnNewDocument, which the
# page's CSP does not govern): keeps every violation the page reports.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " blocked " + (event.blockedURI || "inline")
    + " (" + (event.sourceFile || "") + ":" + event.lineNumber + ")");
});
"""

# What "rendered" means for each page: a script returning true once the API is on screen.
PAGES = {
    "/docs": "return document.querySelectorAll('.opblock').length >= 10 "
    "&& document.querySelector('.info .title') !== null",
    "/redoc": "return document.querySelectorAll('[data-section-id^=\"operation/\"]').length >= 10 "
    "&& Array.from(document.querySelectorAll('h1')).some(h => h.textContent.includes(arguments[0]))",
}


def start_server(folder):
    env = {
        **os.environ,
        "APP_ENV": "production",
        "DATABASE_URL": f"sqlite:///{folder / 'journal.db'}",
        "RATELIMIT_STORAGE_URI": f"sqlite-file://{folder / 'ratelimits.sqlite'}",
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "DATA_ENCRYPTION_KEYS": "docs:" + secrets.token_urlsafe(32),
        "WEB_CONCURRENCY": "1",
    }
    env.pop("REDIS_URL", None)
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    try:
        return start_gunicorn(env, folder / "server.log")
    except ServerDidNotStart as error:
        sys.exit(f"docs: {error}")


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_VIOLATIONS})
    return driver


def check_page(driver, base, path, rendered, title, screenshots):
    """The problems seen on one page: [] when it rendered with no violation and no error."""
    driver.get_log("browser")  # start from an empty console
    driver.get(base + path)
    problems = []
    try:
        WebDriverWait(driver, RENDER_TIMEOUT).until(lambda d: d.execute_script(rendered, title))
    except TimeoutException:
        problems.append(f"{path} did not render within {RENDER_TIMEOUT} s")
    time.sleep(1)  # late violations (styles injected after the first paint) reach the console
    screenshot = screenshots / f"{path.strip('/')}.png"
    driver.save_screenshot(str(screenshot))
    violations = driver.execute_script("return window.__cspViolations || []")
    problems += [f"{path}: CSP violation: {violation}" for violation in violations]
    for entry in driver.get_log("browser"):
        message = entry["message"]
        if "Content Security Policy" in message or "Refused to" in message:
            problems.append(f"{path}: console: {message}")
        elif entry["level"] == "SEVERE":
            problems.append(f"{path}: console error: {message}")
    return problems, len(violations), screenshot


def main():
    from config import Config

    folder = Path(tempfile.mkdtemp(prefix="check-docs-"))
    base, process, listener = start_server(folder)
    driver = None
    try:
        driver = browser()
        problems, violations, shots = [], 0, []
        for path, rendered in PAGES.items():
            found, count, screenshot = check_page(driver, base, path, rendered, Config.API_TITLE, folder)
            problems += found
            violations += count
            shots.append(str(screenshot))
    finally:
        if driver is not None:
            driver.quit()
        process.terminate()
        process.wait(20)
        listener.close()
    print(f"docs: screenshots in {' '.join(shots)}")
    if problems:
        print("\n".join(problems))
        print(f"docs: FAILED, {len(problems)} problem(s), {violations} CSP violations")
        return 1
    print(f"docs: {' and '.join(PAGES)} rendered, {violations} CSP violations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
