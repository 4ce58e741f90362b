"""Tell the caller of our API when a call's status changes: POST to its `callback_url`.

Delivery runs on background threads so no webhook or stream ever waits on someone else's
server. Notifications for one call go out in order (one worker per call drains its
queue); different calls do not wait on each other. Failures are retried with backoff,
then logged and dropped.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from calls.models import Call
from voiceagent.logging import get_logger

log = get_logger("telephony.callbacks")

BACKOFF_SECONDS = 0.5  # doubled after each failed attempt

_lock = threading.Lock()
_queues: dict[str, deque[dict[str, Any]]] = {}
_workers: dict[str, threading.Thread] = {}


def callback_payload(call: Call) -> dict[str, Any]:
    return {
        "call_sid": call.sid,
        "status": call.status,
        "end_reason": call.end_reason,
        "funnel_state": call.funnel_state,
    }


def notify_status_change(call: Call) -> None:
    """Queue a POST of the call's current status to its callback_url, if it has one.

    The payload is taken now, so what is sent is the state at the moment of the change.
    """
    if not call.callback_url:
        return
    job = {"url": call.callback_url, "payload": callback_payload(call)}
    with _lock:
        _queues.setdefault(call.sid, deque()).append(job)
        if call.sid in _workers:
            return
        worker = threading.Thread(target=_drain, args=(call.sid,), name=f"callback-{call.sid}", daemon=True)
        _workers[call.sid] = worker
    worker.start()


def on_call_status_changed(sender, *, call: Call, **kwargs) -> None:
    notify_status_change(call)


def wait_idle(timeout: float = 5.0) -> bool:
    """Block until every queued notification was delivered or given up (tests, shutdown)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _lock:
            if not _workers:
                return True
        time.sleep(0.01)
    return False


def _drain(call_sid: str) -> None:
    while True:
        with _lock:
            queue = _queues.get(call_sid)
            if not queue:
                _queues.pop(call_sid, None)
                _workers.pop(call_sid, None)
                return
            job = queue.popleft()
        _deliver(call_sid, job["url"], job["payload"])


def _deliver(call_sid: str, url: str, payload: dict[str, Any]) -> bool:
    attempts = 1 + settings.CALLBACK_RETRIES
    host = urlsplit(url).hostname or ""  # the full URL may carry a secret; log the host only
    why = ""
    for attempt in range(1, attempts + 1):
        try:
            response = httpx.post(url, json=payload, timeout=settings.CALLBACK_TIMEOUT_SECONDS)
        except httpx.HTTPError as exc:
            why = exc.__class__.__name__
        else:
            if response.is_success:
                log.info(
                    "status callback delivered",
                    extra={
                        "event": "callback_delivered",
                        "call_sid": call_sid,
                        "status": payload["status"],
                        "host": host,
                        "attempt": attempt,
                    },
                )
                return True
            why = f"http {response.status_code}"
            if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                break  # the receiver refuses this request; sending it again will not help
        if attempt < attempts:
            time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
    log.warning(
        "status callback failed",
        extra={
            "event": "callback_failed",
            "call_sid": call_sid,
            "status": payload["status"],
            "host": host,
            "why": why,
        },
    )
    return False
