"""One error shape for the whole API: {"detail", "code", "errors": {field: [messages]}}.

Actions raise Django's ValidationError keyed by field; it becomes a 400 naming those fields, so a
script sees the same messages (in the request's language) as the browser does.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.views import exception_handler as drf_exception_handler

NON_FIELD = "non_field_errors"


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="A human-readable summary, in the request's language.")
    code = serializers.CharField(help_text="A stable machine-readable code, e.g. invalid, not_found, throttled.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Validation messages by field name; non_field_errors for the request as a whole.",
    )


class PreconditionRequired(exceptions.APIException):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = _("This request needs an If-Match header with the ETag from a GET.")
    default_code = "precondition_required"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = _("The object was changed since you read it; GET it again and retry.")
    default_code = "precondition_failed"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("A request with this Idempotency-Key is still being processed.")
    default_code = "conflict"


class Unprocessable(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = _("This Idempotency-Key was already used for a different request.")
    default_code = "idempotency_key_reused"


def from_django(exc, field_map=None):
    """A DRF ValidationError with the action's field names (mapped through field_map)."""
    field_map = field_map or {}
    if hasattr(exc, "error_dict"):
        detail = {}
        for field, errors in exc.error_dict.items():
            name = NON_FIELD if field == "__all__" else field_map.get(field, field)
            detail.setdefault(name, []).extend(message for error in errors for message in error.messages)
        return exceptions.ValidationError(detail)
    return exceptions.ValidationError({NON_FIELD: exc.messages})


def _flatten(detail, prefix=""):
    if isinstance(detail, dict):
        out = {}
        for key, value in detail.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(detail, list) and detail and all(not isinstance(item, (dict, list)) for item in detail):
        return {prefix or NON_FIELD: [str(item) for item in detail]}
    if isinstance(detail, list):
        out = {}
        for index, value in enumerate(detail):
            out.update(_flatten(value, f"{prefix}.{index}" if prefix else str(index)))
        return out
    return {prefix or NON_FIELD: [str(detail)]}


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = from_django(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        if isinstance(codes, str):
            code = codes
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        first = next(iter(errors.values()), [str(_("Invalid input."))])
        response.data = {"detail": first[0], "code": "invalid", "errors": errors}
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else response.data
        response.data = {"detail": str(detail), "code": str(code)}
    return response


DESCRIPTIONS = {
    400: _("Invalid input; `errors` names the fields."),
    401: _("No token, or the token is invalid, revoked or expired."),
    403: _("The token's role does not allow this."),
    404: _("No such object in your tenant."),
    409: _("A request with the same Idempotency-Key is still running."),
    412: _("If-Match does not match the current ETag."),
    422: _("The Idempotency-Key was used for a different request."),
    428: _("If-Match is required."),
    429: _("Too many requests for this token; see Retry-After."),
}


def error_responses(*codes):
    """OpenAPI responses for the given error statuses (401, 403 and 429 apply to every endpoint)."""
    wanted = sorted({401, 403, 429, *codes})
    return {code: OpenApiResponse(ErrorSerializer, description=str(DESCRIPTIONS[code])) for code in wanted}
