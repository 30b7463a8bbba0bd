from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, permissions


class TenantRole(permissions.BasePermission):
    """Reads need the `view` permission, writes `operate`; a view may ask for more per action."""

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        membership = getattr(request, "membership", None)
        if membership is None:
            raise exceptions.PermissionDenied(_("You are not a member of any tenant."))
        needed = getattr(view, "required_permissions", {}).get(getattr(view, "action", None))
        if needed is None:
            needed = "view" if request.method in permissions.SAFE_METHODS else "operate"
        return membership.can(needed)
