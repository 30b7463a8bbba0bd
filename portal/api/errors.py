"""One error shape for the whole API: {"detail", "code", "errors": {field: [messages]}}.

Actions raise Django's ValidationError keyed by field; it becomes a 400 naming those fields, so a
script sees the same messages (in the request's language) as the browser does. Django's own
errors under /api/ (no route matched, an uncaught exception, a bad Host header) answer in the same
shape instead of Django's HTML pages: see Unrouted and the handlers at the end.
"""

import logging

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse, HttpResponsePermanentRedirect
from django.urls import is_valid_path
from django.utils.translation import gettext_lazy as _
from django.views import defaults
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

API_PREFIX = "/api/"

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


class Malformed(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = _("Bad request.")
    default_code = "bad_request"


class TooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "request_too_large"


class ServerError(exceptions.APIException):
    default_detail = _("A server error occurred. Please try again later.")
    default_code = "server_error"


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


def _as_api_exception(exc, request):
    """Django's exceptions as DRF's, with DRF's codes and a translated message naming no model."""
    if isinstance(exc, DjangoValidationError):
        return from_django(exc)
    if isinstance(exc, Http404):
        # get_object_or_404 says "No Server matches the given query.": English, and naming the model.
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(*exc.args)
    if isinstance(exc, (SuspiciousOperation, BadRequest)):
        if isinstance(exc, SuspiciousOperation):  # logged as Django logs it when it answers 400 itself
            logging.getLogger(f"django.security.{type(exc).__name__}").error(
                str(exc), exc_info=exc, extra={"status_code": 400, "request": request}
            )
        return TooLarge() if isinstance(exc, RequestDataTooBig) else Malformed()
    return exc


def exception_handler(exc, context):
    request = context.get("request")
    exc = _as_api_exception(exc, getattr(request, "_request", request))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django logs it and answers through server_error below
    if request is not None:
        # Errors are JSON even from views that render YAML or HTML (the schema and the docs pages).
        request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
    code = "error"
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


# --- whatever Django itself would answer in HTML ---------------------------------------------------
class Unrouted(APIView):
    """The last route under /api/v1/: a path no endpoint matched answers 404 in the API's shape.

    Without it Django answers with its HTML page (the technical one when DEBUG is on). A path that
    only lacks its trailing slash is redirected for GET and HEAD, as Django's APPEND_SLASH does; other
    methods are told, since a redirected POST would arrive as a GET.
    """

    authentication_classes = []
    permission_classes = []
    throttle_classes = []
    schema = None

    def dispatch(self, request, *args, **kwargs):
        self.slash_missing = _slash_missing(request)
        if self.slash_missing and request.method in ("GET", "HEAD"):
            return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
        return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if self.slash_missing:
            raise exceptions.NotFound(
                _("Not found. Addresses in this API end with a slash: %(path)s") % {"path": request.path + "/"}
            )
        raise exceptions.NotFound()


def _slash_missing(request):
    if not settings.APPEND_SLASH or request.path_info.endswith("/"):
        return False
    match = is_valid_path(request.path_info + "/", getattr(request, "urlconf", None))
    return bool(match) and getattr(match.func, "cls", None) is not Unrouted


def _answer(status_code, exc):
    body = JSONRenderer().render({"detail": str(exc.detail), "code": exc.default_code})
    return HttpResponse(body, status=status_code, content_type=JSONRenderer.media_type)


def _is_api(request):
    return request.path_info.startswith(API_PREFIX)


# handler400/403/404/500 of the root URLconf, for what happens outside an API view (a bad Host header,
# an error in a middleware) or escapes it (a bug: Django has logged it by now). The rest of the site keeps
# Django's pages. Django uses them when DEBUG is off (handler403 always); no exception text is shown.
def bad_request(request, exception):
    if _is_api(request):
        return _answer(400, Malformed())
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if _is_api(request):
        return _answer(403, exceptions.PermissionDenied())
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    if _is_api(request):
        return _answer(404, exceptions.NotFound())
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return _answer(500, ServerError())
    return defaults.server_error(request)
