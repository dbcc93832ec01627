from django.core.management.base import BaseCommand

from events.demo import DEMO_ACCOUNTS
from frontend.demo import load_demo


class Command(BaseCommand):
    help = "Load the demo program (a month-long photography night school). Safe to run twice."

    def handle(self, *args, **options):
        result = load_demo()
        series = result.series
        if result.created:
            self.stdout.write(self.style.SUCCESS(f"Loaded {series.sessions.count()} sessions: {series.title}"))
        else:
            self.stdout.write(f"Demo program already loaded ({series.title}); nothing changed.")
        for username, (password, *_rest) in DEMO_ACCOUNTS.items():
            self.stdout.write(f"  account {username!r} / password {password!r}")
