"""Every text a page shows is marked for translation (issue 11 point 5): a scanner of our templates
fails on text outside {% translate %} / {% blocktranslate %}, in the page and in the attributes
people read (aria-label, title, placeholder, alt, data-confirm, a button's value). Names that are
the same in every language (Aperture, API, Google, Outlook, .ics) may stand bare."""

import re
from pathlib import Path

import pytest

from project.catalogues import BASE_DIR

ALLOWED_BARE = {"Aperture", "API", "Google", "Outlook", "ics"}
TEMPLATES = sorted(
    p
    for p in BASE_DIR.glob("*/templates/**/*.html")
    if p.relative_to(BASE_DIR).parts[0] not in {".venv", "tests", "staticfiles"}
)
MARKED = re.compile(
    r"{%\s*(?:blocktranslate|blocktrans)\b.*?%}.*?{%\s*end(?:blocktranslate|blocktrans)\s*%}"
    r"|{%\s*(?:translate|trans)\s.*?%}",
    re.S,
)
COMMENTS = re.compile(r"{#.*?#}|{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", re.S)
CODE = re.compile(r"<(script|style)\b.*?</\1>", re.S | re.I)
TEMPLATE_SYNTAX = re.compile(r"{%.*?%}|{{.*?}}", re.S)
READ_ATTRIBUTES = re.compile(r'\s(?:aria-label|title|placeholder|alt|data-confirm|value)="([^"]*)"')
WORDS = re.compile(r"[A-Za-z][A-Za-z'’-]*|[\u4e00-\u9fff]+")


def bare_texts(source: str) -> list[str]:
    text = MARKED.sub(" ", COMMENTS.sub(" ", source))
    text = CODE.sub(" ", text)
    text = re.sub(r'<input[^>]*type="hidden"[^>]*>', " ", text)  # values for programs, not people
    found = []
    for value in READ_ATTRIBUTES.findall(text):
        found += WORDS.findall(TEMPLATE_SYNTAX.sub(" ", value))
    text = re.sub(r"<[^>]*>", " ", text)  # tags, with their other attributes (names, classes, urls)
    found += WORDS.findall(TEMPLATE_SYNTAX.sub(" ", text))
    return [word for word in found if word not in ALLOWED_BARE]


def test_the_scanner_catches_bare_text_and_passes_marked_text():
    assert bare_texts("<p>Register now</p>") == ["Register", "now"]
    assert bare_texts('<button aria-label="Close">×</button>') == ["Close"]
    assert bare_texts("<p>{% translate 'Register now' %}</p>") == []
    assert bare_texts("{% blocktranslate %}You have {{ n }} seats{% endblocktranslate %}") == []
    assert bare_texts("<h1>报名</h1>") == ["报名"]
    assert bare_texts('<a href="/x" class="button">{{ session.title }}</a>') == []


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(BASE_DIR)))
def test_no_template_shows_unmarked_text(template: Path):
    assert bare_texts(template.read_text()) == []
