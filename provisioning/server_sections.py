"""The server page's sections, shown as tabs: each is its own page (its own URL, so it can be linked).

A new section is one entry in SECTIONS plus its view and template. For a network section:

    Section("network", _("Network"), "provisioning:server_network", _usable),   # here, where its tab goes

    @tenant_required("view")                                                     # provisioning/network_views.py
    def server_network(request, public_id):
        return section_page(request, public_id, "network", "provisioning/server_network.html",
                            lambda server: {"addresses": server.addresses.all()})

    path("servers/<uuid:public_id>/network/", views.server_network, name="server_network"),

and templates/provisioning/server_network.html extends provisioning/server_base.html and fills
the block `section` (starting with <h2 id="section-title">). section_page gives it the header with
the live status and power, the tabs, `can_operate` and `jiku`; a form posted from it returns
with back_to(server, "network"). Tabs read only the server row.
"""

from dataclasses import dataclass
from typing import Callable

from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


def _always(server, can_operate):
    return True


def _usable(server, can_operate):
    return server.status != "failed"


def _built(server, can_operate):
    return bool(server.vmid) and server.status != "failed"


def _console(server, can_operate):
    return can_operate and _built(server, can_operate)


def _operator(server, can_operate):
    return can_operate


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    url_name: str
    shown: Callable = _always
    # The console is a page of its own (a full-screen terminal), opened beside the server page.
    new_window: bool = False


SECTIONS = [
    Section("overview", _("Overview"), "provisioning:server_detail"),
    Section("graphs", _("Graphs"), "provisioning:server_graphs_page", _built),
    Section("snapshots", _("Snapshots"), "provisioning:server_snapshots", _usable),
    Section("backups", _("Backups"), "provisioning:server_backups", _usable),
    Section("network", _("Network"), "provisioning:server_network", _usable),
    Section("firewall", _("Firewall"), "provisioning:firewall", _usable),
    Section("console", _("Console"), "consoles:console", _console, new_window=True),
    Section("settings", _("Settings"), "provisioning:server_settings", _usable),
    Section("danger", _("Danger zone"), "provisioning:server_danger", _operator),
]


def offered(server, key, *, can_operate):
    """Whether the section exists for this server now (no snapshots of a failed build, no graphs before one)."""
    return next(s for s in SECTIONS if s.key == key).shown(server, can_operate)


def tabs(server, *, can_operate, current):
    return [
        {"key": s.key, "label": s.label, "url": reverse(s.url_name, args=[server.public_id]),
         "current": s.key == current, "new_window": s.new_window,
         "testid": "console-link" if s.key == "console" else f"tab-{s.key}"}
        for s in SECTIONS if s.shown(server, can_operate)
    ]


def back_to(server, key):
    """After a form post: back to the section the form was on."""
    section = next(s for s in SECTIONS if s.key == key)
    return redirect(section.url_name, public_id=server.public_id)
