"""python manage.py purge_calls [--days N]: delete finished calls past RETENTION_DAYS."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from calls.services import calls_purge_expired


class Command(BaseCommand):
    help = "Delete finished calls and their transcripts older than RETENTION_DAYS (live calls are kept)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=None, help="override RETENTION_DAYS")

    def handle(self, *args, days: int | None, **options) -> None:
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1")
        count = calls_purge_expired(older_than_days=days)
        kept = days if days is not None else settings.RETENTION_DAYS
        self.stdout.write(f"Deleted {count} call(s) older than {kept} days.")
