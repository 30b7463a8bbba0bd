"""The customer's view of their contract: the tier and who does what."""

from django.shortcuts import render

from provisioning import actions as provisioning
from tenants.access import tenant_required
from tenants.models import Party

from .contracts import matrix, running_contract


@tenant_required("view")
def contract(request):
    """Reads the tenant's own responsibilities, so the page says what the server pages act on."""
    current = running_contract(request.tenant)
    duties = {r.duty: r.party for r in request.tenant.responsibilities.all()}
    return render(request, "services/contract.html", {
        "contract": current,
        "matrix": matrix(duties),
        "jiku_duties": sum(1 for party in duties.values() if party == Party.JIKU),
        "jiku_actions": provisioning.jiku_actions(request.tenant),
    })
