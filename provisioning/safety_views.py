"""Pages and form posts for snapshots, backups, schedules, HA and staging."""

from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tenants.access import attempt, get_for_tenant, submit_form, tenant_required

from . import actions, server_sections
from .forms import BackupForm, BackupPolicyForm, RestoreForm, RollbackForm, SnapshotForm
from .graphs import render_graphs
from .models import Backup, Server


def _server(request, public_id):
    qs = Server.objects.exclude(status=Server.Status.DELETED).select_related("cluster", "node", "tenant")
    return get_for_tenant(qs, request.tenant, public_id=public_id)


def _backup(request, public_id):
    return get_for_tenant(Backup.objects.kept().select_related("server", "cluster"), request.tenant, public_id=public_id)


def _back(server, section="overview"):
    return server_sections.back_to(server, section)


@require_POST
@tenant_required("operate")
def snapshot_create(request, public_id):
    server = _server(request, public_id)
    submit_form(request, SnapshotForm(request.POST), lambda d: actions.snapshot_create(server=server, user=request.user, request=request, **d), _("The snapshot is being taken."))
    return _back(server, "snapshots")


@require_POST
@tenant_required("operate")
def snapshot_before_update(request, public_id):
    server = _server(request, public_id)
    attempt(request, lambda: actions.snapshot_before_update(server=server, user=request.user, request=request), _("A safety snapshot is being taken; roll back to it with one click."))
    return _back(server, "snapshots")


@require_POST
@tenant_required("operate")
def snapshot_rollback(request, public_id, name):
    server = _server(request, public_id)
    submit_form(request, RollbackForm(request.POST), lambda d: actions.snapshot_rollback(server=server, name=name, start=d["start"], user=request.user, request=request), _("The server is being rolled back."))
    return _back(server, "snapshots")


@require_POST
@tenant_required("operate")
def snapshot_delete(request, public_id, name):
    server = _server(request, public_id)
    attempt(request, lambda: actions.snapshot_delete(server=server, name=name, user=request.user, request=request), _("The snapshot is being deleted."))
    return _back(server, "snapshots")


@require_POST
@tenant_required("operate")
def backup_create(request, public_id):
    server = _server(request, public_id)
    submit_form(request, BackupForm(request.POST), lambda d: actions.backup_create(server=server, user=request.user, request=request, **d), _("The backup is running."))
    return _back(server, "backups")


@require_POST
@tenant_required("operate")
def backup_policy(request, public_id):
    server = _server(request, public_id)
    submit_form(request, BackupPolicyForm(request.POST), lambda d: actions.backup_policy_set(server=server, user=request.user, request=request, **d), _("The backup schedule was saved."))
    return _back(server, "backups")


@require_POST
@tenant_required("operate")
def ha_toggle(request, public_id):
    server = _server(request, public_id)
    enabled = request.POST.get("enabled") == "1"
    attempt(request, lambda: actions.ha_set(server=server, enabled=enabled, user=request.user, request=request), _("High availability is being switched on.") if enabled else _("High availability is being switched off."))
    return _back(server, "settings")


@require_POST
@tenant_required("operate")
def staging_create(request, public_id):
    server = _server(request, public_id)
    op = attempt(request, lambda: actions.staging_create(server=server, user=request.user, request=request), _("The staging copy is being built."))
    return _back(op.server if op else server)


@require_POST
@tenant_required("operate")
def staging_promote(request, public_id):
    staging = _server(request, public_id)
    attempt(request, lambda: actions.staging_promote(staging=staging, user=request.user, request=request), _("The staging copy takes over name, address, backup schedule and high availability. The old server keeps a safety snapshot and the backups made so far; they stay restorable until you delete it and for the retention period after."))
    return _back(staging)


@tenant_required("view")
def backup_list(request):
    backups = list(Backup.objects.for_tenant(request.tenant).kept().select_related("server"))
    jiku = actions.managed_actions(request.tenant, request.user)
    gone = (Server.Status.DELETED, Server.Status.DELETING, Server.Status.FAILED)
    for b in backups:
        # Restoring over the original is offered only while that server still exists.
        same = "backup_restore_same" not in jiku and b.server is not None and b.server.status not in gone
        b.restore_form = RestoreForm(allow_same=same, auto_id=f"id_%s_{b.public_id}")
    return render(request, "provisioning/backup_list.html", {"backups": backups, "jiku": jiku})


@require_POST
@tenant_required("operate")
def backup_restore(request, public_id):
    backup = _backup(request, public_id)
    # The full form: a restore over the server JIKU holds is refused by the action, in its own words.
    form = RestoreForm(request.POST)
    ok = submit_form(request, form, lambda d: actions.backup_restore(backup=backup, user=request.user, request=request, **d), _("The backup is being restored."))
    if ok and form.cleaned_data["target"] == "same" and backup.server:
        return _back(backup.server)
    return redirect("provisioning:backup_list") if not ok else redirect("provisioning:server_list")


@require_POST
@tenant_required("operate")
def backup_delete(request, public_id):
    backup = _backup(request, public_id)
    attempt(request, lambda: actions.backup_delete(backup=backup, user=request.user, request=request), _("The backup is being deleted."))
    return redirect("provisioning:backup_list")


@require_POST
@tenant_required("operate")
def backup_protect(request, public_id):
    backup = _backup(request, public_id)
    protected = request.POST.get("protected") == "1"
    attempt(request, lambda: actions.backup_protect(backup=backup, protected=protected, user=request.user, request=request), _("The protection is being changed."))
    return redirect("provisioning:backup_list")


@tenant_required("view")
def server_graphs(request, public_id):
    """The graphs block: cached rrddata, refreshed in the background when it is older than a minute."""
    server = _server(request, public_id)
    built = server.status in (Server.Status.RUNNING, Server.Status.STOPPED) and server.vmid and server.node_id
    return render_graphs(request, server, url=reverse("provisioning:server_graphs", args=[server.public_id]), fetchable=built)
