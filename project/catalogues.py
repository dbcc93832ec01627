"""Compiles the translation catalogues (``.po`` -> ``.mo``) in Python, so that a fresh machine
needs no GNU gettext to run Aperture (``make install`` runs this; so does the test suite).

The ``.mo`` files are build output and not committed: several people edit the ``.po`` files at
once, and a binary file cannot be merged. ``make messages`` (which does need gettext) extracts new
strings into the ``.po`` files; see README, "Language".

Usage: ``python -m project.catalogues [--check]``. ``--check`` compiles nothing and exits 1 when a
catalogue has an untranslated or fuzzy entry (CI also runs ``msgfmt --check --statistics``).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import polib

BASE_DIR = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".venv", "node_modules", ".git", "staticfiles", "__pycache__"}


def po_files(root: Path = BASE_DIR) -> Iterator[Path]:
    """Every catalogue of ours: ``<app>/locale/<lang>/LC_MESSAGES/*.po`` (and ``project/locale``)."""
    for locale_dir in sorted(root.glob("*/locale")):
        if locale_dir.parent.name in SKIP_DIRS:
            continue
        yield from sorted(locale_dir.glob("*/LC_MESSAGES/*.po"))


def compile_catalogue(po_path: Path, *, force: bool = False) -> bool:
    """Writes the ``.mo`` beside ``po_path`` when it is missing or older; True when it wrote one.
    The write is atomic (a temporary file renamed into place): parallel test workers and a running
    server never read half a file."""
    mo_path = po_path.with_suffix(".mo")
    if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
        return False
    catalogue = polib.pofile(str(po_path))
    fd, tmp = tempfile.mkstemp(dir=po_path.parent, suffix=".mo.tmp")
    os.close(fd)
    try:
        catalogue.save_as_mofile(tmp)
        os.replace(tmp, mo_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return True


def compile_all(*, force: bool = False) -> list[Path]:
    return [po for po in po_files() if compile_catalogue(po, force=force)]


def incomplete_entries(po_path: Path) -> list[str]:
    """The msgids a reader would see untranslated: empty translations and fuzzy ones."""
    catalogue = polib.pofile(str(po_path))
    problems = [f"untranslated: {entry.msgid!r}" for entry in catalogue.untranslated_entries()]
    problems += [f"fuzzy: {entry.msgid!r}" for entry in catalogue.fuzzy_entries()]
    return problems


def main(argv: list[str]) -> int:
    if "--check" in argv:
        failed = False
        for po in po_files():
            for problem in incomplete_entries(po):
                failed = True
                print(f"{po.relative_to(BASE_DIR)}: {problem}")
        return 1 if failed else 0
    for po in compile_all(force="--force" in argv):
        print(f"compiled {po.relative_to(BASE_DIR).with_suffix('.mo')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
