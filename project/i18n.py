"""Which language a response speaks (contract: API.md, "Language"; issue 11).

The rule, first match wins:
1. a signed-in person's saved ``language`` (``User.language``; blank means "not chosen");
2. the language cookie, set by the switch on every page (a visitor who is not signed in);
3. the ``Accept-Language`` header, in its own order of preference: ``zh``, ``zh-CN``, ``zh-Hans``,
   ``zh-SG`` (any ``zh-*``: Traditional Chinese readers read Simplified better than English) ->
   ``zh-hans``; ``en``, ``en-*`` -> ``en``;
4. the site's default, ``settings.LANGUAGE_CODE`` (``zh-hans`` unless the operator says otherwise).

Pages and session-authenticated calls are decided by ``LanguageMiddleware`` (it runs after
Django's authentication middleware). API calls authenticated by token are decided once DRF has
authenticated them: the authentication classes below activate the person's saved language.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from drf_spectacular.authentication import SessionScheme
from rest_framework import authentication

ZH_HANS = "zh-hans"
EN = "en"
# Each language named in itself, for the switch (a reader who cannot read the current language
# still finds their own).
SELF_NAMES = {ZH_HANS: "中文", EN: "English"}


def supported_languages() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def normalize_language(tag: str | None) -> str | None:
    """A language tag as people and browsers write it -> one of ours, or None."""
    if not tag:
        return None
    tag = tag.strip().lower().replace("_", "-")
    if tag == "zh" or tag.startswith("zh-"):
        return ZH_HANS if ZH_HANS in supported_languages() else None
    if tag == "en" or tag.startswith("en-"):
        return EN if EN in supported_languages() else None
    return None


def language_from_accept_header(header: str | None) -> str | None:
    """The first language of ours in the header's order of preference (``q`` values), or None."""
    if not header:
        return None
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")):
        tag, _sep, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0 and tag.strip() and tag.strip() != "*":
            weighted.append((-quality, position, tag))
    for _quality, _position, tag in sorted(weighted):
        language = normalize_language(tag)
        if language:
            return language
    return None


def user_language(user: Any) -> str | None:
    """The saved choice of a signed-in person, or None (anonymous, or never chose)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return normalize_language(getattr(user, "language", "") or "")


def request_language(request: HttpRequest, *, user: Any = None) -> str:
    """The rule in this module's docstring. ``user`` defaults to ``request.user`` when present."""
    if user is None:
        user = getattr(request, "user", None)
    return (
        user_language(user)
        or normalize_language(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
        or language_from_accept_header(request.headers.get("Accept-Language"))
        or settings.LANGUAGE_CODE
    )


def activate_query_language(params: Any) -> str | None:
    """``?lang=zh-hans|en`` (public calendar feeds): activates it for this request. Absent: the
    request's language stays. Anything else: a 400 that names the choices."""
    raw = params.get("lang")
    if raw in (None, ""):
        return None
    language = normalize_language(raw)
    if language is None:
        from project.errors import ApplicationError

        raise ApplicationError(
            _("Unknown language %(lang)s: use zh-hans or en.") % {"lang": repr(raw)},
            fields={"lang": [_("Choose zh-hans or en.")]},
        )
    translation.activate(language)
    return language


def recipient_language(user: Any) -> str:
    """The language of what is sent to a person outside a request (emails, private feeds)."""
    return user_language(user) or settings.LANGUAGE_CODE


def html_lang(language: str | None = None) -> str:
    """BCP 47 as ``<html lang>`` wants it: ``zh-Hans``, ``en``."""
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    if language.lower() == ZH_HANS:
        return "zh-Hans"
    return language


class LanguageMiddleware:
    """Activates the request's language (see the module docstring); says which one it used in
    ``Content-Language`` and that the answer varies with ``Accept-Language`` and the cookie."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = request_language(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language  # type: ignore[attr-defined]
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", translation.get_language() or language)
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        return response


def activate_for_user(request: Any, user: Any) -> None:
    """After DRF authenticated ``user``: their saved language wins over the header and cookie."""
    language = user_language(user)
    if language:
        translation.activate(language)
        django_request = getattr(request, "_request", request)
        django_request.LANGUAGE_CODE = language


class LanguageAuthenticationMixin:
    """Mixed into DRF authentication classes: a successful authentication activates the person's
    saved language, so that token-authenticated API calls answer in it (errors included)."""

    def authenticate(self, request):
        result = super().authenticate(request)  # type: ignore[misc]
        if result is not None:
            activate_for_user(request, result[0])
        return result


class TokenAuthentication(LanguageAuthenticationMixin, authentication.TokenAuthentication):
    pass


class SessionAuthentication(LanguageAuthenticationMixin, authentication.SessionAuthentication):
    pass


class LanguageSessionScheme(SessionScheme):
    """The schema documents the session cookie as before (drf-spectacular's own scheme)."""

    target_class = SessionAuthentication


def language_context(request: HttpRequest) -> dict[str, Any]:
    """Template context: ``html_lang`` for ``<html lang>``, the current language and the choices."""
    current = translation.get_language() or settings.LANGUAGE_CODE
    return {
        "html_lang": html_lang(current),
        "current_language": current,
        "language_choices": [
            {"code": code, "name": SELF_NAMES.get(code, code), "html_lang": html_lang(code)}
            for code in supported_languages()
        ],
    }
