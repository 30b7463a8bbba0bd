"""Websocket close codes the console page turns into messages in the reader's language."""

from django.utils.translation import gettext_lazy as _

from provisioning.actions.console import REFUSALS

UPSTREAM_CLOSED = 4100
TICKET = 4401
ACCESS = 4403
STAFF = 4404
NO_SERIAL = 4412
PROXMOX_REFUSED = 4502
NODE_DOWN = 4503
# The action's refusals (stopped, building, ...) keep their own codes.
REFUSAL = {"kind": 4400, "stopped": 4409, "gone": 4410, "building": 4411, "suspended": 4423, "too_many": 4429,
           "unavailable": NODE_DOWN}

MESSAGES = {
    UPSTREAM_CLOSED: _("The connection to the server was closed. You can open the console again."),
    TICKET: _("This console link has expired or was used already. Open the console again."),
    ACCESS: _("You no longer have access to this server's console."),
    STAFF: _("JIKU staff ended this console session."),
    NO_SERIAL: _("This virtual machine has no serial port. Use the graphical console."),
    PROXMOX_REFUSED: _("Proxmox refused the console connection. Please try again in a moment; "
                       "if it keeps failing, JIKU's staff can see why."),
    1006: _("The connection to the portal was lost. You can open the console again."),
    **{code: REFUSALS[name] for name, code in REFUSAL.items()},
}


def messages():
    """{code: message} for the page, translated now."""
    return {str(code): str(text) for code, text in MESSAGES.items()}
