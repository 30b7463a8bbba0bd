"""Demo data: the concept's sample customer, JIKU staff, and a cluster pointing at pvesim.

Idempotent: `make demo` runs it on every start. Whatever the portal can do shows up here.
"""

import datetime
import os
import time
from decimal import Decimal
from pathlib import Path

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from provisioning import actions
from provisioning.models import Cluster, Image, IPPool, Node, Operation, Server
from provisioning.proxmox import PVE, ProxmoxError
from provisioning.reconcile import reconcile_cluster
from services import demo as sales_demo
from services.actions import order_create
from services.models import Plan
from tenants import staff_roles
from tenants.models import Duty, Membership, Role, ServiceRequest, SSHKey, Tenant

PASSWORD = "demo-passwort-2026"
DEMO_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGQ7Y0Jf0YpD0cF0t8P2wUq1b0r9y0dDqk7pZ1mXh2nB demo@musterfirma"
USERS = [
    ("kunde@demo.jiku", "Kunde (Inhaber)", {}),
    ("mitarbeiter@demo.jiku", "Mitarbeiter", {}),
    ("admin@demo.jiku", "JIKU Admin", {"is_staff": True, "is_superuser": True}),
    ("vertrieb@demo.jiku", "JIKU Vertrieb", {"is_staff": True}),
    ("operator@demo.jiku", "JIKU Betrieb", {"is_staff": True}),
]
# Staff roles (tenants/staff_roles.py): the superuser is in the admin group too, so it works without the flag.
STAFF_GROUPS = {
    "admin@demo.jiku": staff_roles.ADMIN,
    "operator@demo.jiku": staff_roles.OPERATOR,
    "vertrieb@demo.jiku": staff_roles.SALES,
}


class Command(BaseCommand):
    help = "Load the demo data (sample customer, staff, simulator cluster)."

    def add_arguments(self, parser):
        parser.add_argument("--pve", default=os.environ.get("DEMO_PVE", "127.0.0.1:8006"))
        parser.add_argument("--token", default=os.environ.get("DEMO_PVE_TOKEN", ""))
        parser.add_argument("--ca", default=os.environ.get("DEMO_PVE_CA", ""))

    def handle(self, *args, pve, token, ca, **options):
        users = {email: self._user(email, name, extra) for email, name, extra in USERS}
        staff_roles.sync_groups()
        for email, group in STAFF_GROUPS.items():
            users[email].groups.add(Group.objects.get(name=group))
        tenant = self._tenant("Musterfirma GmbH", "musterfirma", users["kunde@demo.jiku"])
        Membership.objects.get_or_create(tenant=tenant, user=users["mitarbeiter@demo.jiku"], defaults={"role": Role.MEMBER})
        other = self._tenant("Beispiel KG", "beispiel", None)
        key, _ = SSHKey.objects.get_or_create(
            tenant=tenant,
            fingerprint="SHA256:demo",
            defaults={"name": "demo@musterfirma", "key_type": "ssh-ed25519", "public_key": DEMO_KEY},
        )
        sales_demo.seed(seller=users["vertrieb@demo.jiku"])
        if not token:
            self.stdout.write("No simulator token given: skipping the cluster.")
            return
        cluster = self._cluster(pve, token, ca)
        stats = reconcile_cluster(cluster)
        if "error" in stats:
            self.stderr.write(f"Could not reach the simulator: {stats['error']}")
            return
        # The sample customer's rented VDS is node `pve` (concept 4.8.2); the others are JIKU's shared nodes.
        Node.objects.filter(cluster=cluster, name="pve").update(
            dedicated_tenant=tenant, kind=Node.Kind.VDS, provider=Node.Provider.HOSTER, provider_name="VDS-Provider", nested=True
        )
        images = self._images(cluster)
        # Musterfirma's servers come from its accepted sample offer (services/demo.py): Nextcloud gets VMID 100.
        sales_demo.seed(seller=users["vertrieb@demo.jiku"], tenant=tenant, cluster=cluster,
                        images={"lxc": images["ct-debian"], "qemu": images["vm-debian"]})
        self._server(other, images["ct-ubuntu"], "intranet", 1, 1024, 10, None)
        jiku = self._tenant("JIKU IT-Solutions (intern)", "jiku-intern", users["admin@demo.jiku"])
        self._server(jiku, images["vm-debian"], "vorlage-webserver", 1, 1024, 8, None)
        self._staff_samples(tenant, other, users["kunde@demo.jiku"])
        appliance = self._appliance(cluster)
        container = self._oci(cluster)
        self._safety_samples(tenant)
        self._billing_samples(tenant)
        self._trust_samples(cluster, other, images)
        own = self._own_template(jiku)
        for image in (appliance, container, own):
            if image is not None:
                self._approve_when_ready(image)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))

    def _appliance(self, cluster):
        """The marketplace: TurnKey Nextcloud from Proxmox's appliance index, downloaded on every node."""
        existing = Image.objects.filter(cluster=cluster, source=Image.Source.APPLIANCE).first()
        if existing:
            return existing
        image, _op = actions.appliance_import(
            cluster=cluster, template="debian-12-turnkey-nextcloud_18.1-1_amd64.tar.gz", name="Nextcloud (TurnKey)"
        )
        return image

    def _own_template(self, jiku, timeout=60):
        """JIKU's own template: the prepared web server VM of the internal tenant becomes one."""
        existing = Image.objects.filter(source=Image.Source.OWN).first()
        if existing:
            return existing
        deadline = time.monotonic() + timeout
        prepared = Server.objects.for_tenant(jiku).live().filter(hostname="vorlage-webserver")
        while time.monotonic() < deadline and prepared.exclude(status__in=["running", "stopped"]).exists():
            time.sleep(1)
        server = prepared.first()
        if server is None or server.status not in ("running", "stopped"):
            self.stderr.write("Demo: the prepared web server did not finish building; no own template.")
            return None
        image, _op = actions.template_from_server(
            server=server, name="Webserver (JIKU, Debian 12 + nginx)", for_everyone=True,
            description="Von JIKU vorbereitet: Debian 12 mit nginx, Firewall und automatischen Sicherheitsupdates.",
        )
        return image

    def _oci(self, cluster):
        """An application container from Docker Hub (the simulator's registry in the demo), pinned by digest."""
        existing = Image.objects.filter(cluster=cluster, source=Image.Source.OCI).first()
        if existing:
            return existing
        image, _op = actions.oci_import(cluster=cluster, reference="docker.io/library/nginx:1.27", name="nginx 1.27 (Docker Hub)")
        return image

    def _approve_when_ready(self, image, timeout=60):
        deadline = time.monotonic() + timeout
        waiting = (Image.Status.DOWNLOADING, Image.Status.PREPARING)
        while time.monotonic() < deadline and Image.objects.get(pk=image.pk).status in waiting:
            time.sleep(1)
        image.refresh_from_db()
        if image.status == Image.Status.READY and not image.approved:
            actions.image_approve(image=image, approved=True)

    def _safety_samples(self, tenant, timeout=90):
        """Once Musterfirma's servers run: a snapshot and a backup of Nextcloud, HA for the CRM."""
        deadline = time.monotonic() + timeout
        servers = Server.objects.for_tenant(tenant).filter(hostname__in=["nextcloud", "crm"])
        while time.monotonic() < deadline and servers.exclude(status__in=["running", "stopped"]).exists():
            time.sleep(1)
        byname = {s.hostname: s for s in servers}
        steps = [
            ("nextcloud", lambda s: s.snapshots.exists() or actions.snapshot_create(server=s, name="vor_update", description="Vor dem Nextcloud-Update")),
            ("nextcloud", lambda s: s.backups.exists() or actions.backup_create(server=s, notes="Erste Sicherung")),
            ("crm", lambda s: s.ha_enabled or actions.ha_set(server=s, enabled=True)),
        ]
        for hostname, step in steps:
            server = byname.get(hostname)
            if server is None:
                continue
            try:
                with transaction.atomic():
                    step(server)
            except ValidationError as exc:
                self.stderr.write(f"Demo {hostname}: {' '.join(exc.messages)}")

    def _billing_samples(self, tenant, months=3):
        """Invoices for Musterfirma's last months: its contract and builds are moved back to the 10th of
        the month three months ago (the history is otherwise today's), then the ordinary billing run
        bills each past month and issues it; the oldest is marked paid. Rates for the price preview too.
        """
        from billing.actions import billing_run, invoice_mark_paid
        from billing.models import Invoice, Rate
        from services.models import Contract

        for code, amount in (("core", "4.00"), ("memory_gib", "1.50"), ("disk_gib", "0.05"), ("backup", "0.50")):
            Rate.objects.get_or_create(code=code, valid_from=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),
                                       defaults={"amount": Decimal(amount)})
        if Invoice.objects.for_tenant(tenant).exists():
            return
        today = timezone.localdate()
        first = today.replace(day=1)
        for _ in range(months):
            first = (first - datetime.timedelta(days=1)).replace(day=1)
        began = timezone.make_aware(datetime.datetime.combine(first.replace(day=10), datetime.time(10, 0)))
        Contract.objects.filter(tenant=tenant).update(started_at=began)
        builds = Operation.objects.for_tenant(tenant).filter(kind=Operation.Kind.CREATE, state=Operation.State.SUCCEEDED)
        for i, op in enumerate(builds.order_by("pk")):
            Operation.objects.filter(pk=op.pk).update(finished_at=began + datetime.timedelta(days=1, hours=i))
        month = first
        for _ in range(months):
            billing_run(year=month.year, month=month.month, issue=True)
            month = (month + datetime.timedelta(days=32)).replace(day=1)
        oldest = Invoice.objects.for_tenant(tenant).exclude(number="").order_by("period_start").first()
        if oldest is not None:
            invoice_mark_paid(invoice=oldest, reference="Demo: Überweisung")

    def _trust_samples(self, cluster, other, images, timeout=60):
        """Beispiel KG's intranet stopped behind the portal's back, and its VDS sold but not installed yet.

        The VDS joins when the simulator is told so (the demo's banner prints the call); then
        staff press "Check now" on its node page and the waiting server is built.
        """
        deadline = time.monotonic() + timeout
        intranet = Server.objects.for_tenant(other).filter(hostname="intranet")
        while time.monotonic() < deadline and intranet.exclude(status__in=["running", "stopped"]).exists():
            time.sleep(1)
        server = intranet.select_related("node").first()
        if server is not None and server.status == Server.Status.RUNNING and server.should_run:
            try:
                PVE(cluster).power(node=server.node.name, kind=server.kind, vmid=server.vmid, action="stop")
                time.sleep(2)
                reconcile_cluster(cluster)
            except ProxmoxError as exc:
                self.stderr.write(f"Demo intranet: {exc.message}")
        if not Node.objects.filter(cluster=cluster, name="vds-beispiel").exists():
            node = actions.node_register_vds(cluster=cluster, name="vds-beispiel", tenant=other, cores=6,
                                             memory_mb=24 * 1024, disk_gb=4000)
            Node.objects.filter(pk=node.pk).update(provider_name="VDS-Provider")
            plan = Plan.objects.filter(kind="lxc", active=True).order_by("cores", "memory_mb").first()
            if plan is not None:
                order_create(tenant=other, plan=plan, image=images["ct-debian"], hostname="wiki", node=node, pending=True)

    def _staff_samples(self, tenant, other, customer):
        """Something for the staff pages: a customer's request and a failed operation with Proxmox's words."""
        ServiceRequest.objects.get_or_create(
            tenant=tenant, subject="Wiederherstellung der Nextcloud-Daten von gestern",
            defaults={"duty": Duty.BACKUPS, "created_by": customer, "respond_by": timezone.now() + datetime.timedelta(hours=5),
                      "message": "Bitte den Stand von gestern 02:00 Uhr wiederherstellen."},
        )
        # A self-service tenant's general question whose answer is overdue: the clock shows red.
        ServiceRequest.objects.get_or_create(
            tenant=other, subject="Mehr Kontingent für einen zweiten Server",
            defaults={"duty": "", "respond_by": timezone.now() - datetime.timedelta(hours=3),
                      "message": "Wir brauchen 4 weitere Kerne und 8 GB Arbeitsspeicher."},
        )
        server = Server.objects.for_tenant(other).filter(hostname="intranet").first()
        if server is not None and not Operation.objects.filter(server=server, state=Operation.State.FAILED).exists():
            Operation.objects.create(
                tenant=other, server=server, kind=Operation.Kind.REBOOT, state=Operation.State.FAILED,
                step_name="reboot", attempts=1, finished_at=timezone.now(),
                error="CT 101 is locked (backup)", params={"task_log": "INFO: starting new backup job\nTASK ERROR: CT is locked (backup)"},
            )

    def _user(self, email, name, extra):
        user, created = get_user_model().objects.get_or_create(
            email=email, defaults={"username": email.split("@")[0], "first_name": name, **extra}
        )
        if created:
            user.set_password(PASSWORD)
            user.save()
        EmailAddress.objects.get_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
        return user

    def _tenant(self, name, slug, owner):
        tenant, _ = Tenant.objects.get_or_create(slug=slug, defaults={"name": name, "billing_address": "Musterstraße 5\n12345 Musterstadt"})
        if owner is not None:
            Membership.objects.get_or_create(tenant=tenant, user=owner, defaults={"role": Role.OWNER})
        return tenant

    def _cluster(self, pve, token, ca):
        token_id, _, secret = token.rpartition("=")
        cluster, _ = Cluster.objects.get_or_create(name="JIKU Frankfurt", defaults={"api_url": pve, "token_id": token_id})
        cluster.api_url, cluster.token_id = pve, token_id
        cluster.token_secret = secret
        cluster.ca_cert = Path(ca).read_text() if ca else ""
        cluster.verify_tls = True
        cluster.save()
        IPPool.objects.get_or_create(
            cluster=cluster,
            name="public",
            defaults={"network": "192.0.2.0/24", "gateway": "192.0.2.1", "range_start": "192.0.2.10", "range_end": "192.0.2.250"},
        )
        # A routed /64 per server from the documentation prefix; the gateway is the router's link-local address.
        IPPool.objects.get_or_create(
            cluster=cluster,
            name="public-v6",
            defaults={"network": "2001:db8::/48", "gateway": "fe80::1", "range_start": "2001:db8:0:100::",
                      "range_end": "2001:db8:0:ffff::", "server_prefixlen": 64},
        )
        return cluster

    def _images(self, cluster):
        specs = {
            "vm-debian": dict(name="Debian 12", kind="qemu", template_vmid=9000, template_node="pve", default_user="debian", cloud_init=True, min_disk_gb=4, os_family="debian"),
            "vm-ubuntu": dict(name="Ubuntu 24.04 LTS", kind="qemu", template_vmid=9001, template_node="pve", default_user="ubuntu", cloud_init=True, min_disk_gb=4, os_family="ubuntu"),
            "vm-windows": dict(name="Windows Server 2022", kind="qemu", template_vmid=9002, template_node="pve", default_user="Administrator", cloud_init=True, min_disk_gb=32, os_family="windows",
                               description="Windows Server 2022 Standard mit cloudbase-init; Lizenz je Kern über JIKU (SPLA)."),
            "ct-debian": dict(name="Debian 12 (Container)", kind="lxc", volid="local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", min_disk_gb=2, os_family="debian"),
            "ct-ubuntu": dict(name="Ubuntu 24.04 (Container)", kind="lxc", volid="local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst", min_disk_gb=2, os_family="ubuntu"),
            "ct-alma": dict(name="AlmaLinux 9 (Container)", kind="lxc", volid="local:vztmpl/almalinux-9-default_20240911_amd64.tar.xz", min_disk_gb=2, os_family="alma"),
        }
        return {key: Image.objects.update_or_create(cluster=cluster, name=spec["name"], defaults=spec)[0] for key, spec in specs.items()}

    def _server(self, tenant, image, hostname, cores, memory_mb, disk_gb, key):
        if Server.objects.for_tenant(tenant).live().filter(hostname=hostname).exists():
            return
        with transaction.atomic():
            actions.server_create(
                tenant=tenant, image=image, hostname=hostname, cores=cores, memory_mb=memory_mb, disk_gb=disk_gb,
                ssh_keys=[key] if key else [], password="" if key else "demo-server-pw",
            )
