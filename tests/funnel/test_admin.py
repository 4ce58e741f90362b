from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from funnel.models import Script

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("ops", "ops@example.test", "pw-for-tests"))
    return client


def test_it_lists_and_edits_scripts_in_the_admin(staff):
    script = Script.objects.create(name="Solar", is_default=True)
    assert "Solar" in staff.get("/admin/funnel/script/").content.decode()
    page = staff.get(f"/admin/funnel/script/{script.pk}/change/")
    assert page.status_code == 200 and "qualifying_question" in page.content.decode()
    data = {
        "name": "Solar",
        "is_default": "on",
        "agent_name": "Riley",
        "company": "Sunny Co",
        "product": "solar",
        "qualifying_question": "Do you own?",
        "pitch": "Cheap power.",
        "closing_offer": "Book now?",
    }
    response = staff.post(f"/admin/funnel/script/{script.pk}/change/", data)
    assert response.status_code == 302
    script.refresh_from_db()
    assert (script.agent_name, script.company) == ("Riley", "Sunny Co")
