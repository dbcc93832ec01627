"""One application error type, and one place that turns every error into the contract's JSON shape:
``{"detail": "...", "code": "...", "fields": {...}}`` with a 4xx status."""

import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A business rule said no. Services raise it; the API layer renders it.

    ``extra`` is merged into the response body (e.g. the conflicting session's id).
    """

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid",
        status_code: int | None = None,
        fields: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.fields = fields or {}
        self.extra = extra or {}


def error_body(detail: str, code: str, fields: dict[str, Any] | None = None, **extra: Any) -> dict:
    return {"detail": detail, "code": code, "fields": fields or {}, **extra}


def _flatten_detail(detail: Any) -> Any:
    """DRF ErrorDetail -> plain strings, keeping the nesting."""
    if isinstance(detail, dict):
        return {key: _flatten_detail(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten_detail(value) for value in detail]
    return str(detail)


def _invalid_input() -> str:
    """DRF's own "Invalid input." in the request's language (DRF's catalogues translate it)."""
    return str(exceptions.ValidationError.default_detail)


def _validation_response(exc: exceptions.ValidationError) -> Response:
    detail = _flatten_detail(exc.detail)
    if isinstance(detail, dict):
        non_field = detail.pop("non_field_errors", None)
        message = non_field[0] if non_field else _invalid_input()
        if non_field:
            detail["non_field_errors"] = non_field
        return Response(error_body(message, "invalid", detail), status=400)
    if isinstance(detail, list):
        message = detail[0] if detail and isinstance(detail[0], str) else _invalid_input()
        return Response(error_body(message, "invalid", {"non_field_errors": detail}), status=400)
    return Response(error_body(str(detail), "invalid"), status=400)


_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.ParseError: "parse_error",
    exceptions.Throttled: "throttled",
}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, ApplicationError):
        body = error_body(exc.message, exc.code, exc.fields, **exc.extra)
        return Response(body, status=exc.status_code)
    if isinstance(exc, OperationalError):
        # The database refused or dropped the connection (e.g. "too many clients"): nothing was
        # accepted, and the client may simply try again.
        logger.warning("Database unavailable: %s", exc)
        response = Response(
            error_body(_("The service is busy; try again in a moment."), "service_unavailable"), status=503
        )
        response["Retry-After"] = "2"
        return response
    if isinstance(exc, (OverflowError, DataError)):
        # A number or date beyond what the database stores (e.g. an id of 2**70): the request is
        # refused; an enclosing atomic block has already rolled back whatever it had started.
        return Response(error_body(_("A number or date in the request is out of range."), "out_of_range"), status=400)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(error_body(exc.messages[0], "invalid", fields), status=400)
    if isinstance(exc, (Http404, ObjectDoesNotExist)):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        return _validation_response(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), None)
    if code is None:
        code = getattr(exc, "default_code", "error")
    detail = _flatten_detail(getattr(exc, "detail", str(exc)))
    if not isinstance(detail, str):
        detail = str(detail)
    response.data = error_body(detail, code)
    return response


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/calendar/")) or "json" in request.headers.get("Accept", "")


def json_not_found(request: HttpRequest, exception: Exception | None = None):
    if _wants_json(request):
        return JsonResponse(error_body(_("Not found."), "not_found"), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def json_server_error(request: HttpRequest):
    if _wants_json(request):
        return JsonResponse(error_body(_("Internal server error."), "server_error"), status=500)
    from django.views.defaults import server_error

    return server_error(request)


def json_bad_request(request: HttpRequest, exception: Exception | None = None):
    if _wants_json(request):
        return JsonResponse(error_body(_("Bad request."), "bad_request"), status=400)
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def json_permission_denied(request: HttpRequest, exception: Exception | None = None):
    if _wants_json(request):
        return JsonResponse(error_body(_("Permission denied."), "permission_denied"), status=403)
    from django.views.defaults import permission_denied

    return permission_denied(request, exception)
