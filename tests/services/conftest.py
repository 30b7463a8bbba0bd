from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.test import Client

from services.catalogue import install
from services.models import Plan
from tests.conftest import make_user
from tests.provisioning.conftest import cluster, ct_image, pve, sim, vm_image, windows_image, worker  # noqa: F401

# Sizes the sample customer's rules ask for (services/migrations/0003_catalogue.py).
PLANS = [
    ("offer-ct-s", "lxc", 1, 1024, 20, "4.90"),
    ("offer-ct-m", "lxc", 2, 4096, 200, "14.90"),
    ("offer-vm-s", "qemu", 1, 2048, 40, "9.90"),
    ("offer-vm-m", "qemu", 2, 4096, 80, "19.90"),
    ("offer-vm-l", "qemu", 4, 8192, 100, "39.90"),
]


@pytest.fixture(autouse=True)
def catalogue(request):
    """Tiers, rules and the Sales group, also after a transactional test flushed the migration's data."""
    for name in ("transactional_db", "db"):
        if name in request.fixturenames:
            request.getfixturevalue(name)
            install(apps)
            return


@pytest.fixture
def plans(db):
    return {
        slug: Plan.objects.create(name=slug.upper(), slug=slug, kind=kind, cores=cores, memory_mb=memory,
                                  disk_gb=disk, price_monthly=Decimal(price))
        for slug, kind, cores, memory, disk, price in PLANS
    }


def make_seller(email="vera@jiku.example"):
    user = make_user(email, is_staff=True)
    user.groups.add(Group.objects.get(name="Sales"))
    return user


@pytest.fixture
def seller(db):
    return make_seller()


@pytest.fixture
def seller_client(seller):
    c = Client()
    c.force_login(seller)
    return c


def form_data(offer, **overrides):
    """What the offer page posts back unchanged, with `overrides` applied (uc-N-field for use cases)."""
    data = {
        "company": offer.company, "contact_name": offer.contact_name, "contact_email": offer.contact_email,
        "address": offer.address,
        "employees": offer.employees, "language": offer.language, "systems": offer.systems,
        "server_age_years": offer.server_age_years or "", "challenges": offer.challenges, "tier": offer.tier_id,
        "hosting": offer.hosting, "cluster": offer.cluster_id or "", "node_name": offer.node_name,
        "headroom_percent": offer.headroom_percent, "setup_fee": offer.setup_fee, "migration_fee": offer.migration_fee,
        "poc_fee": offer.poc_fee, "term_months": offer.term_months, "valid_until": offer.valid_until.isoformat(),
    }
    for duty, party in offer.duties.items():
        data[f"duty_{duty}"] = party
    use_cases = list(offer.use_cases.all())
    data.update({"uc-TOTAL_FORMS": len(use_cases), "uc-INITIAL_FORMS": len(use_cases), "uc-MIN_NUM_FORMS": 0,
                 "uc-MAX_NUM_FORMS": 1000})
    for i, uc in enumerate(use_cases):
        data.update({
            f"uc-{i}-id": uc.pk, f"uc-{i}-offer": offer.pk, f"uc-{i}-name": uc.name,
            f"uc-{i}-current_solution": uc.current_solution, f"uc-{i}-target": uc.target,
            f"uc-{i}-plan": uc.plan_id or "", f"uc-{i}-image": uc.image_id or "", f"uc-{i}-hostname": uc.hostname,
            f"uc-{i}-note": uc.note, f"uc-{i}-licences": uc.licences,
        })
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# What staff enter when they record a paper acceptance.
SIGNED = {"name": "Max Mustermann", "position": "Geschäftsführer", "reason": "Signed offer received by post"}
