"""The OpenAPI schema tells the truth about errors: every operation lists the 4xx answers it can give,
each with the contract's error body ``{detail, code, fields}``.

Most of them follow from how the view is built, so they are added here rather than written by hand on
every view (and a new view gets them too):

- 400: the operation reads a body (a view that refuses without reading one declares it), or query
  parameters (filters, ``?page=``/``?page_size=``).
- 401: the view authenticates (a wrong ``Authorization: Token`` is a 401 even where anonymous reading
  is allowed).
- 403: a write (permissions and CSRF), or a read whose permission classes can refuse a signed-in user.
- 404: the path names an object, or the list is paginated (a page past the last).
- 429: the view is throttled.

409 (and any other code) is a business rule's answer: views declare it with ``@extend_schema``, e.g.
``responses={409: error_response("full / closed")}``.
"""

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, serializers

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

# Permission classes that never refuse a signed-in user a read (anonymous users get 401 instead); a
# permission class of ours says the same with ``reads_open = True``.
READ_OPEN_PERMISSIONS: tuple[type, ...] = (
    permissions.AllowAny,
    permissions.IsAuthenticated,
    permissions.IsAuthenticatedOrReadOnly,
)

DESCRIPTIONS = {
    "400": "Bad input: `code` is `invalid` (or a rule's code), `fields` names each bad field.",
    "401": "Not signed in, or a wrong or revoked token: `not_authenticated` / `authentication_failed`.",
    "403": "Signed in but not allowed: `permission_denied`.",
    "404": "No such object (or not visible to the caller), or a page past the last: `not_found`.",
    "409": "The object's state does not allow it now.",
    "429": "Too many requests: `throttled` (see `Retry-After`).",
}


class ErrorSerializer(serializers.Serializer):
    """The contract's error body; some errors add keys (e.g. a conflict's ``conflicts``)."""

    detail = serializers.CharField()
    code = serializers.CharField()
    fields = serializers.DictField(child=serializers.JSONField())


def error_response(description: str) -> OpenApiResponse:
    """An error answer of the contract's shape, e.g. ``409: error_response("full / closed")``."""
    return OpenApiResponse(response=ErrorSerializer, description=description)


class AutoSchema(SpectacularAutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict:
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            responses.setdefault(code, {})
        for code, response in responses.items():
            if code in DESCRIPTIONS and not response.get("content"):
                # Added above, or declared with a description only: the contract's error body.
                description = response.get("description") or DESCRIPTIONS[code]
                responses[code] = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                responses[code]["description"] = description
        return responses

    def _get_parameters(self) -> list:
        """Every query parameter may be sent empty (``?city=``): the views read an empty value as no
        value (project/api.py's query helpers), and the schema says so."""
        parameters = super()._get_parameters()
        for parameter in parameters:
            if parameter.get("in") == "query":
                parameter["allowEmptyValue"] = True
        return parameters

    def get_auth(self) -> list:
        """Anonymous callers are allowed (an empty requirement) wherever our permission classes let them
        read, not only where DRF's own ones do."""
        auths = super().get_auth()
        if self.method in SAFE_METHODS and {} not in auths and self._reads_are_open():
            auths.append({})
        return auths

    def _reads_are_open(self) -> bool:
        open_to_all = (permissions.AllowAny, permissions.IsAuthenticatedOrReadOnly)
        return all(isinstance(p, open_to_all) or getattr(p, "reads_open", False) for p in self.view.get_permissions())

    def _error_codes(self) -> list[str]:
        codes = []
        if self._reads_input():
            codes.append("400")
        if self.view.get_authenticators():
            codes.append("401")
        if self._may_refuse():
            codes.append("403")
        if "{" in self.path or self._is_paginated_list():
            codes.append("404")
        if self.view.get_throttles():
            codes.append("429")
        return codes

    def _reads_input(self) -> bool:
        if self.method not in SAFE_METHODS and self.method != "DELETE":
            return self.get_request_serializer() is not None
        return bool(self.get_override_parameters()) or self._is_paginated_list() or bool(self.get_filter_backends())

    def _may_refuse(self) -> bool:
        if self.method not in SAFE_METHODS:
            return not all(isinstance(p, permissions.AllowAny) for p in self.view.get_permissions())
        return not all(
            isinstance(p, READ_OPEN_PERMISSIONS) or getattr(p, "reads_open", False) for p in self.view.get_permissions()
        )

    def _is_paginated_list(self) -> bool:
        return self.method == "GET" and self._is_list_view() and self._get_paginator() is not None
