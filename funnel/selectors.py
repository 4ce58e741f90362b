from __future__ import annotations

from funnel.models import Script


def script_get_default() -> Script:
    """The script marked default, else the first one, else a new one with the built-in lines."""
    script = Script.objects.filter(is_default=True).first() or Script.objects.order_by("pk").first()
    if script is None:
        script = Script.objects.create(name="Default", is_default=True)
    return script
