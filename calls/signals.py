"""Signals other apps listen to; sent only after the change has committed."""

from __future__ import annotations

from django.dispatch import Signal

# Sent with `call` (a snapshot of the Call as it was just saved) whenever its status changes.
call_status_changed = Signal()
