"""How big the customer's VDS must be, or whether JIKU's shared nodes will do.

Guests are the containers and VMs of an offer: use cases with the same hostname share one guest
(files, calendar and tasks all go to the one Nextcloud), which takes the largest plan among them.
"""

import math
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from .models import GUEST_KIND, VdsSize

# Concept 4.8.2: the VDS has at least 6 cores, 24 GB memory and 4 TB disk.
MIN_VDS_CORES, MIN_VDS_MEMORY_GB, MIN_VDS_DISK_GB = 6, 24, 4000
# Beyond this a customer's set-up would crowd JIKU's shared nodes; it gets a VDS of its own.
SHARED_MAX_CORES, SHARED_MAX_MEMORY_GB, SHARED_MAX_DISK_GB = 8, 16, 400


@dataclass
class Guest:
    hostname: str
    kind: str
    plan: object
    image: object = None
    use_cases: list = field(default_factory=list)
    licences: set = field(default_factory=set)


@dataclass
class Sizing:
    guests: list
    cores: int = 0
    memory_gb: int = 0
    disk_gb: int = 0
    vds: object = None
    shared_possible: bool = False
    errors: list = field(default_factory=list)

    @property
    def vds_cores(self):
        return max(self.cores, MIN_VDS_CORES)

    @property
    def vds_memory_gb(self):
        return max(self.memory_gb, MIN_VDS_MEMORY_GB)

    @property
    def vds_disk_gb(self):
        return max(self.disk_gb, MIN_VDS_DISK_GB)


def guests(use_cases):
    by_host = {}
    for use_case in use_cases:
        if use_case.target not in GUEST_KIND or use_case.plan is None:
            continue
        key = use_case.hostname or use_case.name
        guest = by_host.get(key)
        if guest is None:
            guest = by_host[key] = Guest(key, GUEST_KIND[use_case.target], use_case.plan, use_case.image)
        elif use_case.plan.price_monthly > guest.plan.price_monthly:
            guest.plan = use_case.plan
        guest.image = guest.image or use_case.image
        guest.use_cases.append(use_case.name)
        guest.licences.update(use_case.licences or [])
    # Containers first: the Nextcloud container is built first and so gets the cluster's first VMID.
    return sorted(by_host.values(), key=lambda g: (g.kind != "lxc", list(by_host).index(g.hostname)))


def _with_headroom(value, percent):
    return math.ceil(value * (100 + percent) / 100)


def size(*, use_cases, headroom_percent, tier):
    planned = guests(use_cases)
    result = Sizing(guests=planned)
    result.cores = _with_headroom(sum(g.plan.cores for g in planned), headroom_percent)
    result.memory_gb = math.ceil(_with_headroom(sum(g.plan.memory_mb for g in planned), headroom_percent) / 1024)
    result.disk_gb = _with_headroom(sum(g.plan.disk_gb for g in planned), headroom_percent)
    result.vds = (
        VdsSize.objects.filter(
            active=True, cores__gte=result.vds_cores, memory_gb__gte=result.vds_memory_gb, disk_gb__gte=result.vds_disk_gb
        )
        .order_by("price_monthly")
        .first()
    )
    if result.vds is None:
        result.errors.append(
            _("No VDS size offers %(cores)s cores, %(memory)s GB memory and %(disk)s GB disk; add one in the administration.")
            % {"cores": result.vds_cores, "memory": result.vds_memory_gb, "disk": result.vds_disk_gb}
        )
    result.shared_possible = bool(
        tier is not None
        and tier.allows_shared_nodes
        and result.cores <= SHARED_MAX_CORES
        and result.memory_gb <= SHARED_MAX_MEMORY_GB
        and result.disk_gb <= SHARED_MAX_DISK_GB
    )
    return result
