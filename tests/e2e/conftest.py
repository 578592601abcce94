"""The real-browser fixtures (system Chromium driven by Playwright, the app served by uvicorn), shared by every
browser test module; they are defined in test_browser.py."""

from tests.e2e.test_browser import browser, live_url  # noqa: F401 -- fixtures, found by pytest by name
