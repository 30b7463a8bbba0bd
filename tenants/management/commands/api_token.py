"""Staff: `manage.py api_token create --tenant SLUG --user EMAIL --name NAME [--role ROLE] [--expires DAYS]`.

Prints the new token on stdout (and nothing else there), so it can be captured by a script.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants import actions
from tenants.models import ApiToken, Role, Tenant


class Command(BaseCommand):
    help = "Create, list or revoke personal API tokens."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="command", required=True)
        create = sub.add_parser("create", help="Create a token and print it (shown only once).")
        create.add_argument("--tenant", required=True, help="tenant slug")
        create.add_argument("--user", required=True, help="e-mail of a member of the tenant")
        create.add_argument("--name", required=True)
        create.add_argument("--role", choices=Role.values, help="default: the user's role in the tenant")
        create.add_argument("--expires", type=int, metavar="DAYS", help="default: never")
        listing = sub.add_parser("list", help="List a tenant's tokens.")
        listing.add_argument("--tenant", required=True, help="tenant slug")
        revoke = sub.add_parser("revoke", help="Revoke a token by its prefix (jiku_...).")
        revoke.add_argument("prefix")

    def handle(self, *args, command, **options):
        return getattr(self, f"_{command}")(**options)

    def _create(self, *, tenant, user, name, role, expires, **_):
        tenant_obj = Tenant.objects.filter(slug=tenant).first()
        if tenant_obj is None:
            raise CommandError(f"No tenant with slug {tenant!r}.")
        user_obj = get_user_model().objects.filter(email__iexact=user).first()
        if user_obj is None:
            raise CommandError(f"No user with e-mail {user!r}.")
        try:
            token, text = actions.api_token_create(
                tenant=tenant_obj, user=user_obj, name=name, role=role, expires_days=expires,
                actor_label="manage.py api_token",
            )
        except PermissionDenied:
            raise CommandError(f"{user} is not a member of {tenant}.") from None
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stderr.write(f"Token {token.name!r} ({token.role}) for {user_obj.email} in {tenant_obj.slug}:")
        self.stdout.write(text)

    def _list(self, *, tenant, **_):
        for token in ApiToken.objects.filter(tenant__slug=tenant).select_related("user"):
            state = "revoked" if token.revoked_at else "expired" if token.is_expired else "active"
            last = token.last_used_at.isoformat() if token.last_used_at else "never"
            self.stdout.write(f"{token.prefix}\t{token.name}\t{token.user.email}\t{token.role}\t{state}\t{last}")

    def _revoke(self, *, prefix, **_):
        token = ApiToken.objects.filter(prefix=prefix).first()
        if token is None:
            raise CommandError(f"No token with prefix {prefix!r}.")
        try:
            actions.api_token_revoke(token=token, by=None, actor_label="manage.py api_token")
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"Revoked {token.prefix}.")
