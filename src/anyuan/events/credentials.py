"""Passages by credential: the face id, card, employee number or plate of a person's or
vehicle's passages (trajectories, the search by credential).

The passage log has no index by credential (each request's credentials would fall all
over it, and the devices would wait for it); :class:`~anyuan.events.models.PassageCredential`
is that index, kept by the default processor:

- :func:`add` — in each batch's transaction, the batch's passages with a credential, one
  ``INSERT … SELECT`` from the log: they commit with the checkpoint, exactly once;
- :func:`passages_q` — the condition for "the passages with one of these credentials":
  those up to the processor's checkpoint by the index, the few after it by id in the log.
  Nothing is missed when the processor is behind or stopped: the part after its
  checkpoint is read from the log, slower the longer it is.
"""

import datetime as dt
from collections.abc import Iterable

from django.db import connection
from django.db.models import Q

from anyuan.events.models import Passage, PassageCredential, ProcessorCheckpoint


def add(after: int, upto: int) -> None:
    """Index the passages with id in (``after``, ``upto``] that have a credential; inside
    the caller's transaction. A passage indexed already is left as it is."""
    qn = connection.ops.quote_name
    entries, log = qn(PassageCredential._meta.db_table), qn(Passage._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {entries} ({qn('passage_id')}, {qn('credential')}, {qn('event_time')}) "  # noqa: S608 - quoted names
            f"SELECT {qn('id')}, {qn('credential')}, {qn('event_time')} FROM {log} "
            f"WHERE {qn('id')} > %s AND {qn('id')} <= %s AND {qn('credential')} <> '' "
            f"ON CONFLICT ({qn('passage_id')}) DO NOTHING",
            [after, upto],
        )


def passages_q(
    credentials: Iterable[str],
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> Q:
    """A condition on :class:`~anyuan.events.models.Passage`: the passages with one of
    ``credentials`` (and an event time in [``start``, ``end``), if given — the caller
    filters the log by time too)."""
    from anyuan.events.processor import DEFAULT_NAME  # the processor imports this module

    credentials = sorted({c for c in credentials if c})
    if not credentials:
        return Q(pk__in=[])
    entries = PassageCredential.objects.filter(credential__in=credentials)
    if start is not None:
        entries = entries.filter(event_time__gte=start)
    if end is not None:
        entries = entries.filter(event_time__lt=end)
    upto = ProcessorCheckpoint.last_passage(DEFAULT_NAME)  # the index holds all up to it
    after = Passage.objects.filter(pk__gt=upto, credential__in=credentials)
    # one subquery of ids, the index's UNION ALL the log's after the checkpoint (by id):
    # the databases then look the passages up by id, where an OR of the two made SQLite
    # scan the log by time instead
    ids = entries.order_by().values("passage_id").union(after.order_by().values("pk"), all=True)
    return Q(pk__in=ids)
