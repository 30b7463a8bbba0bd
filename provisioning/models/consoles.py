"""Console sessions: each opening of a server's console, from ticket to close."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .servers import Server


class ConsoleSession(models.Model):
    """One opening of a server's console: the browser's single-use ticket, then the live session.

    Only a hash of the ticket is kept, so neither the database nor a backup of it opens a console.
    Staff see the open sessions and end them; ending one is a row update the proxy notices.
    """

    class Kind(models.TextChoices):
        VNC = "vnc", _("Graphical console")
        SERIAL = "serial", _("Serial console")
        TERMINAL = "terminal", _("Terminal")

    class State(models.TextChoices):
        ISSUED = "issued", _("Waiting for the browser")
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    class End(models.TextChoices):
        BROWSER = "browser", _("Closed in the browser")
        UPSTREAM = "upstream", _("Connection to Proxmox ended")
        FAILED = "failed", _("Could not connect")
        STAFF = "staff", _("Ended by JIKU staff")
        ACCESS = "access", _("Access ended")
        UNUSED = "unused", _("Never used")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="console_sessions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    ticket_hash = models.CharField(max_length=64, unique=True, editable=False)
    ip_address = models.GenericIPAddressField(_("from"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.ISSUED)
    created_at = models.DateTimeField(_("opened"), default=timezone.now)
    expires_at = models.DateTimeField(_("ticket valid until"))
    connected_at = models.DateTimeField(_("connected"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    end = models.CharField(_("ended because"), max_length=8, choices=End.choices, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("console session")
        verbose_name_plural = _("console sessions")
        indexes = [models.Index(fields=["state", "created_at"], name="console_session_state")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["vnc", "serial", "terminal"]), name="console_session_kind"),
            models.CheckConstraint(condition=Q(state="closed") | Q(closed_at__isnull=True), name="console_closed_at"),
        ]

    def __str__(self):
        return f"{self.server} {self.get_kind_display()} {self.created_at:%Y-%m-%d %H:%M}"
