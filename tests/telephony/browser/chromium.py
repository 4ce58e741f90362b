"""Headless Debian Chromium driven by Playwright (never `playwright install`)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import service_unavailable

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))

BASE_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


def require_chromium() -> None:
    """Skip (or fail under REQUIRE_SERVICES=1) when Chromium or Playwright is missing."""
    if not CHROMIUM.exists():
        service_unavailable(f"Chromium at {CHROMIUM} (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        service_unavailable("the playwright package (pip install -r requirements.txt)")


def launch_args(*, fake_audio: Path | None = None) -> list[str]:
    """Chromium's flags; `fake_audio` is a WAV the fake microphone plays (and loops)."""
    args = list(BASE_ARGS)
    if fake_audio is not None:
        args.append(f"--use-file-for-fake-audio-capture={fake_audio}")
    return args
