"""``manage.py plan_reminders``: plan reminder jobs for published sessions that have none waiting
(run once after upgrading to a version with reminders; ``make demo`` runs it after loading the demo).
Safe to run again: sessions with waiting reminder jobs are left alone, and reminders are deduplicated."""

from typing import Any

from django.core.management.base import BaseCommand

from notices.reminders import reminders_plan_all


class Command(BaseCommand):
    help = "Plan reminder jobs for upcoming published sessions that have none waiting."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"{reminders_plan_all()} reminder job(s) planned")
