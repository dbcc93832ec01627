"""The registration endpoint's fast path: the request a rush is made of, answered in one round trip.

Almost every request of a registration rush is the same: a fan alone, by API token, with no
priority code (the body empty or ``{}``), registering for the first time. Through DRF's dispatch
that request cost a statement for the token's fan, a second for the place, and as much Python
again around them (request wrapping, content negotiation, parsing ``{}``, rendering), which held
registration under a third of the cheapest request's rate (issue 15). Here it is one statement
that finds the token's fan and takes the place (``services.registration_first_time_by_token``),
with the same rate limit, the same answer and the same headers as the full view.

Anything else goes to the full view (``apis.SessionRegistrationApi``) unchanged: another header,
body or method, a cookie session, an unknown or inactive token, a fan already registered, a
refused or draw session, SQLite. Nothing here decides a refusal or an error; when the statement
took no place, the full view tells why, with the fan this statement already found (no second
lookup) and without counting the request against the rate limit a second time.
"""

from django.db import connection
from django.http import HttpRequest, HttpResponse
from rest_framework.renderers import JSONRenderer

from project.i18n import activate_for_user
from registrations import services
from registrations.authentication import FAN_FOUND, token_key
from registrations.serializers import registration_payload
from registrations.throttles import RegistrationRateThrottle

# The rate limit's throttle that counted the request already, for the full view (see the docstring).
RATE_COUNTED = "_registration_rate_counted"

_ACCEPTED = frozenset({"", "*/*", "application/json"})
_BODY_AT_MOST = 16  # bytes: "{}" and some whitespace; a larger body is not read here
_RENDERER = JSONRenderer()


def _asks_nothing_more(request: HttpRequest) -> bool:
    """An empty body, or ``{}`` as JSON, and JSON accepted: a lone fan with no priority code."""
    if request.META.get("HTTP_ACCEPT", "") not in _ACCEPTED:
        return False
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    if length > _BODY_AT_MOST:
        return False
    body = request.body.strip()
    return body == b"" or (body == b"{}" and request.content_type == "application/json")


def fast_registration(request: HttpRequest, session_id: int) -> HttpResponse | None:
    """The full view's 201 for a fan's first registration by token, or None: let the full view answer."""
    if request.method != "POST" or connection.vendor != "postgresql":
        return None
    key = token_key(request)
    if key is None or not _asks_nothing_more(request):
        return None
    throttle = RegistrationRateThrottle()
    setattr(request, RATE_COUNTED, throttle)
    if not throttle.allow_token(key):
        return None  # the full view answers 429 from this throttle's verdict
    found = services.registration_first_time_by_token(session_id=session_id, token_key=key)
    if found is None:
        return None
    fan, registration = found
    if not fan.is_active:
        return None
    setattr(request, FAN_FOUND, fan)
    if registration is None:
        return None
    activate_for_user(request, fan)
    return _created(registration_payload(registration))


def _created(payload: dict) -> HttpResponse:
    """What the full view's ``Response(payload, status=201)`` becomes after DRF's rendering."""
    response = HttpResponse(_RENDERER.render(payload), status=201, content_type="application/json")
    response["Allow"] = "POST, OPTIONS"
    return response
