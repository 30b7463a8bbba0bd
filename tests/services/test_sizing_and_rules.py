from services import actions, rules
from services.models import ServiceTier, SuggestionRule, Target, UseCase
from services.sizing import size


def test_the_sample_customer_gets_the_concepts_target_picture(seller, plans):
    offer = actions.offer_create_sample(user=seller, language="en")
    picture = {u.name: (u.target, u.hostname, u.plan.slug if u.plan else None) for u in offer.use_cases.all()}
    assert picture == {
        "CRM (event management)": (Target.VM, "crm", "offer-vm-m"),
        "VoIP telephony": (Target.SAAS, "", None),
        "Video conferencing": (Target.SAAS, "", None),
        "Home office": (Target.VM, "terminal", "offer-vm-l"),
        "Active Directory": (Target.VM, "dc", "offer-vm-s"),
        "E-mail": (Target.SAAS, "", None),
        "Calendar and tasks": (Target.CONTAINER, "nextcloud", "offer-ct-m"),
    }
    assert (offer.employees, offer.server_age_years) == (5, 6)


def test_the_german_sample_reads_the_same_rules(seller, plans):
    offer = actions.offer_create_sample(user=seller, language="de")
    targets = sorted(u.target for u in offer.use_cases.all())
    assert targets == ["container", "saas", "saas", "saas", "vm", "vm", "vm"]


def test_staff_edit_the_rules_and_the_suggestions_follow(db, plans):
    assert rules.suggest("Dateiablage", "Fileserver")["target"] == Target.CONTAINER
    SuggestionRule.objects.filter(hostname="nextcloud").update(target=Target.SAAS)
    assert rules.suggest("Dateiablage", "Fileserver")["target"] == Target.SAAS
    assert rules.suggest("Something else entirely") == {}


def test_warnings_follow_the_concept(seller, plans):
    offer = actions.offer_create_sample(user=seller, language="en")
    found = rules.warnings(list(offer.use_cases.all()))
    assert any("MS SQL to MySQL" in w and "vendor" in w for w in found)
    assert any("in parallel" in w for w in found)
    assert any("proof of concept" in w for w in found)


def test_the_vds_is_never_below_the_concepts_minimum(db, plans):
    tiny = [UseCase(name="wiki", target=Target.CONTAINER, plan=plans["offer-ct-s"], hostname="wiki")]
    sizing = size(use_cases=tiny, headroom_percent=25, tier=ServiceTier.objects.get(slug="gering"))
    assert (sizing.cores, sizing.memory_gb, sizing.disk_gb) == (2, 2, 25)
    assert (sizing.vds.cores, sizing.vds.memory_gb, sizing.vds.disk_gb) == (6, 24, 4000)


def test_the_sample_needs_a_bigger_vds_with_its_headroom(seller, plans):
    offer = actions.offer_create_sample(user=seller)
    sizing = size(use_cases=list(offer.use_cases.all()), headroom_percent=25, tier=offer.tier)
    assert (sizing.cores, sizing.memory_gb, sizing.disk_gb) == (12, 23, 525)  # 9 cores, 18 GiB, 420 GiB + 25 %
    assert sizing.vds.name == "VDS 12"
    assert not sizing.shared_possible


def test_small_setups_may_share_nodes_only_where_the_tier_allows(db, plans):
    tiny = [UseCase(name="wiki", target=Target.CONTAINER, plan=plans["offer-ct-s"], hostname="wiki")]
    assert size(use_cases=tiny, headroom_percent=0, tier=ServiceTier.objects.get(slug="gering")).shared_possible
    assert not size(use_cases=tiny, headroom_percent=0, tier=ServiceTier.objects.get(slug="hoch")).shared_possible


def test_a_setup_beyond_every_vds_size_is_an_error(db, plans):
    huge = [UseCase(name=f"vm{i}", target=Target.VM, plan=plans["offer-vm-l"], hostname=f"vm{i}") for i in range(10)]
    sizing = size(use_cases=huge, headroom_percent=25, tier=ServiceTier.objects.get(slug="gering"))
    assert sizing.vds is None
    assert "No VDS size" in sizing.errors[0]


def test_use_cases_sharing_a_hostname_share_one_guest(db, plans):
    cases = [
        UseCase(name="files", target=Target.CONTAINER, plan=plans["offer-ct-s"], hostname="nextcloud"),
        UseCase(name="calendar", target=Target.CONTAINER, plan=plans["offer-ct-m"], hostname="nextcloud"),
    ]
    (guest,) = size(use_cases=cases, headroom_percent=0, tier=None).guests
    assert (guest.hostname, guest.plan.slug, guest.use_cases) == ("nextcloud", "offer-ct-m", ["files", "calendar"])
