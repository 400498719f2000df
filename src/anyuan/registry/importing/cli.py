"""Helpers shared by ``anyuan import`` and ``anyuan export``: progress bars, ``--as``."""

import sys

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from anyuan.registry.importing.engine import ImportResult

PROGRESS_FROM_ROWS = 1000


def progress_bar(description: str, total: int | None):
    """A tqdm bar on stderr for large files (and only on a terminal)."""
    from tqdm import tqdm

    small = total is not None and total < PROGRESS_FROM_ROWS
    return tqdm(
        desc=description,
        total=total,
        unit=_("rows"),
        unit_scale=True,
        file=sys.stderr,
        disable=True if small else None,
        leave=False,
        mininterval=0.5,
    )


def acting_user(username: str | None):
    if not username:
        return None
    from anyuan.accounts.models import User

    try:
        user = User.objects.get(username=username)
    except User.DoesNotExist:
        raise CommandError(_("No such user: %s") % username) from None
    if not user.is_active:
        raise CommandError(_("This user is not active: %s") % username)
    return user


def summary(result: ImportResult) -> str:
    name = result.filename or result.kind
    if not result.ok:
        if not result.bad_rows:
            return _("%(file)s: refused — nothing was imported.") % {"file": name}
        return ngettext(
            "%(file)s: %(bad)d bad row — nothing was imported.",
            "%(file)s: %(bad)d bad rows — nothing was imported.",
            result.bad_rows,
        ) % {"file": name, "bad": result.bad_rows}
    text = ngettext(
        "%(file)s: %(rows)d row — %(created)d created, %(updated)d updated, "
        "%(unchanged)d unchanged.",
        "%(file)s: %(rows)d rows — %(created)d created, %(updated)d updated, "
        "%(unchanged)d unchanged.",
        result.rows,
    ) % {"file": name, **result.counts()}
    if result.dry_run:
        text += " " + _("(dry run: nothing was written)")
    return text
