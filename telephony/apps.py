from __future__ import annotations

from django.apps import AppConfig


class TelephonyConfig(AppConfig):
    name = "telephony"
    verbose_name = "Telephony"

    def ready(self) -> None:
        from calls.signals import call_status_changed
        from telephony.callbacks import on_call_status_changed

        # Every status change, whoever made it, reaches the call's callback_url once.
        call_status_changed.connect(on_call_status_changed, dispatch_uid="telephony-callbacks")
