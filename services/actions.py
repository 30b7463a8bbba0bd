"""Orders: a plan and an image become a server through provisioning's create action."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from provisioning import actions as provisioning

from .models import Order


def order_create(*, tenant, plan, image, hostname, ssh_keys=(), password="", node=None, user=None, request=None):
    """Order `plan` built from `image`; the price is fixed on the order at this moment."""
    if not plan.active:
        raise ValidationError({"plan": _("This plan is no longer offered.")})
    if image is not None and image.kind != plan.kind:
        raise ValidationError({"image": _("This image does not fit the plan's server type.")})
    with transaction.atomic():
        server = provisioning.server_create(
            tenant=tenant,
            image=image,
            hostname=hostname,
            cores=plan.cores,
            memory_mb=plan.memory_mb,
            disk_gb=plan.disk_gb,
            ssh_keys=ssh_keys,
            password=password,
            node=node,
            user=user,
            request=request,
        )
        return Order.objects.create(
            tenant=tenant, plan=plan, server=server, hostname=hostname, price_monthly=plan.price_monthly, created_by=user
        )
