"""Bulk import over the API: ``POST /api/v1/registry/import/{kind}`` (multipart ``file``).

All rows or none, as on the command line: 200 with the counts, or 422 with the problems
(line, column, masked value, reason; the first ``ANYUAN_IMPORT_MAX_PROBLEMS``, the others
counted) and nothing written. At most ``ANYUAN_IMPORT_MAX_ROWS`` rows per file.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from anyuan.core.api import ErrorOut, client_ip
from anyuan.core.roles import IMPORT, user_can
from anyuan.registry.importing import KINDS, import_file

router = Router(tags=["import"])


class ProblemOut(Schema):
    line: int | None
    column: str
    value: str
    message: str


class ImportOut(Schema):
    kind: str
    file: str
    sha256: str
    dry_run: bool
    ok: bool
    rows: int
    created: int
    updated: int
    unchanged: int
    problems: list[ProblemOut]
    more_problems: int = Field(0, description="problems beyond the listed ones, counted only")


@router.post(
    "/import/{kind}",
    response={
        200: ImportOut,
        403: ErrorOut,
        404: ErrorOut,
        413: ErrorOut,
        422: ImportOut,
        429: ErrorOut,
    },
    summary="Import a CSV or XLSX file (all rows or none)",
)
def import_kind(request, kind: str, file: File[UploadedFile], dry_run: Form[bool] = False):
    if kind not in KINDS:
        return Status(404, {"detail": _("Unknown kind; use one of: %s") % ", ".join(KINDS)})
    if not user_can(request.user, KINDS[kind].model, IMPORT):
        raise PermissionDenied(_("You may not import these records."))
    limit = settings.ANYUAN_IMPORT_MAX_BYTES
    if (file.size or 0) > limit:
        message = _("The file is too large: at most %(mb)d MB can be imported at once.")
        return Status(413, {"detail": message % {"mb": limit // (1024 * 1024)}})
    result = import_file(
        kind,
        getattr(file, "file", file),
        filename=file.name or "",
        actor=request.user,
        dry_run=dry_run,
        remote_addr=client_ip(request),
    )
    return Status(200 if result.ok else 422, result.as_dict())
