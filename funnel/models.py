"""The sales script a funnel call follows: the writer fills its lines from these fields."""

from __future__ import annotations

from django.db import models


class Script(models.Model):
    name = models.CharField(max_length=80, unique=True)
    agent_name = models.CharField(max_length=60, default="Alex")
    company = models.CharField(max_length=80, default="Brightside Solar")
    product = models.CharField(max_length=120, default="a rooftop solar plan with no upfront cost")
    qualifying_question = models.CharField(
        max_length=300, default="Do you own your home, and is your power bill over a hundred dollars a month?"
    )
    pitch = models.TextField(
        default=(
            "We install panels for free and you pay a fixed monthly rate that is usually "
            "lower than your current bill."
        )
    )
    closing_offer = models.CharField(
        max_length=300, default="Can I book a free fifteen-minute consultation for you this week?"
    )
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="script_single_default",
            )
        ]

    def __str__(self) -> str:
        return self.name
