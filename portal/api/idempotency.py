"""`Idempotency-Key` on POST: a retried request gets the first answer instead of doing the work twice.

The key is claimed with an INSERT on a unique constraint before the work starts, so two
concurrent retries cannot both run; the second answers 409 until the first has finished.
Only successful answers are kept (an error changed nothing, so running again is safe). A view
sets `response.replay_data` to keep less than it answered (a secret shown once).
"""

import hashlib
import json
from datetime import timedelta
from functools import wraps

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from .errors import Conflict, Unprocessable
from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
KEEP = timedelta(hours=24)

PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Any unique string (e.g. a UUID) of up to 255 printable ASCII characters. A retry with the "
    "same key and body within 24 hours returns the first answer (marked `Idempotent-Replayed: true`) "
    "instead of acting again; the same key with a different body answers 422.",
    pattern=r"^[\x21-\x7e]{1,255}$",
)


def _owner(request):
    token = getattr(request, "api_token", None)
    if token is not None:
        return f"token:{token.public_id}"
    return f"user:{request.user.pk}:{request.tenant.pk if request.tenant else '-'}"


def _fingerprint(request):
    body = json.dumps(request.data, sort_keys=True, default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _valid(key):
    return 0 < len(key) <= 255 and all(33 <= ord(char) <= 126 for char in key)


def idempotent(method):
    @wraps(method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return method(self, request, *args, **kwargs)
        if not _valid(key):
            raise exceptions.ValidationError({HEADER: [_("Use 1 to 255 printable ASCII characters.")]})
        owner, fingerprint = _owner(request), _fingerprint(request)
        IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - KEEP).delete()  # indexed; usually none
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(owner=owner, key=key, request_hash=fingerprint)
        except IntegrityError:
            return _replay(owner, key, fingerprint)
        try:
            response = method(self, request, *args, **kwargs)
        except BaseException:
            record.delete()
            raise
        if 200 <= response.status_code < 300:
            record.status_code = response.status_code
            # A view may keep less than it answered: a webhook's secret is shown once, never stored.
            kept = getattr(response, "replay_data", response.data)
            record.body = json.loads(JSONRenderer().render(kept) or b"null")
            record.location = response.get("Location", "")
            record.save(update_fields=["status_code", "body", "location"])
        else:
            record.delete()
        return response

    return wrapper


def _replay(owner, key, fingerprint):
    record = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
    if record is None:  # the first request failed and let go of the key meanwhile
        raise Conflict()
    if record.request_hash != fingerprint:
        raise Unprocessable()
    if record.status_code is None:
        raise Conflict()
    headers = {"Idempotent-Replayed": "true"}
    if record.location:
        headers["Location"] = record.location
    return Response(record.body, status=record.status_code, headers=headers)
