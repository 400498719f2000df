"""A trace as the app runs it: presences from the database (through ``restrict``), the
engine, and the result as JSON-ready rows with names.

What a user's trace can see is what ``Presence.objects.restrict(user, VIEW)`` gives: the
police of a station every presence of its zones; an enterprise user only the presences in
the enterprise's own zones — so an enterprise trace finds who was with the index case in
those zones and learns nothing about anyone elsewhere.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from django.db.models import F, Q
from django.utils import timezone

from anyuan.core.roles import VIEW
from anyuan.events.models import Presence, SubjectKind
from anyuan.events.queries import overlapping
from anyuan.registry.models import Person, Vehicle, Zone
from anyuan.tracing import engine

CONTACTS_KEPT = 2000  # contacts per hop kept in a run's stored result (the counts are exact)
MEETINGS_KEPT = 10  # meetings kept per contact
TRAJECTORY_KEPT = 5000


@dataclass
class Question:
    people: list[int]  # index people (ids the user may see)
    vehicle: int | None  # an index vehicle (by plate)
    start: dt.datetime
    end: dt.datetime
    minutes: int
    cumulative: bool
    hops: int


def _ms(value: dt.datetime) -> int:
    return int(value.timestamp() * 1000)


def _time(ms: int) -> str:
    return timezone.localtime(dt.datetime.fromtimestamp(ms / 1000, dt.UTC)).isoformat(
        timespec="seconds"
    )


def contact_zone_q(prefix: str = "") -> Q:
    return Q(**{f"{prefix}kind__in": engine.CONTACT_KINDS, f"{prefix}is_transit": False})


def load(user, start: dt.datetime, end: dt.datetime):
    """The user's presences in contact zones overlapping [start, end) as engine intervals,
    with the subject keys (kind, id or credential) of the dense subject numbers."""
    rows = (
        overlapping(Presence.objects.restrict(user, VIEW), start, end)
        .filter(contact_zone_q("zone__"))
        .values_list(
            "subject_kind",
            "person_id",
            "vehicle_id",
            "method",
            "credential",
            "zone_id",
            "entered_at",
            "left_at",
        )
    )
    keys: dict[tuple, int] = {}
    subject, zone, a, b = [], [], [], []
    for kind, person, vehicle, method, credential, zone_id, entered, left in rows.iterator(
        chunk_size=10_000
    ):
        if kind == SubjectKind.PERSON:
            key = ("person", person)
        elif kind == SubjectKind.VEHICLE:
            key = ("vehicle", vehicle)
        else:
            key = ("unknown", f"{method}:{credential}")
        subject.append(keys.setdefault(key, len(keys)))
        zone.append(zone_id)
        stop = int(engine.OPEN) if left is None else _ms(left)
        a.append(stop if entered is None else _ms(entered))  # an exit without entry
        b.append(stop)
    zones, zone_dense = np.unique(np.asarray(zone, np.int64), return_inverse=True)
    intervals = engine.Intervals(subject, zone_dense, a, b, n_subjects=len(keys))
    return intervals, list(keys), zones


def trajectory(user, q: Question) -> list[dict]:
    """Every stay of the index cases in the window (all zones, the containers too)."""
    who = Q(person_id__in=q.people)
    if q.vehicle is not None:
        who |= Q(vehicle_id=q.vehicle)
    rows = (
        overlapping(Presence.objects.restrict(user, VIEW).filter(who), q.start, q.end)
        .order_by(F("entered_at").asc(nulls_first=True), "id")
        .values(
            "person_id", "vehicle_id", "zone_id", "entered_at", "left_at",
            zone_name=F("zone__name"), zone_kind=F("zone__kind"), transit=F("zone__is_transit"),
        )[:TRAJECTORY_KEPT]
    )  # fmt: skip
    out = []
    for r in rows:
        out.append(
            {
                "subject": ["person", r["person_id"]]
                if r["person_id"]
                else ["vehicle", r["vehicle_id"]],
                "zone": {"id": r["zone_id"], "name": r["zone_name"]},
                "contact_zone": engine.contact_kind(r["zone_kind"], r["transit"]),
                "from": r["entered_at"].isoformat() if r["entered_at"] else None,
                "to": r["left_at"].isoformat() if r["left_at"] else None,
            }
        )
    return out


def names(user, keys: list[tuple]) -> dict[tuple, dict]:
    """Names of the subjects (through the presences the user may see, so an enterprise
    user sees the names of people in their own zones, as the presence list shows them)."""
    people = [k[1] for k in keys if k[0] == "person"]
    vehicles = [k[1] for k in keys if k[0] == "vehicle"]
    out = {}
    qs = Presence.objects.restrict(user, VIEW)
    for pk, name, enterprise in (
        qs.filter(person_id__in=people)
        .values_list("person_id", "person__name", "person__enterprise__name")
        .distinct()
    ):
        out[("person", pk)] = {"name": name, "enterprise": enterprise or ""}
    for pk, plate in (
        qs.filter(vehicle_id__in=vehicles).values_list("vehicle_id", "vehicle__plate").distinct()
    ):
        out[("vehicle", pk)] = {"name": plate, "enterprise": ""}
    missing = [k[1] for k in keys if k[0] == "person" and k not in out]
    for pk, name, enterprise in (
        Person.objects.restrict(user, VIEW)
        .filter(pk__in=missing)
        .values_list("pk", "name", "enterprise__name")
    ):
        out[("person", pk)] = {"name": name, "enterprise": enterprise or ""}
    missing = [k[1] for k in keys if k[0] == "vehicle" and k not in out]
    for pk, plate in (
        Vehicle.objects.restrict(user, VIEW).filter(pk__in=missing).values_list("pk", "plate")
    ):
        out[("vehicle", pk)] = {"name": plate, "enterprise": ""}
    for k in keys:
        if k[0] == "unknown":
            out[k] = {"name": k[1].split(":", 1)[1], "enterprise": ""}
    return out


def run(user, q: Question) -> tuple[dict, int, int]:
    """Run the question; (result rows, close contacts, secondary contacts)."""
    intervals, keys, zones = load(user, q.start, q.end)
    dense = {k: i for i, k in enumerate(keys)}
    index_keys = [("person", p) for p in q.people]
    if q.vehicle is not None:
        index_keys.append(("vehicle", q.vehicle))
    index = [dense[k] for k in index_keys if k in dense]
    # open stays last until the end of the window or now, whichever is first
    w0 = _ms(q.start)
    w1 = max(_ms(min(q.end, timezone.now())), w0 + 1)
    result = engine.trace(
        intervals, index, w0, w1, q.minutes * 60_000, cumulative=q.cumulative, hops=q.hops
    )
    shown: list[tuple] = list(index_keys)
    hops_out = []
    for hop in result.hops:
        kept = hop.subjects[:CONTACTS_KEPT]
        shown += [keys[int(s)] for s in kept]
        shown += [keys[int(s)] for s in hop.via[:CONTACTS_KEPT]]
        hops_out.append((hop, kept))
    zone_names = dict(
        Zone.objects.restrict(user, VIEW)
        .filter(pk__in=[int(z) for z in zones])
        .values_list("pk", "name")
    )
    label = names(user, list(dict.fromkeys(shown)))

    def ref(key):
        info = label.get(key, {"name": "—", "enterprise": ""})
        return {"kind": key[0], "id": key[1], **info}

    contacts = []
    edges = []
    for hop, kept in hops_out:
        keep = {int(s) for s in kept}
        # meetings that count, per contact, earliest first
        order = np.lexsort((hop.seg_start, hop.seg_dst))
        meetings: dict[int, list] = {}
        for i in order:
            dst = int(hop.seg_dst[i])
            if dst not in keep or len(meetings.setdefault(dst, [])) >= MEETINGS_KEPT:
                continue
            a, b = int(hop.seg_start[i]), int(hop.seg_end[i])
            zone_id = int(zones[int(hop.seg_zone[i])])
            meetings[dst].append(
                {
                    "zone": {"id": zone_id, "name": zone_names.get(zone_id, "—")},
                    "with": ref(keys[int(hop.seg_src[i])])["name"],
                    "from": _time(a),
                    "to": _time(b),
                    "minutes": round((b - a) / 60_000, 1),
                }
            )
        for s, first, exposure, via in zip(kept, hop.first, hop.exposure, hop.via, strict=False):
            contacts.append(
                {
                    **ref(keys[int(s)]),
                    "hop": hop.hop,
                    "first_exposure": _time(int(first)),
                    "exposure_minutes": round(int(exposure) / 60_000, 1),
                    "via": ref(keys[int(via)]),
                    "meetings": meetings.get(int(s), []),
                }
            )
        for src, dst, exposure in zip(hop.pair_src, hop.pair_dst, hop.pair_exposure, strict=True):
            if int(dst) in keep and len(edges) < 4 * CONTACTS_KEPT:
                edges.append(
                    {
                        "from": list(keys[int(src)]),
                        "to": list(keys[int(dst)]),
                        "minutes": round(int(exposure) / 60_000, 1),
                    }
                )
    counts = [len(h.subjects) for h in result.hops] + [0, 0]
    out = {
        "index": [ref(k) for k in index_keys],
        "trajectory": trajectory(user, q),
        "contacts": contacts,
        "edges": edges,
        "counts": counts[: max(q.hops, 1)],
        "truncated": any(len(h.subjects) > CONTACTS_KEPT for h in result.hops),
        "intervals": len(intervals),
    }
    return out, counts[0], sum(counts[1:])
