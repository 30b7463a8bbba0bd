from django.core.management.base import BaseCommand

from tenants.staff_roles import sync_groups


class Command(BaseCommand):
    help = "Create or update the staff groups (Admin, Operator, Sales) and their permissions."

    def handle(self, *args, **options):
        sync_groups()
        self.stdout.write("Staff groups are up to date.")
