"""``anyuan compiletranslations``: compile every ``.po`` under ``LOCALE_PATHS`` to ``.mo``.

Pure Python (polib), so a fresh machine needs no GNU gettext. A catalogue whose ``.mo``
is newer than its ``.po`` is skipped, so running it before every start or test run is
cheap. Each ``.mo`` is written to a temporary file and moved into place, so a page
rendered meanwhile never reads half a catalogue.

A process keeps the catalogues it has read (Django per language, Python's ``gettext`` per
file): one that had translated anything before the ``.mo`` existed would go on answering
in English. So when anything is compiled, this process's catalogues are read again
(:func:`reload_translations`) — ``anyuan demo`` compiles and then serves, and a fresh
clone's first run is Chinese.
"""

import gettext
import os
import tempfile
from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def catalogues(roots) -> list[Path]:
    found = []
    for root in roots:
        root = Path(root)
        if root.is_dir():
            found.extend(sorted(root.glob("*/LC_MESSAGES/*.po")))
    return found


def compile_po(po_path: Path, mo_path: Path) -> int:
    """Write ``mo_path`` from ``po_path``; returns the number of translated entries."""
    try:
        catalogue = polib.pofile(str(po_path))
    except (OSError, ValueError) as e:
        raise CommandError(f"{po_path}: {e}") from e
    # fuzzy and obsolete entries are left out, as msgfmt does
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".mo", dir=mo_path.parent)
    os.close(fd)
    try:
        catalogue.save_as_mofile(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, mo_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(catalogue.translated_entries())


def reload_translations() -> None:
    """Forget the catalogues this process has read, so that the next translation reads the
    ``.mo`` files as they are now (what Django's tests do when ``LOCALE_PATHS`` changes)."""
    from asgiref.local import Local
    from django.utils import translation
    from django.utils.translation import trans_real

    language = translation.get_language()
    gettext._translations.clear()  # Python's own cache, by .mo path
    trans_real._translations = {}
    trans_real._default = None
    trans_real._active = Local()
    trans_real.translation_catalog_exists.cache_clear()
    if language:
        translation.activate(language)


class Command(BaseCommand):
    help = "Compile the translation catalogues (.po → .mo) under LOCALE_PATHS; needs no gettext."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="compile even when the .mo is up to date"
        )

    def handle(self, *args, force=False, **options):
        compiled = skipped = 0
        for po_path in catalogues(settings.LOCALE_PATHS):
            mo_path = po_path.with_suffix(".mo")
            if (
                not force
                and mo_path.exists()
                and mo_path.stat().st_mtime >= po_path.stat().st_mtime
            ):
                skipped += 1
                continue
            count = compile_po(po_path, mo_path)
            compiled += 1
            if options["verbosity"] >= 2:
                self.stdout.write(f"{po_path}: {count} messages")
        if compiled:
            reload_translations()
        if options["verbosity"] >= 1:
            self.stdout.write(f"translations: {compiled} compiled, {skipped} up to date")
