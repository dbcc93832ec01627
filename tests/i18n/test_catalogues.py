"""Complete catalogues (issue 11 point 5): every text marked for translation is in its app's
catalogue with a Simplified Chinese translation, none fuzzy; the compiled catalogues build in Python.

The extraction check runs Django's ``makemessages`` (GNU gettext; ``.ci/run`` installs it) on a copy
of the sources, so a text marked in code but missing from a ``.po`` fails here, not in front of a fan."""

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

from project.catalogues import BASE_DIR, compile_catalogue, incomplete_entries, po_files

CATALOGUES = list(po_files())
needs_gettext = pytest.mark.skipif(
    not (shutil.which("xgettext") and shutil.which("msgfmt")), reason="GNU gettext is not installed"
)


def test_every_app_with_texts_has_a_chinese_catalogue():
    apps = {po.relative_to(BASE_DIR).parts[0] for po in CATALOGUES}
    assert {"accounts", "frontend"} <= apps


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: str(p.relative_to(BASE_DIR)))
def test_no_catalogue_has_an_untranslated_or_fuzzy_entry(po):
    assert incomplete_entries(po) == []


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: str(p.relative_to(BASE_DIR)))
def test_placeholders_survive_translation(po):
    """A translation that drops or renames ``%(name)s`` would crash or lie at run time."""
    import re

    placeholder = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")
    for entry in polib.pofile(str(po)):
        if entry.msgid_plural:
            translations = [t for t in entry.msgstr_plural.values() if t]
            expected = set(placeholder.findall(entry.msgid_plural)) | set(placeholder.findall(entry.msgid))
            for text in translations:
                assert set(placeholder.findall(text)) <= expected, (entry.msgid, text)
        elif entry.msgstr:
            assert set(placeholder.findall(entry.msgstr)) == set(placeholder.findall(entry.msgid)), entry.msgid


def test_catalogues_compile_in_python_without_gettext(tmp_path):
    source = CATALOGUES[0]
    copy = tmp_path / source.name
    shutil.copy(source, copy)
    assert compile_catalogue(copy)
    compiled = polib.mofile(str(copy.with_suffix(".mo")))
    assert {e.msgid for e in compiled if e.msgid} == {e.msgid for e in polib.pofile(str(source)) if not e.obsolete}
    assert not compile_catalogue(copy), "an up-to-date .mo is not rewritten"


def _sources_copy(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    ignore = shutil.ignore_patterns(
        ".venv", ".git", "tests", "bench", "staticfiles", "__pycache__", "*.mo", "db.sqlite3*", ".*cache"
    )
    shutil.copytree(BASE_DIR, root, ignore=ignore, symlinks=True)
    return root


@pytest.mark.slow_i18n
@needs_gettext
def test_makemessages_finds_no_text_missing_from_the_catalogues(tmp_path):
    root = _sources_copy(tmp_path)
    flags = ["-l", "zh_Hans", "--no-obsolete", "--no-wrap", "--add-location=file"]
    flags += ["--ignore=.venv", "--ignore=tests", "--ignore=bench", "--ignore=staticfiles"]
    for domain in ("django", "djangojs"):
        subprocess.run(
            [sys.executable, "manage.py", "makemessages", "-d", domain, *flags],
            cwd=root,
            check=True,
            capture_output=True,
        )
    problems = []
    for po in sorted(root.glob("*/locale/*/LC_MESSAGES/*.po")):
        name = po.relative_to(root)
        committed = BASE_DIR / name
        if not committed.exists():
            problems.append(f"{name}: texts are marked but the catalogue is not committed (run make messages)")
            continue
        problems += [f"{name}: {p}" for p in incomplete_entries(po)]
        statistics = subprocess.run(
            ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(po)], capture_output=True, text=True
        )
        if statistics.returncode != 0 or "untranslated" in statistics.stderr or "fuzzy" in statistics.stderr:
            problems.append(f"{name}: msgfmt: {statistics.stderr.strip()}")
    assert problems == [], "\n".join(problems) + "\nRun `make messages` and translate the new entries."
