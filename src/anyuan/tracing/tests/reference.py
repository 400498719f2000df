"""A brute-force reference of the contact rules, minute by minute, for small data.

Stays are (subject, zone, start, end) in whole minutes; ``end`` None is an open stay (until
the end of the window), ``start`` None an exit without entry (no time together). The
reference never sorts, merges or indexes anything: a subject's presence in a zone is the
set of minutes some stay covers, a time together is a run of consecutive minutes both
are present in one zone.
"""

DAY = 24 * 60


def presence(stays, w0, w1):
    minutes = {}
    for subject, zone, start, end in stays:
        if start is None:
            continue
        end = w1 if end is None else end
        for m in range(max(start, w0), min(end, w1)):
            minutes.setdefault(subject, {}).setdefault(zone, set()).add(m)
    return minutes


def runs(minutes):
    """(start, length) of each run of consecutive minutes."""
    out, start, prev = [], None, None
    for m in sorted(minutes):
        if start is None or m != prev + 1:
            if start is not None:
                out.append((start, prev + 1 - start))
            start = m
        prev = m
    if start is not None:
        out.append((start, prev + 1 - start))
    return out


def pair(present, src, t, dst, need, cumulative):
    """(first exposure, exposure) of ``dst`` through ``src`` (counting from ``t``), or None."""
    together = {}
    for zone, mine in present.get(src, {}).items():
        theirs = present.get(dst, {}).get(zone, set())
        common = {m for m in mine if m >= t} & theirs
        if common:
            together[zone] = common
    if not together:
        return None
    if not cumulative:
        good = [(s, n) for common in together.values() for s, n in runs(common) if n >= need]
        if not good:
            return None
        return min(s for s, _n in good), sum(n for _s, n in good)
    union = set().union(*together.values())
    firsts = [m for m in sorted(union) if sum(1 for x in union if m <= x < m + DAY) >= need]
    if not firsts:
        return None
    return firsts[0], len(union)


def exposure(present, frontier, dst):
    """Minutes ``dst`` spent in a zone with at least one frontier subject (from its start)."""
    total = 0
    for zone, theirs in present.get(dst, {}).items():
        shared = set()
        for src, t in frontier.items():
            shared |= {m for m in present.get(src, {}).get(zone, set()) if m >= t}
        total += len(theirs & shared)
    return total


def trace(stays, index, w0, w1, need, cumulative, hops):
    """Per hop, {contact: (first exposure, exposure)}."""
    present = presence(stays, w0, w1)
    subjects = {s for s, *_ in stays}
    known = set(index)
    frontier = dict.fromkeys(index, w0)
    result = []
    for _hop in range(hops):
        found = {}
        for dst in sorted(subjects - known):
            hits = [pair(present, src, t, dst, need, cumulative) for src, t in frontier.items()]
            hits = [h for h in hits if h is not None]
            if hits:
                found[dst] = (min(h[0] for h in hits), exposure(present, frontier, dst))
        result.append(found)
        if not found:
            break
        known |= set(found)
        frontier = {s: first for s, (first, _e) in found.items()}
    return result
