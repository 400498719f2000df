"""The hourly passage rollup: what the processor adds batch by batch equals what a rebuild
computes from the log, in local hours (Asia/Shanghai) also across midnight UTC."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from anyuan.dashboard import rollups
from anyuan.dashboard.models import PassageHour
from anyuan.events.models import Passage, ProcessorCheckpoint

UTC = dt.UTC


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def passages(world, times: list[tuple[str, dt.datetime, str]], tag="p") -> list[Passage]:
    """Passages at the world's zones: (``own`` / ``neighbour`` / ``foreign``, time, direction)."""
    tenants = {"own": world.own, "neighbour": world.neighbour, "foreign": world.foreign}
    rows = []
    for i, (who, when, direction) in enumerate(times):
        t = tenants[who]
        rows.append(
            Passage(
                device=t.device, zone=t.zone, device_event_id=f"{tag}-{i}", event_time=when,
                received_time=when, direction=direction, method="card", credential=f"C{i}",
            )
        )  # fmt: skip
    return Passage.objects.bulk_create(rows)


def log_rows(queryset=None):
    qs = queryset if queryset is not None else Passage.objects.all()
    return list(qs.order_by("pk").values_list("zone_id", "event_time", "direction"))


def snapshot() -> dict:
    return {
        (z, h.astimezone(UTC), d): n
        for z, h, d, n in PassageHour.objects.values_list("zone_id", "hour", "direction", "count")
    }


# 15:00–17:00 UTC is 23:00–01:00 in Shanghai: the local day changes at 16:00 UTC
AROUND_MIDNIGHT = [
    ("own", at(2026, 11, 2, 15, 0, 0), "in"),
    ("own", at(2026, 11, 2, 15, 30, 5), "in"),
    ("own", at(2026, 11, 2, 15, 59, 59, 999999), "out"),
    ("own", at(2026, 11, 2, 16, 0, 0), "in"),
    ("own", at(2026, 11, 2, 16, 45, 0), "in"),
    ("neighbour", at(2026, 11, 2, 16, 10, 0), "out"),
    ("foreign", at(2026, 11, 2, 23, 59, 0), "in"),  # 07:59 on 3 November, local
    ("own", at(2026, 11, 3, 0, 0, 0), "in"),  # 08:00 local
]


@pytest.mark.django_db
def test_add_and_rebuild_agree_in_local_hours(world):
    passages(world, AROUND_MIDNIGHT)
    rollups.add_passages(log_rows())
    added = snapshot()
    assert sum(added.values()) == Passage.objects.count()

    own = world.own.zone.pk
    # local hours, stored as their aware start: 23:00 on 2 November is 15:00 UTC
    assert added[(own, at(2026, 11, 2, 15), "in")] == 2
    assert added[(own, at(2026, 11, 2, 15), "out")] == 1
    assert added[(own, at(2026, 11, 2, 16), "in")] == 2  # 00:00 local, 3 November
    local = rollups.local_hour(at(2026, 11, 2, 16, 45))
    assert (local.date(), local.hour) == (dt.date(2026, 11, 3), 0)
    hour = PassageHour.objects.get(zone=own, hour=at(2026, 11, 2, 16), direction="in").hour
    assert hour.astimezone(rollups.local_zone()).strftime("%Y-%m-%d %H:%M") == "2026-11-03 00:00"

    PassageHour.objects.all().delete()
    result = rollups.rebuild(checkpoint=None)
    assert snapshot() == added
    assert result["passages"] == Passage.objects.count()
    # the days are local: 2 and 3 November (the world's own passages are on 2 November)
    assert result["days"] == 2


@pytest.mark.django_db
def test_batches_add_up(world):
    made = passages(world, AROUND_MIDNIGHT)
    rows = log_rows(Passage.objects.filter(pk__in=[p.pk for p in made]))
    rollups.add_passages(rows[:3])
    rollups.add_passages(rows[3:])
    rollups.add_passages([])  # an empty batch writes nothing
    once = snapshot()
    assert sum(once.values()) == len(rows)
    rollups.add_passages(rows)  # counted again: the upsert adds
    assert snapshot() == {k: 2 * n for k, n in once.items()}


@pytest.mark.django_db
def test_rebuild_since_a_day_keeps_the_days_before(world):
    passages(world, AROUND_MIDNIGHT)
    rollups.rebuild(checkpoint=None)
    full = snapshot()
    own = world.own.zone
    # a stale count on 3 November and one on 2 November
    PassageHour.objects.filter(zone=own, hour=at(2026, 11, 2, 16), direction="in").update(count=99)
    PassageHour.objects.filter(zone=own, hour=at(2026, 11, 2, 15), direction="in").update(count=77)
    PassageHour.objects.create(zone=own, hour=at(2026, 11, 5, 3), direction="in", count=5)
    rollups.rebuild(dt.date(2026, 11, 3), checkpoint=None)
    after = snapshot()
    assert after[(own.pk, at(2026, 11, 2, 16), "in")] == full[(own.pk, at(2026, 11, 2, 16), "in")]
    assert after[(own.pk, at(2026, 11, 2, 15), "in")] == 77  # before --since: left alone
    assert (own.pk, at(2026, 11, 5, 3), "in") not in after  # no passage: removed

    # nothing left in the log after the day: the counts from it are removed
    Passage.objects.filter(event_time__gte=at(2026, 11, 2, 16)).delete()
    rollups.rebuild(dt.date(2026, 11, 3), checkpoint=None)
    assert not PassageHour.objects.filter(hour__gte=at(2026, 11, 2, 16)).exists()
    # a full rebuild also drops counts from before the first passage
    PassageHour.objects.create(zone=own, hour=at(2020, 1, 1), direction="in", count=1)
    rollups.rebuild(checkpoint=None)
    assert not PassageHour.objects.filter(hour__lt=at(2026, 1, 1)).exists()
    assert sum(snapshot().values()) == Passage.objects.count()


@pytest.mark.django_db
def test_rebuild_counts_up_to_the_processors_checkpoint(world):
    """A rebuild counts what the processor has processed; the processor adds the rest
    (after its checkpoint) as it goes — together they count each passage once."""
    made = passages(world, AROUND_MIDNIGHT)
    middle = made[3].pk
    ProcessorCheckpoint.objects.create(name="presence", last_passage_id=middle)
    result = rollups.rebuild()
    assert result["passages"] == Passage.objects.filter(pk__lte=middle).count()
    rollups.add_passages(log_rows(Passage.objects.filter(pk__gt=middle)))
    together = snapshot()
    PassageHour.objects.all().delete()
    rollups.rebuild(checkpoint=None)
    assert snapshot() == together
    # no checkpoint of that name: that processor has processed nothing yet
    assert rollups.rebuild(checkpoint="other")["passages"] == 0


@pytest.mark.django_db
def test_half_hour_offsets_are_bucketed_by_minute(world, settings):
    """India's offset is +05:30: a UTC hour spans two local hours, so the database groups
    by minute there; the result still equals what the processor adds."""
    settings.TIME_ZONE = "Asia/Kolkata"
    start, end = at(2026, 11, 2), at(2026, 11, 3)
    assert rollups.granularity(rollups.local_zone(), start, end) == rollups.MINUTE
    passages(world, AROUND_MIDNIGHT)
    rollups.add_passages(log_rows())
    added = snapshot()
    own = world.own.zone.pk
    # 15:00 and 15:30:05 UTC are 20:30 and 21:00:05 in Kolkata: two local hours
    assert added[(own, at(2026, 11, 2, 14, 30), "in")] == 1
    assert added[(own, at(2026, 11, 2, 15, 30), "in")] == 2  # 21:00:05 and 21:30
    PassageHour.objects.all().delete()
    rollups.rebuild(checkpoint=None)
    assert snapshot() == added


@pytest.mark.django_db
def test_daylight_saving_hours_stay_apart(world, settings):
    """Where the clocks go back, the two local hours 01:00–02:00 are two rows."""
    settings.TIME_ZONE = "Europe/Berlin"
    passages(
        world,
        [("own", at(2026, 10, 25, 0, 15), "in"), ("own", at(2026, 10, 25, 1, 15), "in")],
    )
    rollups.add_passages(log_rows(Passage.objects.filter(device_event_id__startswith="p-")))
    hours = sorted(PassageHour.objects.filter(zone=world.own.zone).values_list("hour", flat=True))
    assert [h.astimezone(UTC) for h in hours] == [at(2026, 10, 25, 0), at(2026, 10, 25, 1)]
    added = snapshot()
    PassageHour.objects.all().delete()
    rollups.rebuild(dt.date(2026, 10, 25), checkpoint=None)
    assert {k: v for k, v in snapshot().items() if k[1] < at(2026, 10, 26)} == added


@pytest.mark.django_db
def test_rollups_command(world):
    passages(world, AROUND_MIDNIGHT)
    out = io.StringIO()
    call_command("rollups", "rebuild", "--whole-log", stdout=out)
    assert "rebuilt 2 days" in out.getvalue()
    assert sum(snapshot().values()) == Passage.objects.count()
    out = io.StringIO()
    call_command("rollups", "rebuild", "--since", "2026-11-03", stdout=out)
    assert "rebuilt 1 days: 0 passages" in out.getvalue()  # no processor has run
    with pytest.raises(CommandError):
        call_command("rollups", "rebuild", "--since", "yesterday")


@pytest.mark.django_db
def test_the_processor_counts_each_batch_once(world):
    """The default processor adds each batch's passages in the batch's transaction: the
    counts equal a rebuild from the log, and a second run adds nothing; a processor
    under another name keeps no rollups."""
    from anyuan.events.processor import Processor

    passages(world, AROUND_MIDNIGHT)
    Processor(name="other").run_once()
    assert not PassageHour.objects.exists()
    processor = Processor(batch=3)
    processor.run_once()
    added = snapshot()
    assert sum(added.values()) == Passage.objects.count() > len(AROUND_MIDNIGHT) - 1
    Processor().run_once()  # restarted: continues from the checkpoint
    assert snapshot() == added
    rollups.rebuild(checkpoint=None)
    assert snapshot() == added
