"""The console window: a page that reads the database only, and the POST that issues a ticket."""

from csp.decorators import csp_update
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from provisioning import actions
from provisioning.actions import console as rules
from provisioning.models import ConsoleSession, Operation, Server
from tenants.access import get_for_tenant, redirect_to_login

from . import codes


def _server(request, public_id):
    """The current tenant's server, and only for those who may open its console; 404 for everyone else."""
    if not request.user.is_authenticated:
        return None
    qs = Server.objects.exclude(status=Server.Status.DELETED).select_related("tenant", "node")
    server = get_for_tenant(qs, request.tenant, public_id=public_id)
    if not rules.console_allowed(server=server, user=request.user):
        raise Http404
    return server


# xterm.js writes its theme into <style> elements it creates; scripts stay 'self' only.
@csp_update({"style-src": ["'unsafe-inline'"]})
def console_page(request, public_id):
    server = _server(request, public_id)
    if server is None:
        return redirect_to_login(request)
    kinds = rules.console_kinds(server)
    kind = request.GET.get("kind") if request.GET.get("kind") in kinds else kinds[0]
    refusal = rules.console_state_refusal(server)
    busy = Operation.objects.filter(server=server, state__in=Operation.ACTIVE_STATES).exists()
    return render(request, "provisioning/console.html", {
        "server": server,
        "kind": kind,
        "kinds": [(k, ConsoleSession.Kind(k).label) for k in kinds],
        "refusal": refusal,
        "refusal_message": (_("The server is being started; the console connects when it runs.")
                            if refusal == "stopped" and busy else rules.REFUSALS[refusal] if refusal else ""),
        "starting": refusal == "stopped" and busy,
        # Wait for the build or the start asked for, then connect by reloading.
        "waiting": refusal in ("building", "stopped") and (busy or refusal == "building"),
        "messages_by_code": codes.messages(),
        "texts": {"connecting": _("Connecting…"), "reopen": _("Open the console again"),
                  "select_first": _("Select text in the terminal first.")},
    })


@require_POST
def console_ticket(request, public_id):
    server = _server(request, public_id)
    if server is None:
        raise Http404
    try:
        session, ticket = actions.console_open(server=server, user=request.user, kind=request.POST.get("kind", ""),
                                               request=request)
    except PermissionDenied:
        raise Http404 from None
    except rules.ConsoleRefused as exc:
        return JsonResponse({"code": codes.REFUSAL[exc.code], "message": exc.messages[0]}, status=409)
    # The websocket route (portal/consoles/routing.py) is not one of Django's URLs.
    response = JsonResponse({"session": str(session.public_id), "ticket": ticket,
                             "websocket": f"/ws/consoles/{session.public_id}/"})
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def console_start(request, public_id):
    """"Start" from the console window of a stopped server: the same action as the server page's button."""
    server = _server(request, public_id)
    if server is None:
        raise Http404
    try:
        actions.server_power(server=server, action=Operation.Kind.START, user=request.user, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The server is being started; the console connects when it runs."))
    return redirect(reverse("consoles:console", args=[server.public_id]) + f"?kind={request.POST.get('kind', '')}")
