"""Demo data for the sales side: catalogue plans, the sales permission, an accepted and a draft offer.

Called by portal's demo_seed. Musterfirma's infrastructure comes from an accepted sample offer, so
the demo shows the whole path: offer -> contract -> VDS node `pve` -> orders -> Nextcloud as VMID 100.
"""

from decimal import Decimal

from django.contrib.auth.models import Group

from . import actions
from .models import GUEST_KIND, Offer, Plan

PLANS = [
    ("Container S", "container-s", "lxc", 1, 1024, 20, "4.90"),
    ("Container M", "container-m", "lxc", 2, 4096, 200, "14.90"),
    ("VM S", "vm-s", "qemu", 1, 2048, 40, "9.90"),
    ("VM M", "vm-m", "qemu", 2, 4096, 80, "19.90"),
    ("VM L", "vm-l", "qemu", 4, 8192, 100, "39.90"),
]


def seed(*, seller, tenant=None, cluster=None, images=None):
    """Idempotent. Without a cluster only the plans and the sales permission are set up."""
    seller.groups.add(Group.objects.get(name="Sales"))
    seller = type(seller).objects.get(pk=seller.pk)  # drop the cached permissions
    for position, (name, slug, kind, cores, memory, disk, price) in enumerate(PLANS):
        Plan.objects.get_or_create(slug=slug, defaults=dict(
            name=name, kind=kind, cores=cores, memory_mb=memory, disk_gb=disk, price_monthly=Decimal(price),
            sort_order=position,
        ))
    if cluster is not None and tenant is not None and not tenant.contracts.exists():
        offer = actions.offer_create_sample(
            user=seller, company=tenant.name, contact_email=tenant.memberships.filter(role="owner").first().user.email,
            tenant=tenant, cluster=cluster, language="de",
        )
        cases = list(offer.use_cases.all())
        for case in cases:
            # The suggestion rules chose Windows for CRM, terminal server and AD: those stay as sold.
            if case.target in GUEST_KIND and images and case.image is None:
                case.image = images.get(GUEST_KIND[case.target])
        offer = actions.offer_update(offer=offer, user=seller, fields={}, use_cases=cases)
        # Sent by mail and accepted by the customer through the link, as a real prospect would.
        offer = actions.offer_send(offer=offer, user=seller)
        actions.offer_accept_online(token=actions.offer_link_token(offer=offer), name="Erika Musterfrau",
                                    position="Geschäftsführerin", confirmed=True)
    # A prospect's draft, once there is a cluster for its servers to go to.
    if cluster is not None and not Offer.objects.filter(state=Offer.State.DRAFT).exists():
        # Its VDS is not installed yet: accepting it shows a node awaiting installation and pending orders.
        actions.offer_create_sample(user=seller, cluster=cluster, language="de", node_name="vds-musterkunde")
