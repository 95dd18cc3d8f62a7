"""The floor of issue #6's benchmark: the least a Django view can do to store the same application row.

No authentication, no throttle, no validation, no DRF: it parses the JSON body and runs one INSERT into
`tracking_application` with the same columns the API fills (the patient from the path; the regimen and
the creating user, which the API looks up, come in the body), in autocommit, and answers 201 with the id.
It still goes through gunicorn and the project's whole middleware stack, like the API.
Routed only by bench/api_load/urls.py, which only the bench's settings use.
"""

from __future__ import annotations

import hashlib
import json
import uuid

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

INSERT = (
    "INSERT INTO tracking_application (id, patient_id, regimen_id, created_by_id, applied_at, body_areas, "
    "amount_ftu, note, fingerprint, created_at, updated_at, deleted_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, NULL)"
)


@csrf_exempt
@require_POST
def floor_application(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    item = json.loads(request.body)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT,
            [
                item["id"],
                patient_id,
                item["regimen"],
                item["created_by"],
                item["applied_at"],  # ISO 8601 with its offset: PostgreSQL parses it
                json.dumps(item["body_areas"]),
                item.get("amount_ftu"),
                item.get("note", ""),
                hashlib.sha256(request.body).hexdigest(),
                now,
                now,
            ],
        )
    return JsonResponse({"id": item["id"]}, status=201)
