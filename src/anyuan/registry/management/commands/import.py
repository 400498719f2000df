"""``anyuan import KIND FILE`` and ``anyuan import all DIR``: bulk import (all or nothing)."""

from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from anyuan.core.management.base import Command as TranslatedCommand
from anyuan.registry.importing import KINDS, ImportResult, import_directory, import_file
from anyuan.registry.importing.cli import acting_user, progress_bar, summary


class Command(TranslatedCommand):
    help = gettext_lazy(
        "Import a CSV or XLSX file into the park registry (anyuan import KIND FILE), or every "
        "KIND.csv / KIND.xlsx of a directory (anyuan import all DIR). A file with any bad row "
        "is refused as a whole, with a report of every problem."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", help=gettext_lazy("kind of records, or 'all'"), metavar="KIND")
        parser.add_argument("path", help=gettext_lazy("the file (or, for 'all', the directory)"))
        parser.add_argument(
            "--as",
            dest="as_user",
            metavar="USERNAME",
            help=gettext_lazy("act as this user (default: the system)"),
        )
        parser.add_argument(
            "--dry-run", action="store_true", help=gettext_lazy("check only, write nothing")
        )

    def report(self, result: ImportResult) -> None:
        if result.ok:
            self.stdout.write(summary(result))
            return
        for problem in result.problems:
            self.stderr.write(f"  {problem}")
        if result.more_problems:
            self.stderr.write("  " + _("… and %(n)d more problems.") % {"n": result.more_problems})
        self.stderr.write(summary(result))

    def handle(self, *args, kind, path, as_user=None, dry_run=False, **options):
        actor = acting_user(as_user)
        target = Path(path)
        try:
            if kind == "all":
                if not target.is_dir():
                    raise CommandError(_("Not a directory: %s") % path)
                results = import_directory(
                    target,
                    actor=actor,
                    dry_run=dry_run,
                    progress=progress_bar,
                    on_result=self.report,
                )
                if not results:
                    raise CommandError(_("No KIND.csv or KIND.xlsx files in %s") % path)
            else:
                if kind not in KINDS:
                    raise CommandError(
                        _("Unknown kind %(kind)s; use one of: %(kinds)s, all")
                        % {"kind": kind, "kinds": ", ".join(KINDS)}
                    )
                if not target.is_file():
                    raise CommandError(_("No such file: %s") % path)
                with target.open("rb") as f:
                    result = import_file(
                        kind,
                        f,
                        filename=target.name,
                        actor=actor,
                        dry_run=dry_run,
                        progress=progress_bar,
                    )
                self.report(result)
                results = [result]
        except PermissionDenied as e:
            raise CommandError(str(e)) from None
        if not all(r.ok for r in results):
            raise CommandError(_("Import refused; nothing was written."), returncode=1)
        if kind == "all" and dry_run:
            self.stdout.write(_("Dry run: everything was rolled back."))
