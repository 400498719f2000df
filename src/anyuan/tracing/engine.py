"""The contact-tracing engine: presence intervals in numpy arrays, contacts on demand.

Everything is integers: subjects and zones are dense or database ids, times are
milliseconds since the epoch. An interval is one stay of one subject in one zone,
``[start, end)``; an open stay (no exit yet) has ``end = OPEN`` and lasts until the end
of the query's window; an exit without entry has no known start and is left out (it
gives no time together with anyone).

Building :class:`Intervals`:

1. the stays of one subject in one zone that overlap or touch are merged (duplicates,
   a double entry's second stay, an exit and an entry at the same instant), so one
   continuous stay is one interval whatever the passages looked like;
2. the intervals are sorted by (zone, start), with ``key = zone · 2⁴¹ + start − base`` for
   ``searchsorted``; per zone the longest *short* interval (≤ ``LONG_MS``) bounds how far
   back a stay that still overlaps a moment can have begun; longer and open ones are
   listed per zone apart (few: the people inside now, a night in a dormitory room);
3. per subject, the positions of its intervals (CSR), for the frontier of each hop.

A query (:meth:`Intervals.contacts`) takes the frontier — subjects, each with the time
from which their stays count — and finds, for every frontier interval, the intervals of
its zone that overlap it: one ``searchsorted`` pair per frontier interval, the ranges
expanded in chunks of at most ``CHUNK`` candidates, every test vectorised. For a large
frontier under the single rule (a 2-hop trace: thousands of close contacts) it sweeps
instead of listing pairs (:meth:`Intervals._sweep`). No contact graph is precomputed: a
site-wide one has about 10⁸ overlapping pairs a day.

Contact rules (the same in the brute-force reference of the tests):

- **single**: one continuous time together in one zone of at least ``min_ms``;
- **cumulative**: the union of the time together (all zones) within some 24 hours (a
  rolling window) of at least ``min_ms``.

A contact's *first exposure* is the start of its first qualifying time together (single)
or the start of the earliest 24-hour window that qualifies, taken at a time together
(cumulative). :func:`trace` runs hop after hop, *time-respecting*: the stays of a hop-n
contact count for hop n+1 only from its own first exposure on; each subject is found at
its lowest hop and never again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Zone kinds where people stay together: contacts are only looked for there. Transit zones
# (gates, corridors: ``Zone.is_transit`` or these kinds) are never contact zones, nor are
# containers (areas, buildings, floors, yards): a stay in the park or a building says
# nothing about being near someone.
CONTACT_KINDS = frozenset({"room", "dormitory", "workshop", "warehouse", "canteen", "office"})
TRANSIT_KINDS = frozenset({"gate", "corridor"})


def contact_kind(kind: str, is_transit: bool) -> bool:
    """Is a zone of this kind (and transit flag) one where contacts are looked for?"""
    return not is_transit and kind not in TRANSIT_KINDS and kind in CONTACT_KINDS


OPEN = np.int64(2**62)  # the end of an open stay
LONG_MS = 24 * 3600 * 1000  # stays longer than this (and open ones) are kept apart per zone
DAY_MS = 24 * 3600 * 1000  # the cumulative rule's window
CHUNK = 4_000_000  # candidate pairs expanded at once
SWEEP_ABOVE = 1_000_000  # candidates beyond which the single rule sweeps instead of pairing
_ZONE_SHIFT = np.int64(2**41)  # ms: about 69 years after the earliest start
_MAX_ZONE = 2**21


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(s, s + c)`` for every (s, c), without a loop."""
    counts = counts.astype(np.int64, copy=False)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    ends = np.cumsum(counts)
    offsets = np.repeat(starts.astype(np.int64) - (ends - counts), counts)
    return offsets + np.arange(total, dtype=np.int64)


def _group_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Positions where a new group begins in an array sorted by group key."""
    if len(sorted_keys) == 0:
        return np.zeros(0, np.int64)
    return np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])


@dataclass
class HopResult:
    """The contacts found at one hop. Per contact (arrays of equal length, ranked by
    exposure, largest first): ``subjects``, ``first`` (first exposure, ms), ``exposure``
    (ms spent in a contact zone together with at least one frontier subject, counted from
    that subject's own first exposure), ``via`` (a frontier subject met: the one with the
    most time together, or, for large frontiers, the one of the first exposure). Per
    qualifying (source, contact) pair, the graph's edges: ``pair_src``, ``pair_dst``,
    ``pair_exposure``, ``pair_first``. Per meeting that counts (a time together in one
    zone): ``seg_src``, ``seg_dst``, ``seg_zone``, ``seg_start``, ``seg_end``."""

    hop: int
    subjects: np.ndarray
    first: np.ndarray
    exposure: np.ndarray
    via: np.ndarray
    pair_src: np.ndarray
    pair_dst: np.ndarray
    pair_exposure: np.ndarray
    pair_first: np.ndarray
    seg_src: np.ndarray
    seg_dst: np.ndarray
    seg_zone: np.ndarray
    seg_start: np.ndarray
    seg_end: np.ndarray
    candidates: int = 0  # candidate intervals examined (for the benchmark)
    method: str = "pairs"


@dataclass
class TraceResult:
    index: np.ndarray
    start: int
    end: int
    min_ms: int
    cumulative: bool
    hops: list[HopResult] = field(default_factory=list)

    def contacts(self, hop: int) -> np.ndarray:
        return self.hops[hop - 1].subjects if len(self.hops) >= hop else np.zeros(0, np.int64)


class Intervals:
    """Presence intervals sorted by (zone, start), indexed for contact queries."""

    def __init__(self, subject, zone, start, end, *, n_subjects: int | None = None):
        subject = np.asarray(subject, dtype=np.int64)
        zone = np.asarray(zone, dtype=np.int64)
        start = np.asarray(start, dtype=np.int64)
        end = np.asarray(end, dtype=np.int64)
        if not (len(subject) == len(zone) == len(start) == len(end)):
            raise ValueError("subject, zone, start and end must have the same length")
        if len(zone) and (zone.min() < 0 or zone.max() >= _MAX_ZONE or subject.min() < 0):
            raise ValueError("zone ids must be in [0, 2**21) and subject ids non-negative")
        keep = end > start  # an exit without entry (start = end) gives no time together
        subject, zone, start, end = subject[keep], zone[keep], start[keep], end[keep]
        self.n_subjects = int(
            n_subjects if n_subjects is not None else (subject.max() + 1 if len(subject) else 0)
        )
        subject, zone, start, end = _merge(subject, zone, start, end)

        self.base = np.int64(start.min()) if len(start) else np.int64(0)
        key = zone * _ZONE_SHIFT + (start - self.base)
        order = np.argsort(key, kind="stable")
        self.key = key[order]
        self.zone = zone[order].astype(np.int32)
        self.start = start[order]
        self.end = end[order]
        self.subject = subject[order].astype(np.int32)
        del key, order
        n_zones = int(self.zone.max()) + 1 if len(self.zone) else 1
        self.n_zones = n_zones

        duration = self.end - self.start
        self.long = duration > LONG_MS  # open stays included (end = OPEN)
        # per zone, the longest short stay (the array is sorted by zone)
        self.maxdur = np.zeros(n_zones, np.int64)
        g = _group_starts(self.zone)
        if len(g):
            self.maxdur[self.zone[g]] = np.maximum.reduceat(np.where(self.long, 0, duration), g)
        del duration
        self.long_pos = np.flatnonzero(self.long)  # already in (zone, start) order
        counts = np.bincount(self.zone[self.long_pos], minlength=n_zones)
        self.long_ptr = np.r_[0, np.cumsum(counts)].astype(np.int64)

        self.by_subject = np.argsort(self.subject, kind="stable").astype(np.int64)
        counts = np.bincount(self.subject, minlength=self.n_subjects)
        self.subject_ptr = np.r_[0, np.cumsum(counts)].astype(np.int64)

    def __len__(self) -> int:
        return len(self.start)

    @property
    def nbytes(self) -> int:
        return sum(
            a.nbytes
            for a in (
                *(self.zone, self.start, self.end, self.subject, self.key, self.long),
                *(self.by_subject, self.subject_ptr, self.maxdur, self.long_pos, self.long_ptr),
            )
        )

    def of_subjects(self, subjects: np.ndarray) -> np.ndarray:
        """Positions of the intervals of ``subjects`` (in the order of ``subjects``)."""
        subjects = np.asarray(subjects, dtype=np.int64)
        subjects = subjects[subjects < self.n_subjects]
        lo = self.subject_ptr[subjects]
        return self.by_subject[_ranges(lo, self.subject_ptr[subjects + 1] - lo)]

    # --- one hop ---------------------------------------------------------------------

    def _frontier(self, src, t_from, w0, w1):
        """The frontier's stays clipped to the window and to each subject's own start:
        (source, zone, start, end) of those that keep some time."""
        src = np.asarray(src, np.int64)
        ok = src < self.n_subjects
        src, t_from = src[ok], np.asarray(t_from, np.int64)[ok]
        lo = self.subject_ptr[src]
        counts = self.subject_ptr[src + 1] - lo
        q = self.by_subject[_ranges(lo, counts)]
        a = np.maximum(np.maximum(self.start[q], np.repeat(t_from, counts)), w0)
        b = np.minimum(self.end[q], w1)
        keep = b > a
        q = q[keep]
        return np.repeat(src, counts)[keep], self.zone[q].astype(np.int64), a[keep], b[keep]

    def _short_ranges(self, zone, a, b):
        """Per (zone, [a, b)): the positions [lo, hi) of the zone's intervals that start
        before ``b`` and late enough to reach ``a`` if short (long ones: ``long_pos``)."""
        rel_lo = np.clip(a - self.maxdur[zone] - self.base, 0, _ZONE_SHIFT - 1)
        rel_hi = np.clip(b - self.base, 0, _ZONE_SHIFT - 1)
        lo = np.searchsorted(self.key, zone * _ZONE_SHIFT + rel_lo, side="left")
        hi = np.searchsorted(self.key, zone * _ZONE_SHIFT + rel_hi, side="left")
        return lo, hi

    def _pairs(self, q_src, q_zone, q_a, q_b, min_ms, cumulative, known):
        """Every time together of a frontier stay with a stay of a subject not ``known``:
        (src, dst, zone, start, end), and the candidates examined. In the single rule,
        times together shorter than ``min_ms`` are dropped at once (they never count)."""
        lo, hi = self._short_ranges(q_zone, q_a, q_b)
        l_lo, l_hi = self.long_ptr[q_zone], self.long_ptr[q_zone + 1]
        out = [[] for _ in range(5)]
        seen = []  # candidate positions (for the exposure)
        candidates = 0
        for ranges_lo, ranges_n, positions in (
            (lo, hi - lo, None),
            (l_lo, l_hi - l_lo, self.long_pos),
        ):
            n = ranges_n.astype(np.int64)
            bounds = np.cumsum(n)
            first = 0
            while first < len(n):
                # as many frontier stays as fit in one chunk of candidates (at least one)
                done = int(bounds[first - 1]) if first else 0
                last = max(int(np.searchsorted(bounds, done + CHUNK, side="right")), first + 1)
                sl = slice(first, last)
                first = last
                c = _ranges(ranges_lo[sl], n[sl])
                if len(c) == 0:
                    continue
                candidates += len(c)
                qi = np.repeat(np.arange(sl.start, sl.stop), n[sl])
                if positions is not None:
                    c = positions[c]
                dst = self.subject[c]
                ok = ~known[dst]
                if positions is None:
                    ok &= ~self.long[c]  # long ones come from their own list
                c, qi, dst = c[ok], qi[ok], dst[ok]
                seen.append(c)
                os_ = np.maximum(q_a[qi], self.start[c])
                oe = np.minimum(q_b[qi], self.end[c])
                ok = (oe - os_ >= min_ms) if not cumulative else (oe > os_)
                for k, v in enumerate((q_src[qi[ok]], dst[ok], q_zone[qi[ok]], os_[ok], oe[ok])):
                    out[k].append(v.astype(np.int64))
        cat = [np.concatenate(x) if x else np.zeros(0, np.int64) for x in out]
        seen = np.sort(np.concatenate(seen)) if seen else np.zeros(0, np.int64)
        seen = seen[np.r_[True, seen[1:] != seen[:-1]]] if len(seen) else seen
        return (*cat, seen, candidates)

    def _candidates(self, zones, za, zb):
        """Positions of every interval of ``zones`` that may overlap [za, zb) (per zone)."""
        lo, hi = self._short_ranges(zones, za, zb)
        c = _ranges(lo, hi - lo)
        c = c[~self.long[c]]
        lng = self.long_pos[
            _ranges(self.long_ptr[zones], self.long_ptr[zones + 1] - self.long_ptr[zones])
        ]
        return np.concatenate([c, lng])

    def _sweep(self, q_src, q_zone, q_a, q_b, w0, w1, min_ms, known):
        """The single rule for a large frontier, without listing pairs: per zone, the
        frontier's stays sorted by start with the running maximum of their ends; a stay
        ``c`` meets some frontier stay ``f`` for at least N iff one with
        ``f.start ≤ c.end − N`` ends at or after ``c.start + N`` (both at least N long)."""
        sh, base = _ZONE_SHIFT, self.base
        # every stay of the zones the frontier was in, over the frontier's time there
        # (all of them: the exposure counts short times together too)
        oz = np.argsort(q_zone, kind="stable")
        zg = _group_starts(q_zone[oz])
        zones = q_zone[oz][zg]
        za = np.minimum.reduceat(q_a[oz], zg) if len(zg) else zg
        zb = np.maximum.reduceat(q_b[oz], zg) if len(zg) else zg
        c = self._candidates(zones, za, zb)
        candidates = len(c)
        dst = self.subject[c].astype(np.int64)
        ok = ~known[dst]
        c, dst = c[ok], dst[ok]
        seen = c
        keep = q_b - q_a >= min_ms
        q_src, q_zone, q_a, q_b = q_src[keep], q_zone[keep], q_a[keep], q_b[keep]
        fa = q_zone * sh + (q_a - base)
        o = np.argsort(fa, kind="stable")
        fa, fb, fsrc = fa[o], q_zone[o] * sh + (q_b[o] - base), q_src[o]
        pm = np.maximum.accumulate(fb) if len(fb) else fb
        argpos = np.maximum.accumulate(np.where(fb == pm, np.arange(len(fb)), 0)) if len(fb) else fb
        cs = np.maximum(self.start[c], w0)
        ce = np.minimum(self.end[c], w1)
        ok = ce - cs >= min_ms
        c, dst, cs, ce = c[ok], dst[ok], cs[ok], ce[ok]
        cz = self.zone[c].astype(np.int64) * sh
        j = np.searchsorted(fa, cz + (ce - min_ms - base), side="right")
        ok = (
            (j >= 1) & (pm[np.maximum(j - 1, 0)] >= cz + (cs + min_ms - base)) if len(fa) else j > 0
        )
        c, dst, cs, ce, cz = c[ok], dst[ok], cs[ok], ce[ok], cz[ok]
        # the first exposure: at c's start when a frontier stay already there lasts N more,
        # else at the start of the first frontier stay after c's start
        j0 = np.searchsorted(fa, cz + (cs - base), side="right")
        prev = np.maximum(j0 - 1, 0)
        before = (j0 >= 1) & (pm[prev] >= cz + (cs + min_ms - base)) if len(fa) else j0 > 0
        nxt = np.minimum(j0, max(len(fa) - 1, 0))
        f = np.where(before, argpos[prev] if len(fa) else prev, nxt)
        first = np.where(before, cs, fa[nxt] - cz + base if len(fa) else cs)
        seg_end = np.minimum(ce, fb[f] - cz + base) if len(fa) else ce
        return (
            dst,
            first,
            fsrc[f] if len(fa) else dst,
            self.zone[c].astype(np.int64),
            seg_end,
            seen,
            candidates,
        )

    def _exposure(self, q_zone, q_a, q_b, subjects, seen, w0, w1):
        """Per subject (sorted or not): the time its stays share with the union of the
        frontier's stays, zone by zone, within the window. ``seen`` holds the positions of
        every stay that overlaps some frontier stay (the candidates; others share
        nothing)."""
        sh, base = _ZONE_SHIFT, self.base
        if len(q_a) == 0 or len(subjects) == 0:
            return np.zeros(len(subjects), np.int64)
        fa = q_zone * sh + (q_a - base)
        o = np.argsort(fa, kind="stable")
        fa, fb = fa[o], (q_zone * sh + (q_b - base))[o]
        run = np.maximum.accumulate(fb)
        new = np.flatnonzero(np.r_[True, fa[1:] > run[:-1]])
        ua, ub = fa[new], run[np.r_[new[1:], len(fa)] - 1]
        csum = np.r_[0, np.cumsum(ub - ua)]

        def covered(x):
            j = np.searchsorted(ua, x, side="right")
            k = np.maximum(j - 1, 0)
            return np.where(j >= 1, csum[k] + np.minimum(x, ub[k]) - ua[k], 0)

        order = np.argsort(subjects)
        sorted_subjects = subjects[order]
        owner = np.searchsorted(sorted_subjects, self.subject[seen])
        owner = np.minimum(owner, len(subjects) - 1)
        mine = sorted_subjects[owner] == self.subject[seen]
        pos, owner = seen[mine], owner[mine]
        z = self.zone[pos].astype(np.int64) * sh
        x = z + (np.maximum(self.start[pos], w0) - base)
        y = z + (np.minimum(self.end[pos], w1) - base)
        shared = np.where(y > x, covered(y) - covered(np.minimum(x, y)), 0)
        total = np.bincount(owner, weights=shared, minlength=len(subjects))
        out = np.zeros(len(subjects), np.int64)
        out[order] = np.rint(total).astype(np.int64)
        return out

    def contacts(
        self,
        src,
        t_from,
        w0: int,
        w1: int,
        min_ms: int,
        *,
        cumulative: bool = False,
        known: np.ndarray | None = None,
        hop: int = 1,
        method: str = "auto",
    ) -> HopResult:
        """The contacts of the frontier ``src`` (each counting from ``t_from``) within the
        window ``[w0, w1)``; subjects ``known`` (a boolean mask) are never contacts.
        ``method``: ``pairs`` lists every pair of stays together, ``sweep`` (single rule
        only) tests each stay against the frontier's running maximum, ``auto`` sweeps when
        listing would examine more than ``SWEEP_ABOVE`` candidates."""
        if min_ms < 1:
            raise ValueError("the minimum contact must be positive")
        src = np.asarray(src, np.int64)
        if known is None:
            known = np.zeros(max(self.n_subjects, 1), bool)
            known[src[src < self.n_subjects]] = True
        w0, w1, min_ms = np.int64(w0), np.int64(w1), int(min_ms)
        q_src, q_zone, q_a, q_b = self._frontier(src, t_from, w0, w1)
        if method == "auto":
            method = "pairs"
            if not cumulative:
                long_enough = q_b - q_a >= min_ms
                lo, hi = self._short_ranges(q_zone[long_enough], q_a[long_enough], q_b[long_enough])
                if int((hi - lo).sum()) > SWEEP_ABOVE:
                    method = "sweep"
        if method == "sweep" and not cumulative:
            dst, first_c, via_c, zone_c, end_c, seen, candidates = self._sweep(
                q_src, q_zone, q_a, q_b, w0, w1, min_ms, known
            )
            order = np.lexsort((first_c, dst))
            g = _group_starts(dst[order])
            subjects = dst[order][g]
            first = first_c[order][g]
            via = via_c[order][g]
            exposure = self._exposure(q_zone, q_a, q_b, subjects, seen, w0, w1)
            rank = np.lexsort((subjects, first, -exposure))
            subjects, first, via, exposure = subjects[rank], first[rank], via[rank], exposure[rank]
            return HopResult(
                hop=hop, subjects=subjects, first=first, exposure=exposure, via=via,
                pair_src=via, pair_dst=subjects, pair_exposure=exposure, pair_first=first,
                seg_src=via_c, seg_dst=dst, seg_zone=zone_c, seg_start=first_c, seg_end=end_c,
                candidates=candidates, method="sweep",
            )  # fmt: skip

        s_src, s_dst, s_zone, s_start, s_end, seen, candidates = self._pairs(
            q_src, q_zone, q_a, q_b, min_ms, cumulative, known
        )
        pair = s_src * np.int64(max(self.n_subjects, 1)) + s_dst
        order = np.lexsort((s_start, pair))
        pair, s_src, s_dst = pair[order], s_src[order], s_dst[order]
        s_zone, s_start, s_end = s_zone[order], s_start[order], s_end[order]
        g = _group_starts(pair)
        if cumulative:
            qualifies, p_first, p_exposure = _cumulative(
                pair, g, s_start, s_end, int(w0), int(w1), min_ms
            )
        else:
            qualifies = np.ones(len(g), bool)
            p_first = s_start[g]
            p_exposure = np.add.reduceat(s_end - s_start, g) if len(g) else np.zeros(0, np.int64)
        seg_keep = (
            np.repeat(qualifies, np.diff(np.r_[g, len(pair)])) if len(g) else np.zeros(0, bool)
        )
        p_src, p_dst = s_src[g][qualifies], s_dst[g][qualifies]
        p_first, p_exposure = p_first[qualifies], p_exposure[qualifies]
        # per contact: the earliest first exposure, and the source with the most time
        order = np.lexsort((-p_exposure, p_dst))
        c_g = _group_starts(p_dst[order])
        subjects = p_dst[order][c_g]
        first = np.minimum.reduceat(p_first[order], c_g) if len(c_g) else subjects
        via = p_src[order][c_g]
        exposure = self._exposure(q_zone, q_a, q_b, subjects, seen, w0, w1)
        rank = np.lexsort((subjects, first, -exposure))
        return HopResult(
            hop=hop, subjects=subjects[rank], first=first[rank], exposure=exposure[rank],
            via=via[rank], pair_src=p_src, pair_dst=p_dst, pair_exposure=p_exposure,
            pair_first=p_first, seg_src=s_src[seg_keep], seg_dst=s_dst[seg_keep],
            seg_zone=s_zone[seg_keep], seg_start=s_start[seg_keep], seg_end=s_end[seg_keep],
            candidates=candidates, method="pairs",
        )  # fmt: skip


def _merge(subject, zone, start, end):
    """Merge the overlapping or touching intervals of each (subject, zone)."""
    if len(start) == 0:
        return subject, zone, start, end
    n_zones = int(zone.max()) + 1
    span = int(start.max()) - int(start.min()) + 1
    if (int(subject.max()) + 1) * n_zones < (2**62) // span:
        order = np.argsort((subject * n_zones + zone) * span + (start - start.min()))
    else:
        order = np.lexsort((start, zone, subject))
    subject, zone, start, end = subject[order], zone[order], start[order], end[order]
    group = np.r_[True, (subject[1:] != subject[:-1]) | (zone[1:] != zone[:-1])]
    # running maximum of the end within each group: each group offset by a span larger
    # than any time in it, so that no group's maximum leaks into the next
    gid = np.cumsum(group) - 1
    finite = end < OPEN
    hi = int(end[finite].max()) + 1 if finite.any() else int(start.max()) + 1
    lo = int(start.min())
    span = hi - lo + 1
    if len(gid) and int(gid[-1]) < (2**62) // span:
        rel = np.where(finite, end, hi) - lo
        run_end = np.maximum.accumulate(gid * span + rel) - gid * span + lo
        run_end = np.where(run_end == hi, OPEN, run_end)
    else:  # a very long time range: the ends' ranks instead of their values
        ends = np.unique(end)
        ranks = gid * np.int64(len(ends)) + np.searchsorted(ends, end)
        run_end = ends[np.maximum.accumulate(ranks) - gid * np.int64(len(ends))]
    new_run = group.copy()
    new_run[1:] |= start[1:] > run_end[:-1]
    starts = np.flatnonzero(new_run)
    last = np.r_[starts[1:], len(start)] - 1
    return subject[starts], zone[starts], start[starts], run_end[last]


def _cumulative(pair, g, s_start, s_end, w0, w1, min_ms):
    """Per (source, contact) pair (segments sorted by pair, start; ``g`` the first segment
    of each pair): whether the union of its times together reaches ``min_ms`` within some
    24 hours, the start of the earliest such window, the union's length and its longest
    run."""
    n_pairs = len(g)
    if n_pairs == 0:
        z = np.zeros(0, np.int64)
        return np.zeros(0, bool), z, z
    gid = np.repeat(np.arange(n_pairs, dtype=np.int64), np.diff(np.r_[g, len(pair)]))
    span = np.int64(w1 - w0 + DAY_MS + 1)
    a = gid * span + (s_start - w0)
    b = gid * span + (s_end - w0)
    run_end = np.maximum.accumulate(b)  # groups cannot leak: each lies in its own span
    new = np.r_[True, a[1:] > run_end[:-1]]
    new[g] = True
    starts = np.flatnonzero(new)
    last = np.r_[starts[1:], len(a)] - 1
    rs, re = a[starts], run_end[last]
    run_gid = gid[starts]
    length = re - rs
    csum = np.r_[0, np.cumsum(length)]
    wend = rs + DAY_MS
    k = np.searchsorted(rs, wend, side="left")  # first run at or after the window's end
    total = csum[k] - csum[np.arange(len(rs))] - np.maximum(0, re[k - 1] - wend)
    ok = total >= min_ms
    qualifies = np.zeros(n_pairs, bool)
    qualifies[run_gid[ok]] = True
    first = np.full(n_pairs, np.iinfo(np.int64).max)
    np.minimum.at(first, run_gid[ok], rs[ok] - run_gid[ok] * span + w0)
    exposure = np.bincount(run_gid, weights=length, minlength=n_pairs).astype(np.int64)
    return qualifies, first, exposure


def trace(
    intervals: Intervals,
    index,
    start: int,
    end: int,
    min_ms: int,
    *,
    cumulative: bool = False,
    hops: int = 1,
    method: str = "auto",
) -> TraceResult:
    """Close contacts (hop 1) of the ``index`` subjects within ``[start, end)``, and their
    contacts hop after hop (time-respecting) up to ``hops``."""
    if end <= start:
        raise ValueError("the end of the window must be after its start")
    index = np.unique(np.asarray(index, np.int64))
    result = TraceResult(index, int(start), int(end), int(min_ms), cumulative)
    known = np.zeros(max(intervals.n_subjects, 1), bool)
    known[index[index < len(known)]] = True
    frontier, t_from = index, np.full(len(index), start, np.int64)
    for hop in range(1, hops + 1):
        if len(frontier) == 0:
            break
        found = intervals.contacts(
            frontier,
            t_from,
            start,
            end,
            min_ms,
            cumulative=cumulative,
            known=known,
            hop=hop,
            method=method,
        )
        result.hops.append(found)
        known[found.subjects] = True
        frontier, t_from = found.subjects, found.first
    return result
