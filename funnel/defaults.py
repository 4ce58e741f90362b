"""The classifier, writer and chat model a call gets when none is injected, chosen from settings."""

from __future__ import annotations

from django.conf import settings

from funnel.classifier import IntentClassifier, LLMClassifier, RuleClassifier
from funnel.writers import LineWriter, LLMWriter, OfflineWriter
from telephony.providers.base import ChatModel
from telephony.providers.factory import get_chat_model


def default_chat_model() -> ChatModel | None:
    """The configured chat model, or None to run offline (rules and templates)."""
    return get_chat_model()


def default_classifier(chat_model: ChatModel | None) -> IntentClassifier:
    if chat_model is None:
        return RuleClassifier()
    return LLMClassifier(chat_model, timeout=settings.LLM_TIMEOUT_SECONDS)


def default_writer(chat_model: ChatModel | None) -> LineWriter:
    if chat_model is None:
        return OfflineWriter()
    return LLMWriter(chat_model, timeout=settings.LLM_TIMEOUT_SECONDS)
