"""Bill a month by hand (beat does it every night): `manage.py billing_run 2026 4 [--issue]`."""

from django.core.management.base import BaseCommand

from billing.actions import billing_run


class Command(BaseCommand):
    help = "Draft (and with --issue, issue) every tenant's invoice for a month; safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("year", type=int)
        parser.add_argument("month", type=int)
        parser.add_argument("--issue", action="store_true")

    def handle(self, *args, year, month, issue, **options):
        run = billing_run(year=year, month=month, issue=issue)
        self.stdout.write(f"{run.period:%Y-%m}: {run.drafted} invoices, {run.issued} issued, {len(run.problems)} need attention")
