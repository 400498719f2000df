"""Browser tests: the real server, processor and live simulator on a fresh demo park,
driven in Debian's Chromium through Playwright (see conftest.py and docs/operations.md)."""
