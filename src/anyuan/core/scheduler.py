"""One scheduler for periodic and deadline work (``anyuan scheduler``).

Each app declares its jobs in a ``jobs.py`` module with :func:`register` — a name
(``"<app>.<what>"``), a callable without arguments, how often (``every``, a
:class:`~datetime.timedelta`) or when (``at``, a local time of day: daily), and a
``timeout``. The scheduler finds these modules among the installed apps (:func:`jobs`),
like the dashboard finds ``tiles.py``; ``core`` knows no app.

State lives in the database (:class:`~anyuan.core.models.ScheduledJob`, one row a job),
so that it is shared by every process and survives a restart:

- **due**: a job runs when its ``next_run`` has come, or when it has none yet. After a
  run (good or bad) ``next_run`` is set from the run's start — so a scheduler that was
  down runs every job whose time passed meanwhile at once, once, on its first
  :func:`tick` (a missed run catches up; missed runs are not replayed one by one);
- **lease**: a run first takes the job's lease — one ``UPDATE ... WHERE lease_until IS
  NULL OR lease_until <= now`` that only one process can win, on SQLite and on
  PostgreSQL alike — until ``now + timeout``, and gives it back at the end. A second
  scheduler, or a manual ``anyuan escalate --once``, finds the lease held and skips the
  job. A process that died holding a lease blocks the job until the lease expires; then
  the next run takes it over. ``timeout`` is therefore the longest a run may take;
- **log**: every run is logged on ``anyuan.scheduler`` (start; end with duration and
  result, or the error with its traceback) and its outcome stored on the row (last
  started, finished, success, duration, result, error; failures in a row), which the
  police administrator sees on the device status page (:func:`job_states`);
- **isolation**: a job that raises is logged, its error stored, and it runs again at its
  next time; the other jobs of the tick run all the same, and the scheduler goes on.

Jobs run one after the other in the scheduler's process; a long job delays the next
ones of its tick, not their catching up.
"""

import datetime as dt
import logging
import os
import socket
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from anyuan.core.models import ScheduledJob

log = logging.getLogger("anyuan.scheduler")

OK, FAILED, SKIPPED = "ok", "failed", "skipped"
ERROR_MAX = 2000  # characters of a traceback kept on the row


@dataclass(frozen=True)
class Job:
    name: str
    func: Callable[[], object]
    every: dt.timedelta | None = None
    at: dt.time | None = None  # daily at this local time
    timeout: dt.timedelta = dt.timedelta(minutes=5)
    label: str = ""  # for the status page (a lazy translation)

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """When the job is due after a run that started at ``moment``."""
        if self.every is not None:
            return moment + self.every
        local = timezone.localtime(moment)
        candidate = local.replace(
            hour=self.at.hour, minute=self.at.minute, second=self.at.second, microsecond=0
        )
        if candidate <= local:
            candidate = timezone.localtime(
                timezone.make_aware(
                    dt.datetime.combine(local.date() + dt.timedelta(days=1), self.at)
                )
            )
        return candidate


_registry: dict[str, Job] = {}
_discovered = False


def register(
    name: str,
    func: Callable[[], object] | None = None,
    *,
    every: dt.timedelta | float | None = None,
    at: dt.time | None = None,
    timeout: dt.timedelta | float = dt.timedelta(minutes=5),
    label: str = "",
):
    """Declare a job (in an app's ``jobs.py``); usable as a decorator. ``every``: a
    timedelta or seconds; ``at``: daily at this local time; exactly one of them."""
    if (every is None) == (at is None):
        raise ValueError(f"job {name}: give exactly one of every= and at=")
    if isinstance(every, int | float):
        every = dt.timedelta(seconds=every)
    if isinstance(timeout, int | float):
        timeout = dt.timedelta(seconds=timeout)
    if every is not None and every <= dt.timedelta(0):
        raise ValueError(f"job {name}: every= must be positive")

    def declare(function):
        known = _registry.get(name)
        if known is not None and known.func is not function:
            raise ValueError(f"job {name} is declared twice")
        _registry[name] = Job(name, function, every, at, timeout, label)
        return function

    return declare(func) if func is not None else declare


def jobs() -> dict[str, Job]:
    """Every declared job by name, the installed apps' ``jobs`` modules loaded first."""
    global _discovered
    if not _discovered:
        autodiscover_modules("jobs")
        _discovered = True
    return dict(sorted(_registry.items()))


def get(name: str) -> Job:
    try:
        return jobs()[name]
    except KeyError:
        raise LookupError(f"no job named {name!r}; known: {', '.join(jobs())}") from None


@dataclass
class Outcome:
    name: str
    status: str  # OK, FAILED or SKIPPED (the lease was held)
    result: object = None
    error: str = ""
    duration_s: float = 0.0


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _row(name: str) -> None:
    if not ScheduledJob.objects.filter(name=name).exists():
        try:
            with transaction.atomic():
                ScheduledJob.objects.create(name=name)
        except IntegrityError:  # another process created it meanwhile
            pass


def acquire(name: str, owner: str, timeout: dt.timedelta, now: dt.datetime) -> bool:
    """Take the job's lease until ``now + timeout`` if nobody holds it (or theirs
    expired); whether it was taken. One UPDATE: of two processes, one wins."""
    _row(name)
    free = Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    return (
        ScheduledJob.objects.filter(free, name=name).update(
            lease_owner=owner, lease_until=now + timeout
        )
        == 1
    )


def _summary(result) -> str:
    if result is None:
        return ""
    if isinstance(result, dict):
        text = ", ".join(f"{k} {v}" for k, v in result.items())
    elif isinstance(result, list | tuple | set):
        text = str(len(result))
    else:
        text = str(result)
    return text[:200]


def run_job(job: Job | str, now: dt.datetime | None = None) -> Outcome:
    """Run one job now (due or not) under its lease; skipped if the lease is held."""
    job = get(job) if isinstance(job, str) else job
    started = now or timezone.now()
    owner = _owner()
    if not acquire(job.name, owner, job.timeout, started):
        held = ScheduledJob.objects.filter(name=job.name).values_list("lease_owner", "lease_until")[
            0
        ]
        log.info("job %s skipped: running elsewhere (%s, lease until %s)", job.name, *held)
        return Outcome(job.name, SKIPPED)
    log.info("job %s started", job.name)
    clock = time.monotonic()
    result, error = None, ""
    try:
        result = job.func()
    except Exception:
        error = traceback.format_exc()[-ERROR_MAX:]
        log.exception("job %s failed; it runs again at its next time", job.name)
    duration = time.monotonic() - clock
    finished = timezone.now()
    summary = _summary(result)
    changes = {
        "last_started": started,
        "last_finished": finished,
        "last_duration_s": round(duration, 3),
        "next_run": job.next_after(started),
        "last_error": error,
        "last_result": "" if error else summary,
    }
    row = ScheduledJob.objects.filter(name=job.name)
    try:
        if error:
            row.update(**changes, runs=F("runs") + 1, failures=F("failures") + 1)
        else:
            row.update(**changes, runs=F("runs") + 1, failures=0, last_success=finished)
    finally:
        # give the lease back — unless it expired and another run took it over
        released = row.filter(lease_owner=owner).update(lease_owner="", lease_until=None)
    if not released:
        log.warning(
            "job %s outran its timeout (%s): its lease was taken over", job.name, job.timeout
        )
    if error:
        return Outcome(job.name, FAILED, None, error, duration)
    log.info("job %s done in %.3f s: %s", job.name, duration, summary or "ok")
    return Outcome(job.name, OK, result, "", duration)


def due(now: dt.datetime | None = None) -> list[Job]:
    """The jobs whose time has come: no ``next_run`` yet (never ran), or one not later
    than ``now`` (also one missed while no scheduler ran)."""
    now = now or timezone.now()
    planned = dict(ScheduledJob.objects.values_list("name", "next_run"))
    return [
        job for name, job in jobs().items() if planned.get(name) is None or planned[name] <= now
    ]


def tick(now: dt.datetime | None = None) -> list[Outcome]:
    """Run every due job once, one after the other; a job that fails (or whose state
    cannot be written) is logged and does not stop the others."""
    outcomes = []
    try:
        waiting = due(now)
    except Exception:
        log.exception("could not read the jobs' state; trying again at the next tick")
        return outcomes
    for job in waiting:
        if not connection.in_atomic_block:  # (a caller's transaction keeps its connection)
            close_old_connections()  # a connection the database dropped is opened anew
        try:
            outcomes.append(run_job(job, now))
        except Exception:  # the database itself failing: the next tick tries again
            log.exception("job %s could not run", job.name)
            outcomes.append(Outcome(job.name, FAILED, error=traceback.format_exc()[-ERROR_MAX:]))
    return outcomes


def job_states(now: dt.datetime | None = None) -> list[dict]:
    """Every declared job with its stored state, for the status page: ``running`` while
    a run holds an unexpired lease."""
    now = now or timezone.now()
    rows = {row.name: row for row in ScheduledJob.objects.all()}
    states = []
    for name, job in jobs().items():
        row = rows.get(name) or ScheduledJob(name=name)
        states.append(
            {
                "name": name,
                "label": job.label or name,
                "every_s": int(job.every.total_seconds()) if job.every is not None else None,
                "at": job.at,
                "running": bool(row.lease_until and row.lease_until > now),
                "last_started": row.last_started,
                "last_finished": row.last_finished,
                "last_success": row.last_success,
                "last_duration_s": row.last_duration_s,
                "last_result": row.last_result,
                "last_error": row.last_error,
                "failed": bool(row.last_error),
                "failures": row.failures,
                "runs": row.runs,
                "next_run": row.next_run,
                "overdue": row.next_run is not None
                and row.next_run < now - dt.timedelta(minutes=5),
            }
        )
    return states
