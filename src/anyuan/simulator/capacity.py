"""Truth derived from the stream itself: when a zone holds more people than its capacity.

The simulated life is not planned around capacities: a canteen fills up at lunch, two
shifts overlap in a workshop at the change. Nothing is injected for it; this module finds
it in the events as they are delivered, so ``truth.jsonl`` says when an exact capacity
rule must fire: an ``over_capacity`` line per episode, from the entry that took a zone over
its capacity until it is back within it, with the entries made while it was over as
``event_ids``.

"Inside" is what the events show, counted the way the documented presence rules count
(docs/events.md, *Semantics*): the delivered events in the order they arrive, each
delivered twice counted once; a passage at a transit zone counts for the zone it leads
into; an entry while inside opens nothing; an exit closes the stay only if it is not
older than the entry (else it belongs to an earlier stay); an entry held back behind its
own exit completes that stay. Whoever was inside before the stream began is not known
(the night shift's exits in the morning close nothing).
"""

from __future__ import annotations

import numpy as np

from anyuan.simulator.anomalies import Truth, iso
from anyuan.simulator.life import IN
from anyuan.simulator.world import World


class CapacityWatch:
    """Follows the zones that have a capacity across the days of a run and writes an
    ``over_capacity`` truth line per episode."""

    def __init__(self, world: World, truth: Truth):
        self.w, self.truth = world, truth
        nz = len(world.zones)
        self.staying = np.arange(nz, dtype=np.int32)
        for z in world.zones:
            target = z.idx
            while world.zones[target].transit and world.zones[target].parent >= 0:
                target = world.zones[target].parent
            self.staying[z.idx] = target
        self.capacity = np.array(
            [-1 if z.capacity is None else z.capacity for z in world.zones], dtype=np.int64
        )
        self.inside: dict[tuple[int, int], int] = {}  # (subject, zone) → entry time
        self.exit_first: dict[tuple[int, int], list] = {}  # → [entry time or None, exit time]
        self.count = np.zeros(nz, dtype=np.int64)
        self.episode: dict[int, int] = {}  # zone → its open episode's truth line
        self.delivered: set[tuple[int, int]] = set()

    def feed(self, zone, subject, direction, event_time, device, event_id, credited) -> None:
        """Events in the order they are delivered: per event its device's zone, subject,
        direction, event time (ms), device and event id, and whether it identifies anyone
        (an unreadable plate or unrecognised face opens no stay)."""
        zones = self.staying[zone]
        watched = np.flatnonzero((self.capacity[zones] >= 0) & credited)
        for i in watched.tolist():
            ref = (int(device[i]), int(event_id[i]))
            if ref in self.delivered:
                continue
            self.delivered.add(ref)
            entering = direction[i] == IN
            self._passage(int(zones[i]), int(subject[i]), entering, int(event_time[i]), ref)

    def _passage(self, zone: int, subject: int, entering: bool, at: int, ref) -> None:
        key = (subject, zone)
        if entering:
            earlier = self.exit_first.get(key)
            if earlier is not None and earlier[0] is None and at <= earlier[1]:
                earlier[0] = at  # the held-back entry of a stay already left
            elif key not in self.inside:
                self.inside[key] = at
                self.count[zone] += 1
                if self.count[zone] > self.capacity[zone]:
                    self._over(zone, at, ref)
            return
        entered = self.inside.get(key)
        if entered is not None and at >= entered:
            del self.inside[key]
            self.count[zone] -= 1
            tag = self.episode.get(zone)
            if tag is not None and self.count[zone] <= self.capacity[zone]:
                line = self.truth.lines[tag]
                line["_end"] = max(at, line["_end"])
                line["end"] = iso(line["_end"])
                del self.episode[zone]
        else:
            self.exit_first[key] = [None, at]

    def _over(self, zone: int, at: int, ref) -> None:
        tag = self.episode.get(zone)
        if tag is None:
            tag = self.episode[zone] = self.truth.add(
                "over_capacity", {"kind": "zone"}, self.w.zone_ref(zone), at, at,
                capacity=int(self.capacity[zone]), most_inside=0,
            )  # fmt: skip
        line = self.truth.lines[tag]
        line["_events"].append((at, f"{self.w.devices[ref[0]].serial}:{ref[1]}"))
        line["_end"] = max(at, line.get("_end", at))
        line["end"] = iso(line["_end"])
        line["most_inside"] = max(line["most_inside"], int(self.count[zone]))
