"""Write the simulated registry in the import formats of ``docs/import-formats.md``, one
``KIND.csv`` per kind, in the order ``anyuan import all DIR`` loads them."""

import csv
from pathlib import Path

from anyuan.simulator.world import (
    KIND_NAMES,
    QUALIFICATION_TYPES,
    SHIFT_NAMES,
    VEHICLE_KINDS,
    World,
)

COLUMNS: dict[str, list[str]] = {
    "stations": ["code", "name", "address", "hotline"],
    "qualification_types": ["code", "name", "validity_months", "description"],
    "parks": ["station_code", "name", "address"],
    "grids": ["station_code", "name", "position", "description"],
    "officers": ["station_code", "badge_number", "name", "kind", "duty", "phone", "grids"],
    "contact_groups": ["station_code", "name", "leader_badge", "member_badges"],
    "labour_agencies": [
        "station_code", "credit_code", "name", "licence_number", "address", "contact_name",
        "contact_phone",
    ],
    "enterprises": [
        "station_code", "credit_code", "name", "park", "address", "grid", "contact_group",
        "industry", "headcount", "hazardous_chemicals", "risk_level", "security_contact",
        "duty_phone",
    ],
    "zones": [
        "station_code", "park", "code", "name", "ring", "kind", "parent_code",
        "owner_credit_code", "capacity", "is_transit", "required_qualifications",
    ],
    "devices": [
        "station_code", "serial", "name", "kind", "zone", "direction", "protocol", "vendor",
        "heartbeat_seconds", "upstream",
    ],
    "people": [
        "station_code", "id_number", "kind", "name", "phone", "enterprise_credit_code",
        "agency_credit_code", "employee_number", "card_number", "face_id", "shift", "home_zone",
        "hire_date", "leave_date", "note",
    ],
    "qualifications": ["station_code", "id_number", "type_code", "number", "issued_on", "valid_until"],
    "vehicles": [
        "station_code", "plate", "kind", "registered", "owner_id_number",
        "enterprise_credit_code", "colour", "brand", "valid_until",
    ],
    "access_groups": ["station_code", "name", "enterprise_credit_code", "member_id_numbers", "description"],
    "authorisations": [
        "station_code", "zone", "id_number", "group", "weekdays", "time_from", "time_until",
        "valid_from", "valid_until", "note",
    ],
    "watchlist": [
        "station_code", "kind", "name", "id_number", "face_id", "plate", "reason", "level",
        "enterprise_credit_code", "valid_until",
    ],
    "informants": ["station_code", "id_number", "workshop", "team", "since"],
}  # fmt: skip


def _rows(world: World, kind: str):
    w = world
    sc = w.station_code
    ents = w.enterprises
    ids = w.people_str["id_number"]
    if kind == "stations":
        yield [sc, w.station_name, w.station_address, w.station_hotline]
    elif kind == "qualification_types":
        for code, name, months, description in QUALIFICATION_TYPES:
            yield [code, name, months, description]
    elif kind == "parks":
        for p in w.parks:
            yield [sc, p.name, p.address]
    elif kind == "grids":
        for g in w.grids:
            yield [sc, g["name"], g["position"], g["description"]]
    elif kind == "officers":
        for o in w.officers:
            yield [
                sc,
                o["badge_number"],
                o["name"],
                o["kind"],
                o["duty"],
                o["phone"],
                ";".join(o["grids"]),
            ]
    elif kind == "contact_groups":
        for g in w.contact_groups:
            yield [sc, g["name"], g["leader"], ";".join(g["members"])]
    elif kind == "labour_agencies":
        for a in w.agencies:
            yield [sc, a["credit_code"], a["name"], a["licence_number"], a["address"],
                   a["contact_name"], a["contact_phone"]]  # fmt: skip
    elif kind == "enterprises":
        for e in ents:
            p = w.parks[e.park]
            yield [
                sc, e.credit_code, e.name, p.name, f"{p.address}{w.zones[e.buildings[0]].name}",
                w.grids[e.grid]["name"], w.contact_groups[e.contact_group]["name"], e.industry,
                e.headcount, 1 if e.hazchem else 0, e.risk, e.security_contact, e.duty_phone,
            ]  # fmt: skip
    elif kind == "zones":
        for z in w.zones:
            yield [
                sc, w.parks[z.park].name, z.code, z.name, z.ring, z.kind,
                w.zones[z.parent].code if z.parent >= 0 else "",
                ents[z.owner].credit_code if z.owner >= 0 else "",
                z.capacity if z.capacity is not None else "", 1 if z.transit else 0,
                ";".join(z.quals),
            ]  # fmt: skip
    elif kind == "devices":
        for d in w.devices:
            # the simulated devices send their own events: no platform above them
            yield [sc, d.serial, d.name, d.kind, w.zone_ref(d.zone), d.direction, d.protocol,
                   d.vendor, d.heartbeat, ""]  # fmt: skip
    elif kind == "people":
        c, s = w.people, w.people_str
        for i in range(w.n_people):
            ent, ag, room = int(c["ent"][i]), int(c["agency"][i]), int(c["room"][i])
            yield [
                sc, ids[i], KIND_NAMES[c["kind"][i]], s["name"][i], s["phone"][i],
                ents[ent].credit_code if ent >= 0 else "",
                w.agencies[ag]["credit_code"] if ag >= 0 else "",
                s["employee_number"][i], s["card_number"][i], s["face_id"][i],
                SHIFT_NAMES[c["shift"][i]], w.zone_ref(room) if room >= 0 else "",
                s["hire_date"][i], s["leave_date"][i], s["note"][i],
            ]  # fmt: skip
    elif kind == "qualifications":
        for q in w.qualifications:
            yield [sc, q["id_number"], q["type"], q["number"], q["issued_on"], q["valid_until"]]
    elif kind == "vehicles":
        v, vs = w.veh, w.veh_str
        for i in range(w.n_vehicles):
            owner, ent = int(v["owner"][i]), int(v["ent"][i])
            yield [
                sc, vs["plate"][i], VEHICLE_KINDS[v["kind"][i]], 1 if v["registered"][i] else 0,
                ids[owner] if owner >= 0 else "", ents[ent].credit_code if ent >= 0 else "",
                vs["colour"][i], vs["brand"][i], vs["valid_until"][i],
            ]  # fmt: skip
    elif kind == "access_groups":
        for g in w.access_groups:
            yield [sc, g["name"], ents[g["ent"]].credit_code if g["ent"] >= 0 else "",
                   ";".join(g["members"]), g["description"]]  # fmt: skip
    elif kind == "authorisations":
        for a in w.authorisations:
            yield [sc, a["zone"], a["id_number"], a["group"], a["weekdays"], a["time_from"],
                   a["time_until"], a["valid_from"], a["valid_until"], a["note"]]  # fmt: skip
    elif kind == "watchlist":
        for e in w.watchlist:
            yield [
                sc, e["kind"], e["name"], e["id_number"], e["face_id"], e["plate"], e["reason"],
                e["level"], ents[e["ent"]].credit_code if e["ent"] >= 0 else "", e["valid_until"],
            ]  # fmt: skip
    elif kind == "informants":
        for i in w.informants:
            yield [sc, ids[i["person"]], w.zone_ref(i["workshop"]), i["team"], i["since"]]
    else:  # pragma: no cover - COLUMNS and this function list the same kinds
        raise KeyError(kind)


def write_registry(world: World, directory: Path) -> dict[str, int]:
    """Write every kind; return the number of rows per kind."""
    directory.mkdir(parents=True, exist_ok=True)
    counts = {}
    for kind, columns in COLUMNS.items():
        n = 0
        with open(directory / f"{kind}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(columns)
            for row in _rows(world, kind):
                writer.writerow(row)
                n += 1
        counts[kind] = n
    return counts
