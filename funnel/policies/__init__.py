"""Conversation policies: one decision per caller turn, for each kind of call. No Django here."""

from __future__ import annotations

from funnel.policies.base import Decision, Policy, Reply, Turn
from funnel.policies.interactive import InteractivePolicy
from funnel.policies.sales import FunnelPolicy
from funnel.policies.scripted import ScriptedPolicy

__all__ = ["Decision", "FunnelPolicy", "InteractivePolicy", "Policy", "Reply", "ScriptedPolicy", "Turn"]
