"""Large imports in the background: the upload is kept in a private file, an
:class:`~anyuan.registry.models.ImportJob` row holds the state, and a thread of the web
process runs :func:`~anyuan.registry.importing.engine.import_file` — the same import as
in the foreground (checks, all rows or none, one audit record) — writing its progress to
the row about once a second; the page polls it. ``anyuan import_jobs`` runs waiting jobs
from the command line (a scheduler can call it). A job whose worker stopped (the process
was restarted) shows as interrupted once it has given no sign of life for
``STALE_AFTER``; the file can then be uploaded again.
"""

import contextlib
import datetime as dt
import logging
import os
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from anyuan.registry.importing.engine import Problem, import_file

log = logging.getLogger(__name__)

STALE_AFTER = dt.timedelta(minutes=10)
PROGRESS_EVERY_S = 1.0


def in_background(size: int) -> bool:
    return size > settings.ANYUAN_IMPORT_BACKGROUND_BYTES


def upload_path(job) -> Path:
    return Path(settings.ANYUAN_IMPORT_JOBS_DIR) / f"{job.pk}.upload"


def submit(actor, kind: str, upload, *, filename: str, dry_run: bool, remote_addr=None):
    """Keep ``upload`` and queue its import; the job starts when the transaction commits.
    (The caller has checked that ``actor`` may import ``kind``.)"""
    from anyuan.registry.models import ImportJob

    job = ImportJob.objects.create(
        user=actor,
        kind=kind,
        filename=Path(filename or "").name[:200],
        size=getattr(upload, "size", 0) or 0,
        dry_run=dry_run,
        language=translation.get_language() or "",
        remote_addr=remote_addr,
    )
    path = upload_path(job)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        if hasattr(upload, "chunks"):
            for chunk in upload.chunks():
                out.write(chunk)
        else:
            upload.seek(0)
            for chunk in iter(lambda: upload.read(1 << 20), b""):
                out.write(chunk)
    transaction.on_commit(lambda: launch(job.pk))
    return job


def launch(pk: int) -> None:
    """Run job ``pk`` in a thread of this process."""
    threading.Thread(target=_thread, args=(pk,), name=f"import-job-{pk}", daemon=True).start()


def _thread(pk: int) -> None:
    try:
        run(pk)
    finally:
        connection.close()  # this thread's own connection


class _Progress:
    """The engine's progress reporter, writing to the job row about once a second."""

    def __init__(self, pk, description, total):
        self.pk, self.description, self.total = pk, str(description), total
        self.done = 0
        self.last = 0.0
        # the writing phase runs in the import's transaction: its progress is not saved
        # there (nobody else could see it before the commit, and it would hold the lock)
        self.depth = len(connection.atomic_blocks)
        self._save(force=True)

    def _save(self, force=False):
        from anyuan.registry.models import ImportJob

        now = time.monotonic()
        inside = len(connection.atomic_blocks) > self.depth
        if inside or (not force and now - self.last < PROGRESS_EVERY_S):
            return
        self.last = now
        ImportJob.objects.filter(pk=self.pk).update(
            phase=self.description[:40], done=self.done, total=self.total,
            heartbeat=timezone.now(),
        )  # fmt: skip

    def update(self, n=1):
        self.done += n
        self._save()

    def close(self):
        self._save(force=True)


def run(pk: int) -> bool:
    """Run job ``pk`` if it is waiting (claimed atomically: one worker only)."""
    from anyuan.registry.models import ImportJob

    now = timezone.now()
    state = ImportJob.State
    if not ImportJob.objects.filter(pk=pk, state=state.QUEUED).update(
        state=state.RUNNING, started=now, heartbeat=now
    ):
        return False
    job = ImportJob.objects.select_related("user").get(pk=pk)
    path = upload_path(job)
    with translation.override(job.language or settings.LANGUAGE_CODE):
        try:
            with path.open("rb") as f:
                result = import_file(
                    job.kind,
                    f,
                    filename=job.filename,
                    actor=job.user,
                    dry_run=job.dry_run,
                    progress=lambda description, total: _Progress(pk, description, total),
                    remote_addr=job.remote_addr,
                )
            report = {**result.as_dict(), "bad_rows": result.bad_rows}
            final = state.DONE if result.ok else state.REFUSED
        except PermissionDenied as e:  # the user's role changed since the upload
            report = {"problems": [Problem(None, "", "", str(e)).as_dict()]}
            final = state.REFUSED
        except Exception:  # a bug: logged, and shown as failed rather than running forever
            log.exception("import job %s failed", pk)
            report = {"problems": [Problem(None, "", "", _("The import failed.")).as_dict()]}
            final = state.FAILED
        finally:
            with contextlib.suppress(OSError):
                path.unlink()
    ImportJob.objects.filter(pk=pk).update(
        state=final, result=report, finished=timezone.now(), heartbeat=timezone.now()
    )
    return True


def run_waiting(older_than: dt.timedelta | None = None) -> int:
    """Run every waiting job, oldest first (``anyuan import_jobs``); how many ran.
    ``older_than``: only those queued at least that long ago (the scheduler's job leaves
    a fresh upload to the web process's own thread)."""
    from anyuan.registry.models import ImportJob

    ran = 0
    waiting = ImportJob.objects.filter(state=ImportJob.State.QUEUED).order_by("pk")
    if older_than is not None:
        waiting = waiting.filter(created__lte=timezone.now() - older_than)
    for pk in list(waiting.values_list("pk", flat=True)):
        ran += run(pk)
    return ran


def interrupted(job) -> bool:
    """The job is not finished but its worker has given no sign of life for a while."""
    if job.state not in job.OPEN:
        return False
    last = job.heartbeat or job.created
    return timezone.now() - last > STALE_AFTER
