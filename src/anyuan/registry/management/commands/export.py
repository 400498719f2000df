"""``anyuan export KIND FILE`` (and ``anyuan export all DIR``): the import formats' columns."""

from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from anyuan.core.actions import ValidationFailed
from anyuan.core.management.base import Command as TranslatedCommand
from anyuan.registry import exporting
from anyuan.registry.importing import KINDS
from anyuan.registry.importing.cli import acting_user, progress_bar


class Command(TranslatedCommand):
    help = gettext_lazy(
        "Export records of the park registry as CSV or XLSX (by the file's extension), in the "
        "columns of the import format: anyuan export KIND FILE, or anyuan export all DIR. "
        "Personal data is masked unless --reveal is given with a --reason."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", metavar="KIND", help=gettext_lazy("kind of records, or 'all'"))
        parser.add_argument("path", help=gettext_lazy("the file (or, for 'all', the directory)"))
        parser.add_argument("--as", dest="as_user", metavar="USERNAME")
        parser.add_argument(
            "--format",
            choices=exporting.FORMATS,
            default="csv",
            help=gettext_lazy("file format for 'all'"),
        )
        parser.add_argument(
            "--reveal",
            action="store_true",
            help=gettext_lazy("write personal data in clear (audited; needs --reason)"),
        )
        parser.add_argument(
            "--reason", default="", help=gettext_lazy("why personal data is needed")
        )

    def export_one(self, kind, path: Path, fmt, actor, options):
        try:
            with path.open("wb") as out:
                n = exporting.export_file(
                    kind,
                    out,
                    fmt=fmt,
                    actor=actor,
                    reveal=options["reveal"],
                    reason=options["reason"],
                    progress=progress_bar,
                )
        except BaseException:
            path.unlink(missing_ok=True)  # no half-written or unauthorised file stays behind
            raise
        self.stdout.write(_("%(file)s: %(n)d rows exported.") % {"file": path, "n": n})

    def handle(self, *args, kind, path, as_user=None, **options):
        actor = acting_user(as_user)
        target = Path(path)
        try:
            if kind == "all":
                target.mkdir(parents=True, exist_ok=True)
                fmt = options["format"]
                for name in KINDS:
                    self.export_one(name, target / f"{name}.{fmt}", fmt, actor, options)
                return
            if kind not in KINDS:
                raise CommandError(
                    _("Unknown kind %(kind)s; use one of: %(kinds)s, all")
                    % {"kind": kind, "kinds": ", ".join(KINDS)}
                )
            try:
                fmt = exporting.format_of(path)
            except ValueError as e:
                raise CommandError(str(e)) from None
            self.export_one(kind, target, fmt, actor, options)
        except PermissionDenied as e:
            raise CommandError(str(e) or _("You may not do this.")) from None
        except ValidationFailed as e:
            raise CommandError(" ".join(m for ms in e.errors.values() for m in ms)) from None
