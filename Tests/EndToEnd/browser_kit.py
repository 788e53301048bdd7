"""What the browser suites share (12-pages.sh's pages_browser.py, 15-credential-pages.sh's
credential_pages.py): headless Chromium as they start it, and a browser that does what a person
does on the admin pages (follow a link, fill a field, press a button, read a notice or an error)
and looks at the page as served and as it is now.
"""

import os
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def make_driver(log_dir):
    """Headless Chromium (Debian's chromium and chromedriver) at 1440 x 900, its log in `log_dir`."""
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root, in a container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-sync",
        "--disable-features=Translate,PasswordLeakDetection,AutofillServerCommunication",
        "--password-store=basic",
        "--lang=en-US",
        "--force-device-scale-factor=1",
        "--hide-scrollbars",
        "--window-size=1440,900",
    ):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"credentials_enable_service": False, "profile.password_manager_enabled": False})
    service = Service(executable_path="/usr/bin/chromedriver", log_output=os.path.join(log_dir, "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(20)
    return driver


def xpath_literal(text):
    """`text` as an XPath 1.0 string literal, whatever quotes it holds."""
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    return "concat(" + ", \"'\", ".join(f"'{part}'" for part in text.split("'")) + ")"


class PageBrowser:
    """A person on the pages under `base` (the mount's URL)."""

    def __init__(self, driver, base):
        self.d = driver
        self.base = base
        self.mount = urlsplit(base).path
        self.axed = set()

    # -- navigation ---------------------------------------------------------------------------
    def get(self, path):
        self.d.get(self.base + path)

    def path(self):
        return urlsplit(self.d.current_url).path

    def url_query(self):
        return urlsplit(self.d.current_url).query

    def h1(self):
        found = self.d.find_elements(By.CSS_SELECTOR, "main h1")
        return found[0].text if found else ""

    def submit(self, button):
        """Clicks a submit button (or a link) and waits for the next page to load."""
        page = self.d.find_element(By.TAG_NAME, "html")
        button.click()

        def replaced(driver):
            try:
                page.is_enabled()
                return False
            except WebDriverException:  # stale, or "node ... does not belong to the document" mid-navigation
                return True

        WebDriverWait(self.d, 15).until(replaced)
        WebDriverWait(self.d, 15).until(lambda d: d.execute_script("return document.readyState") == "complete")

    click_link = submit

    def main_submit(self):
        return self.d.find_element(By.CSS_SELECTOR, "main form button[type=submit]")

    # -- what a person does: type, tick, press a button, follow a link ----------------------------
    def fill(self, field_id, text):
        field = self.d.find_element(By.ID, field_id)
        field.clear()
        if text:
            field.send_keys(text)
        return field

    def tick(self, input_id):
        """Clicks the label of a checkbox or radio button (which toggles it)."""
        self.d.find_element(By.CSS_SELECTOR, f"label[for='{input_id}']").click()

    def tick_value(self, name, value, on=True):
        """Sets the checkbox or radio button `name` with `value` (by clicking its label)."""
        box = self.d.find_element(By.XPATH, f"//main//input[@name={xpath_literal(name)}][@value={xpath_literal(value)}]")
        if box.is_selected() != on:
            self.tick(box.get_attribute("id"))
        return box

    def press(self, label, *, named=None):
        """Clicks the button of `main` that reads `label` (or whose aria-label is `named`) and waits for the next page."""
        how = f"@aria-label={xpath_literal(named)}" if named else f"normalize-space()={xpath_literal(label)}"
        self.submit(self.d.find_element(By.XPATH, f"//main//button[{how}]"))

    def follow(self, label, *, named=None):
        """Follows the link of `main` that reads `label` (or whose aria-label is `named`)."""
        how = f"@aria-label={xpath_literal(named)}" if named else f"normalize-space()={xpath_literal(label)}"
        self.click_link(self.d.find_element(By.XPATH, f"//main//a[{how}]"))

    # -- what a person reads -----------------------------------------------------------------------
    def main_text(self):
        return self.d.find_element(By.TAG_NAME, "main").text

    def notice(self):
        found = self.d.find_elements(By.CSS_SELECTOR, "main p.notice")
        return found[0].text if found else ""

    def field_error(self, field_id):
        found = self.d.find_elements(By.ID, field_id + "-error")
        return found[0].text if found else None

    def error_code(self):
        found = self.d.find_elements(By.XPATH, "//main//p[starts-with(normalize-space(), 'Error code:')]/code")
        return found[0].text if found else None

    def table_rows(self):
        """The rows of the page's tables, each a dict of its cells' texts by their labels."""
        return self.d.execute_script(
            "return Array.from(document.querySelectorAll('main table tbody tr')).map(function (r) {"
            " var o = {}; r.querySelectorAll('td[data-label]').forEach(function (c) { o[c.getAttribute('data-label')] = c.innerText.trim(); });"
            " return o; })"
        )

    def nav(self):
        return [a.text for a in self.d.find_elements(By.CSS_SELECTOR, "header nav a")]

    def no_alert(self):
        try:
            text = self.d.switch_to.alert.text
            self.d.switch_to.alert.dismiss()
            return f"an alert: {text!r}"
        except NoAlertPresentException:
            return None

    def everything(self):
        """The page as served and as it is now: source, DOM, visible text, form values, copy
        targets, title and URL; where a secret must not be."""
        return self.d.execute_script(
            "return [document.documentElement.outerHTML, document.body ? document.body.innerText : '', document.title,"
            " Array.from(document.querySelectorAll('input,textarea,select')).map(function (e) { return e.value; }).join(' '),"
            " Array.from(document.querySelectorAll('[data-copy]')).map(function (e) { return e.getAttribute('data-copy'); }).join(' '),"
            " location.href].join('\\n')"
        ) + "\n" + self.d.page_source + "\n" + self.d.current_url

    def overflow(self, width):
        """How many px the page at `width` px (a phone's viewport below 600) scrolls sideways, and
        what sticks out: elements past the right edge, or whose text overflows them."""
        self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 600})
        overflow = self.d.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        wide = self.d.execute_script(
            "var w = document.documentElement.clientWidth; return Array.from(document.querySelectorAll('body *'))"
            ".filter(function (e) { return e.getBoundingClientRect().right > w + 0.5 || (e.scrollWidth > e.clientWidth + 1"
            " && getComputedStyle(e).overflowX === 'visible'); })"
            ".slice(0, 3).map(function (e) { return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : '')"
            " + ' ' + Math.round(e.getBoundingClientRect().right) + 'px'; })"
        ) if overflow > 0 else []
        self.d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        return overflow, wide
