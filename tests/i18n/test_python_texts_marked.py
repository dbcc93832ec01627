"""Texts that Python code shows to people are marked for translation (issue 11 point 5): an error
raised for a person (ApplicationError, Http404, PermissionDenied, ValidationError, ...), its field
messages, the messages a service collects for a field (``errors[name].append(...)``), admin
messages and email subjects and bodies may not be bare string literals or f-strings."""

import ast
from pathlib import Path

import pytest

from project.catalogues import BASE_DIR

APPS = ["accounts", "events", "registrations", "streams", "calendars", "frontend", "project"] + [
    p.parent.name
    for p in BASE_DIR.glob("*/apps.py")
    if p.parent.name not in {"accounts", "events", "registrations", "streams", "calendars", "frontend"}
]
SOURCES = sorted(
    p
    for app in dict.fromkeys(APPS)
    for p in (BASE_DIR / app).rglob("*.py")
    if "migrations" not in p.parts and "management" not in p.parts
)
ERRORS = {
    "ApplicationError",
    "Http404",
    "PermissionDenied",
    "NotFound",
    "ValidationError",
    "AuthenticationFailed",
    "_closed",
    "_invalid_code",
}
MESSAGES = {"message_user", "EmailMessage", "send_mail"}


def _name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _bare(node: ast.AST | None) -> bool:
    """A literal a person would read: words, not a code like "invalid" or an empty string."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.Constant) and any(c.isalpha() for c in v.value) for v in node.values)
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and " " in node.value.strip()


def _field_messages(node: ast.AST | None) -> list[ast.AST]:
    if not isinstance(node, ast.Dict):
        return []
    found: list[ast.AST] = []
    for value in node.values:
        found += value.elts if isinstance(value, ast.List) else [value]
    return found


def unmarked_texts(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node)
        candidates: list[ast.AST] = []
        if name in ERRORS:
            candidates += node.args[:1]
            candidates += [k.value for k in node.keywords if k.arg in ("message", "detail")]
            for keyword in node.keywords:
                if keyword.arg == "fields":
                    candidates += _field_messages(keyword.value)
            if node.args and isinstance(node.args[0], ast.Dict):  # serializers.ValidationError({...})
                candidates += _field_messages(node.args[0])
        elif name in MESSAGES:
            candidates += node.args[:2]
            candidates += [k.value for k in node.keywords if k.arg in ("subject", "body", "message")]
        elif name == "append" and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Subscript):
            candidates += node.args[:1]
        elif name == "_invalid" and node.args:
            candidates += _field_messages(node.args[0])
        found += [f"line {c.lineno}: {ast.unparse(c)[:80]}" for c in candidates if _bare(c)]
    return found


def test_the_checker_catches_bare_texts_and_passes_marked_ones():
    assert unmarked_texts('raise ApplicationError("This session is full.", code="full")')
    assert unmarked_texts('raise ApplicationError(_("Full."), fields={"x": [f"At least {n}."]})')
    assert unmarked_texts('errors["title"].append("This field is required.")')
    assert not unmarked_texts('raise ApplicationError(_("This session is full."), code="full")')
    assert not unmarked_texts('raise ApplicationError(exc.message, code="invalid")')
    assert not unmarked_texts('errors["x"].append(_("At least %(n)s.") % {"n": n})')


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(BASE_DIR)))
def test_no_text_for_people_is_left_unmarked(path: Path):
    assert unmarked_texts(path.read_text()) == []
