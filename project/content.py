"""Texts organizers write (series, session, venue and city names and descriptions) may carry a
translation beside the original (issue 11 point 4; API.md "Language"): ``title`` is the original,
in whatever language the organizer wrote it, and ``title_en`` / ``title_zh_hans`` (likewise
``description_*``, ``name_*``) are optional versions in each language. A reader gets the version
in their language where it exists, else the original. Pages, API, calendar entries and emails all
read through ``translated``.
"""

from __future__ import annotations

from typing import Any

from django.utils import translation

from project.i18n import supported_languages


def field_suffix(language: str) -> str:
    """``zh-hans`` -> ``zh_hans``: the suffix of the translation fields."""
    return language.lower().replace("-", "_")


def translation_fields(field: str) -> list[str]:
    """``title`` -> ``["title_zh_hans", "title_en"]``."""
    return [f"{field}_{field_suffix(code)}" for code in supported_languages()]


def translated(obj: Any, field: str, language: str | None = None) -> str:
    """``obj.<field>`` in ``language`` (default: the active one) where a translation exists, else
    the original."""
    if obj is None:
        return ""
    language = language or translation.get_language()
    if language:
        version = getattr(obj, f"{field}_{field_suffix(language)}", "")
        if version:
            return version
        # A model may name another field that holds this language's version (a city's local_name
        # is its Chinese name): ``translation_fallbacks = {"name": {"zh-hans": "local_name"}}``.
        fallback = getattr(obj, "translation_fallbacks", {}).get(field, {}).get(language.lower())
        if fallback and getattr(obj, fallback, ""):
            return getattr(obj, fallback)
    return getattr(obj, field, "") or ""


def city_label(city: Any, language: str | None = None) -> str:
    """A city in the reader's language, with its local name beside it when that differs
    (``Luoyang 洛阳`` in English, ``洛阳`` in Chinese)."""
    name = translated(city, "name", language)
    local = getattr(city, "local_name", "") or ""
    return f"{name} {local}" if local and local != name else name
