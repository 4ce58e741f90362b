"""Settings for the Daphne server the browser tests start: the real ones, plus static files
served straight from the apps (a test run has no `collectstatic`)."""

from __future__ import annotations

from voiceagent.settings import *  # noqa: F403

WHITENOISE_USE_FINDERS = True
