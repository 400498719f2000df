"""The import formats, one :class:`Kind` per kind of record (see docs/import-formats.md).

Each kind declares its columns (header name, Chinese header alias, cell parser, whether
required, model field, export path), its key, and the rules of its model that involve
more than one cell. The order of ``KINDS`` is the order of ``anyuan import all``.
"""

import functools
from collections import defaultdict

from django.utils.translation import gettext as _

from anyuan.core import identifiers, personal
from anyuan.registry import models as m
from anyuan.registry.importing import cells
from anyuan.registry.importing.engine import Column, Context, Kind, Row, bulk_write

# Export helpers: a zone as PARK/CODE, and many-to-many lists.


class ZoneOut:
    def __init__(self, prefix: str):
        self.paths = (f"{prefix}__park__name", f"{prefix}__code")

    def __call__(self, park, code):
        return f"{park}/{code}" if park and code else ""


class ManyOut:
    """A ``;``-separated list of ``attr`` of the objects of many-to-many ``field``."""

    def __init__(self, field: str, attr: str):
        self.field, self.attr = field, attr


class Custom:
    """A value computed from several ORM paths."""

    def __init__(self, paths: tuple[str, ...], fn):
        self.paths, self.fn = paths, fn

    def __call__(self, *values):
        return self.fn(*values)


def station_column(export: str = "station__code") -> Column:
    return Column("station_code", "派出所代码", cells.text(32), True, None, export=export)


def id_digest(value: str | None) -> str | None:
    return personal.digest("id_number", value) if value else None


@functools.lru_cache(maxsize=4096)
def _credit_code(value: str) -> str:
    return identifiers.normalize_credit_code(value)


credit_code = cells.identifier(_credit_code)

RING_RANK = {str(k): v for k, v in m.RING_RANK.items()}


# --- shared reference maps ---------------------------------------------------------------


def parks(ctx: Context) -> dict:
    """(station id, park name) → (park id,) over the visible parks."""
    return ctx.refmap(m.Park, ("station_id", "name"))


def park_station(ctx: Context) -> dict:
    return ctx.cached(
        "park_station", lambda: dict(m.Park._base_manager.values_list("pk", "station_id"))
    )


def enterprises(ctx: Context) -> dict:
    """credit code → (id, station id, park id) over the visible enterprises."""
    return ctx.refmap(m.Enterprise, ("credit_code",), "station_id", "park_id")


def enterprise_info(ctx: Context) -> dict:
    """id → (station id, park id) of every enterprise (for rules on stored values)."""
    return ctx.cached(
        "enterprise_info",
        lambda: {
            pk: (st, park)
            for pk, st, park in m.Enterprise._base_manager.values_list(
                "pk", "station_id", "park_id"
            )
        },
    )


def zones(ctx: Context) -> dict:
    """(station id, park name, code) → (zone id,) over the visible zones."""
    return ctx.refmap(m.Zone, ("park__station_id", "park__name", "code"))


def platforms(ctx: Context) -> dict:
    """(station id, serial) → (device id,) over the visible platforms."""
    return ctx.cached(
        "platforms",
        lambda: {
            (station, serial): (pk,)
            for pk, station, serial in ctx.visible(m.Device)
            .filter(kind=m.Device.Kind.PLATFORM)
            .values_list("pk", "zone__park__station_id", "serial")
        },
    )


def zone_info(ctx: Context) -> dict:
    """zone id → (station id, enterprise id) of every zone."""
    return ctx.cached(
        "zone_info",
        lambda: {
            pk: (st, ent)
            for pk, st, ent in m.Zone._base_manager.values_list(
                "pk", "park__station_id", "enterprise_id"
            )
        },
    )


def people(ctx: Context) -> dict:
    """(station id, ID-number digest) → (person id, enterprise id) over the visible people."""
    return ctx.refmap(m.Person, ("station_id", "id_number_digest"), "enterprise_id")


def person_info(ctx: Context) -> dict:
    return ctx.cached(
        "person_info",
        lambda: {
            pk: (st, ent)
            for pk, st, ent in m.Person._base_manager.values_list(
                "pk", "station_id", "enterprise_id"
            ).iterator(chunk_size=5000)
        },
    )


def ref_enterprise(ctx: Context, row: Row, column: str, target: str = "enterprise_id") -> None:
    if column not in ctx.present or column in row.bad:
        return
    code = row.get(column)
    if code is None:
        row.values[target] = None
        return
    found = ctx.ref(row, column, enterprises(ctx), code)
    if found:
        row.values[target] = found[0]


def ref_zone(ctx: Context, row: Row, column: str, target: str, station_id) -> None:
    if column not in ctx.present or column in row.bad:
        return
    value = row.get(column)
    if value is None:
        row.values[target] = None
        return
    if station_id is None:
        return
    found = ctx.ref(row, column, zones(ctx), (station_id, *value))
    if found:
        row.values[target] = found[0]


def ref_person(ctx: Context, row: Row, column: str, target: str, station_id) -> None:
    if column not in ctx.present or column in row.bad:
        return
    value = row.get(column)
    if value is None:
        row.values[target] = None
        return
    if station_id is None:
        return
    found = ctx.ref(
        row,
        column,
        people(ctx),
        (station_id, id_digest(value)),
        unknown=_("No such person registered at this station, or outside your scope."),
    )
    if found:
        row.values[target] = found[0]


def ref_list(ctx: Context, row: Row, column: str, field: str, mapping: dict, keys, shown) -> None:
    """A many-to-many column: every item must be found; ``shown`` masks items in messages."""
    if column not in ctx.present or column in row.bad:
        return
    ids, missing = [], []
    for item, key in keys:
        found = mapping.get(key)
        if found is None:
            missing.append(shown(item))
        elif found[0] not in ids:
            ids.append(found[0])
    if missing:
        ctx.error(row, column, _("Unknown, or outside your scope: %s") % "; ".join(missing))
        return
    row.m2m[field] = ids


def check_same_station(kind, ctx, row, final, attname, info: dict, message=None):
    ref = final.get(attname)
    if ref is not None and info.get(ref, (None,))[0] != final.get("station_id"):
        kind.fail(ctx, row, attname, message or _("Must belong to the same police station."))


class StationScoped(Kind):
    """Rows with a ``station_code`` column and a ``station`` foreign key."""

    scope_column = "station_code"

    def resolve(self, row, ctx):
        sid = ctx.station(row)
        if sid is not None:
            row.values["station_id"] = sid

    def existing(self, ctx, rows):
        ids = {r.values.get("station_id") for r in rows} - {None}
        return self.model._base_manager.filter(station_id__in=ids)


class EnterpriseInStation(StationScoped):
    """Station rows that may name an enterprise: it must be one of the station's."""

    def check(self, row, final, ctx):
        check_same_station(
            self,
            ctx,
            row,
            final,
            "enterprise_id",
            enterprise_info(ctx),
            _("The enterprise is not in this station's jurisdiction."),
        )


# --- police side ---------------------------------------------------------------------------


class Stations(Kind):
    name = "stations"
    model = m.Station
    columns = [
        Column("code", "代码", required=True),
        Column("name", "名称", required=True),
        Column("address", "地址"),
        Column("hotline", "值班电话"),
    ]
    key = ("code",)
    key_column = "code"

    def owner(self, final, ctx):
        return final.get("pk"), None


class QualificationTypes(Kind):
    name = "qualification_types"
    model = m.QualificationType
    columns = [
        Column("code", "代码", required=True),
        Column("name", "名称", required=True),
        Column("validity_months", "有效期（月）", cells.integer(0, 1200)),
        Column("description", "说明"),
    ]
    key = ("code",)
    key_column = "code"

    def resolve(self, row, ctx):
        code = row.values.get("code")
        if code and not all(c.isascii() and (c.isalnum() or c in "-_") for c in code):
            ctx.error(row, "code", _("Use letters, digits, hyphens and underscores only."))

    def owner(self, final, ctx):
        return None, None


class Parks(StationScoped):
    name = "parks"
    model = m.Park
    columns = [station_column(), Column("name", "名称", required=True), Column("address", "地址")]
    key = ("station_id", "name")
    key_column = "name"
    blame = {"station_id": "station_code"}


class Grids(StationScoped):
    name = "grids"
    model = m.PoliceGrid
    columns = [
        station_column(),
        Column("name", "名称", required=True),
        Column("position", "顺序", cells.integer()),
        Column("description", "说明"),
    ]
    key = ("station_id", "name")
    key_column = "name"
    blame = {"station_id": "station_code"}


class Officers(StationScoped):
    name = "officers"
    model = m.Officer
    columns = [
        station_column(),
        Column("badge_number", "警号", required=True),
        Column("name", "姓名", required=True),
        Column("kind", "类别", cells.choice(m.Officer.Kind)),
        Column("duty", "职务", cells.choice(m.Officer.Duty)),
        Column("phone", "电话", cells.phone, personal="phone"),
        Column("grids", "警格", cells.listing(), field=None, export=ManyOut("grids", "name")),
    ]
    key = ("station_id", "badge_number")
    key_column = "badge_number"
    blame = {"station_id": "station_code"}

    def resolve(self, row, ctx):
        super().resolve(row, ctx)
        sid = row.values.get("station_id")
        if sid is not None:
            grids = ctx.refmap(m.PoliceGrid, ("station_id", "name"))
            names = row.get("grids", [])
            ref_list(ctx, row, "grids", "grids", grids, [(n, (sid, n)) for n in names], str)


class ContactGroups(StationScoped):
    name = "contact_groups"
    model = m.ContactGroup
    columns = [
        station_column(),
        Column("name", "名称", required=True),
        Column(
            "leader_badge", "组长警号", cells.text(20), field=None, export="leader__badge_number"
        ),
        Column(
            "member_badges",
            "组员警号",
            cells.listing(),
            field=None,
            export=ManyOut("members", "badge_number"),
        ),
    ]
    key = ("station_id", "name")
    key_column = "name"
    blame = {"station_id": "station_code", "leader_id": "leader_badge"}

    def resolve(self, row, ctx):
        super().resolve(row, ctx)
        sid = row.values.get("station_id")
        if sid is None:
            return
        officers = ctx.refmap(m.Officer, ("station_id", "badge_number"))
        if "leader_badge" in ctx.present and "leader_badge" not in row.bad:
            badge = row.get("leader_badge")
            row.values["leader_id"] = None
            if badge is not None:
                found = ctx.ref(row, "leader_badge", officers, (sid, badge))
                if found:
                    row.values["leader_id"] = found[0]
        badges = row.get("member_badges", [])
        ref_list(
            ctx, row, "member_badges", "members", officers, [(b, (sid, b)) for b in badges], str
        )


# --- enterprises and agencies -----------------------------------------------------------------


class LabourAgencies(StationScoped):
    name = "labour_agencies"
    model = m.LabourAgency
    columns = [
        station_column(),
        Column("credit_code", "统一社会信用代码", credit_code, required=True),
        Column("name", "名称", required=True),
        Column("licence_number", "许可证号"),
        Column("address", "地址"),
        Column("contact_name", "联系人"),
        Column("contact_phone", "联系电话", cells.phone),
    ]
    key = ("credit_code",)
    key_column = "credit_code"
    blame = {"station_id": "station_code"}

    def existing(self, ctx, rows):
        return self.model._base_manager.all()

    def owner(self, final, ctx):
        return final.get("station_id"), None


class Enterprises(StationScoped):
    name = "enterprises"
    model = m.Enterprise
    columns = [
        station_column(),
        Column("credit_code", "统一社会信用代码", credit_code, required=True),
        Column("name", "名称", required=True),
        Column("park", "园区", cells.text(100), field=None, export="park__name"),
        Column("address", "地址"),
        Column("grid", "警格", cells.text(100), field=None, export="grid__name"),
        Column(
            "contact_group", "包保小组", cells.text(100), field=None, export="contact_group__name"
        ),
        Column("industry", "行业"),
        Column("headcount", "人数", cells.integer()),
        Column("hazardous_chemicals", "危化品", cells.boolean),
        Column("risk_level", "风险等级", cells.choice(m.RiskLevel)),
        Column("security_contact", "安全联系人"),
        Column("duty_phone", "值班电话", cells.phone),
    ]
    key = ("credit_code",)
    key_column = "credit_code"
    blame = {
        "station_id": "station_code",
        "park_id": "park",
        "grid_id": "grid",
        "contact_group_id": "contact_group",
    }
    state = ("station_id", "park_id", "grid_id", "contact_group_id")

    def resolve(self, row, ctx):
        super().resolve(row, ctx)
        sid = row.values.get("station_id")
        if sid is None:
            return
        for column, model in (
            ("park", m.Park),
            ("grid", m.PoliceGrid),
            ("contact_group", m.ContactGroup),
        ):
            if column not in ctx.present or column in row.bad:
                continue
            name = row.get(column)
            row.values[f"{column}_id"] = None
            if name is not None:
                found = ctx.ref(row, column, ctx.refmap(model, ("station_id", "name")), (sid, name))
                if found:
                    row.values[f"{column}_id"] = found[0]

    def existing(self, ctx, rows):
        return self.model._base_manager.all()

    def check(self, row, final, ctx):
        for attname, model in (
            ("park_id", m.Park),
            ("grid_id", m.PoliceGrid),
            ("contact_group_id", m.ContactGroup),
        ):
            info = ctx.cached(
                f"station_of:{model._meta.label_lower}",
                lambda model=model: {
                    pk: (st,) for pk, st in model._base_manager.values_list("pk", "station_id")
                },
            )
            check_same_station(
                self, ctx, row, final, attname, info, _("Must belong to the enterprise's station.")
            )

    def owner(self, final, ctx):
        return final.get("station_id"), final.get("pk")


# --- zones and devices ---------------------------------------------------------------------


class Zones(Kind):
    name = "zones"
    model = m.Zone
    scope_column = "owner_credit_code"
    columns = [
        station_column("park__station__code"),
        Column("park", "园区", cells.text(100), True, None, export="park__name"),
        Column("code", "编码", required=True),
        Column("name", "名称", required=True),
        Column("ring", "圈层", cells.choice(m.Ring), required=True),
        Column("kind", "类型", cells.choice(m.Zone.Kind)),
        Column("parent_code", "上级编码", cells.text(40), field=None, export="parent__code"),
        Column(
            "owner_credit_code",
            "所属企业信用代码",
            credit_code,
            field=None,
            export="enterprise__credit_code",
        ),
        Column("capacity", "容量", cells.integer()),
        Column("is_transit", "通行区域", cells.boolean),
        Column(
            "required_qualifications",
            "所需资质",
            cells.listing(),
            field=None,
            export=ManyOut("required_qualifications", "code"),
        ),
    ]
    key = ("park_id", "code")
    key_column = "code"
    blame = {"park_id": "park", "enterprise_id": "owner_credit_code", "parent_id": "parent_code"}
    state = ("park_id", "parent_id", "ring", "enterprise_id", "code")

    def resolve(self, row, ctx):
        sid = ctx.station(row)
        if sid is not None and "park" not in row.bad and row.get("park") is not None:
            found = ctx.ref(row, "park", parks(ctx), (sid, row.get("park")))
            if found:
                row.values["park_id"] = found[0]
        ref_enterprise(ctx, row, "owner_credit_code")
        if "parent_code" in ctx.present and "parent_code" not in row.bad:
            row.extra["parent_code"] = row.get("parent_code")
        if "required_qualifications" in ctx.present:
            types = ctx.refmap(m.QualificationType, ("code",))
            codes = row.get("required_qualifications", [])
            ref_list(
                ctx,
                row,
                "required_qualifications",
                "required_qualifications",
                types,
                [(c, c) for c in codes],
                str,
            )

    def existing(self, ctx, rows):
        ids = {r.values.get("park_id") for r in rows} - {None}
        return self.model._base_manager.filter(park_id__in=ids)

    def check(self, row, final, ctx):
        ent = final.get("enterprise_id")
        if ent is not None:
            station_of_park = park_station(ctx).get(final.get("park_id"))
            est, epark = enterprise_info(ctx).get(ent, (None, None))
            if est != station_of_park:
                self.fail(
                    ctx, row, "enterprise_id", _("The owner enterprise is in another station.")
                )
            elif epark not in (None, final.get("park_id")):
                self.fail(ctx, row, "enterprise_id", _("The owner enterprise is in another park."))

    def owner(self, final, ctx):
        return park_station(ctx).get(final.get("park_id")), final.get("enterprise_id")

    def after_check(self, rows, ctx):
        """The tree: parents exist (in the file or stored), no cycles, rings and owners
        consistent along every edge that touches a row of the file."""
        park_ids = {r.final["park_id"] for r in rows if r.final and r.final.get("park_id")}
        stored = {
            v["pk"]: v
            for v in m.Zone._base_manager.filter(park_id__in=park_ids).values(
                "pk", "park_id", "code", "parent_id", "ring", "enterprise_id"
            )
        }
        by_code = {(v["park_id"], v["code"]): pk for pk, v in stored.items() if v["code"]}
        in_file = {r.key: r for r in rows if r.key is not None and r.final is not None}
        file_pks = {r.pk: r for r in in_file.values() if r.pk is not None}
        visible = ctx.cached(
            "visible_zones", lambda: set(ctx.visible(m.Zone).values_list("pk", flat=True))
        )

        def node_of_pk(pk):
            if pk is None:
                return None
            if pk in file_pks:
                return ("row", file_pks[pk].key)
            return ("pk", pk)

        parent_of = {}
        for key, row in in_file.items():
            if "parent_code" in row.extra:
                code = row.extra["parent_code"]
                if code is None:
                    parent = None
                elif (key[0], code) in in_file:
                    parent = ("row", (key[0], code))
                elif (key[0], code) in by_code and by_code[(key[0], code)] in visible:
                    parent = node_of_pk(by_code[(key[0], code)])
                else:
                    ctx.error(
                        row, "parent_code", _("No such zone in this park, or outside your scope.")
                    )
                    continue
            else:
                parent = node_of_pk(row.final.get("parent_id"))
            parent_of[("row", key)] = parent
            row.extra["parent"] = parent

        def attrs(node):
            if node[0] == "row":
                f = in_file[node[1]].final
                return f.get("ring"), f.get("enterprise_id"), in_file[node[1]]
            v = stored[node[1]]
            return v["ring"], v["enterprise_id"], None

        def parent(node):
            if node in parent_of:
                return parent_of[node]
            return node_of_pk(stored[node[1]]["parent_id"]) if node[0] == "pk" else None

        for node, row in ((("row", k), r) for k, r in in_file.items()):
            if node not in parent_of:
                continue
            seen, cur = {node}, parent(node)
            while cur is not None:
                if cur in seen:
                    if cur == node:
                        ctx.error(row, "parent_code", _("A zone cannot be inside itself."))
                    break
                seen.add(cur)
                cur = parent(cur)

        def check_edge(child, par, blame_row, on_child):
            c_ring, c_ent, _row = attrs(child)
            p_ring, p_ent, _prow = attrs(par)
            if c_ring and p_ring and RING_RANK[c_ring] < RING_RANK[p_ring]:
                msg = (
                    _("A zone cannot be in an outer ring than its parent zone.")
                    if on_child
                    else _("A sub-zone would be in an outer ring than this zone.")
                )
                ctx.error(blame_row, "ring", msg)
            elif p_ent and c_ent != p_ent:
                msg = (
                    _("A zone inside an enterprise's zone belongs to that enterprise.")
                    if on_child
                    else _("A sub-zone belongs to another enterprise than this zone.")
                )
                ctx.error(blame_row, "owner_credit_code", msg)

        for node, par in parent_of.items():
            if par is not None and not in_file[node[1]].bad:
                check_edge(node, par, in_file[node[1]], True)
        # stored children of zones in the file, whose own rows are not in the file
        for pk, v in stored.items():
            if pk in file_pks or v["parent_id"] is None:
                continue
            par = node_of_pk(v["parent_id"])
            if par[0] == "row":
                check_edge(("pk", pk), par, in_file[par[1]], False)

        # parent ids known now go into the values; a parent created by this file is linked
        # at write time (see write)
        for row in in_file.values():
            par = row.extra.get("parent")
            if "parent_code" not in row.extra:
                continue
            if par is None:
                row.values["parent_id"] = None
            elif par[0] == "pk":
                row.values["parent_id"] = par[1]
            elif in_file[par[1]].pk is not None:
                row.values["parent_id"] = in_file[par[1]].pk
            else:
                row.values["parent_id"] = None
                row.extra["parent_row"] = in_file[par[1]]
                row.extra["changed"] = True

    def write(self, ctx, creates, updates, bar):
        # create level by level so that each new zone's parent has its id already
        pending = list(creates)
        while pending:
            ready = [
                r for r in pending if r.extra.get("parent_row") is None or r.extra["parent_row"].pk
            ]
            if not ready:  # cannot happen: cycles are refused in phase 1
                raise RuntimeError("zone tree has a cycle")
            for r in ready:
                if r.extra.get("parent_row") is not None:
                    r.values["parent_id"] = r.extra["parent_row"].pk
            bulk_write(self.model, ready, [], bar)
            done = {id(r) for r in ready}
            pending = [r for r in pending if id(r) not in done]
        for r in updates:
            if r.extra.get("parent_row") is not None:
                r.values["parent_id"] = r.extra["parent_row"].pk
        bulk_write(self.model, [], updates, bar)
        park_ids = {r.values["park_id"] for r in creates + updates}
        rebuild_paths(park_ids)


def rebuild_paths(park_ids) -> int:
    """Recompute ``path`` and ``depth`` of every zone in these parks as ``Zone.save`` does."""
    zones_ = list(
        m.Zone._base_manager.filter(park_id__in=park_ids).values_list(
            "pk", "parent_id", "path", "depth"
        )
    )
    children = defaultdict(list)
    for pk, parent_id, _path, _depth in zones_:
        children[parent_id].append(pk)
    current = {pk: (path, depth) for pk, _p, path, depth in zones_}
    ids = set(current)
    new_paths = {}
    stack = [
        (pk, "/") for pk, parent_id, _a, _b in zones_ if parent_id is None or parent_id not in ids
    ]
    while stack:
        pk, prefix = stack.pop()
        path = f"{prefix}{pk}/"
        new_paths[pk] = path
        stack.extend((c, path) for c in children[pk])
    changed = []
    for pk, path in new_paths.items():
        depth = path.count("/") - 2
        if current[pk] != (path, depth):
            changed.append(m.Zone(pk=pk, path=path, depth=depth))
    m.Zone._base_manager.bulk_update(changed, ["path", "depth"], batch_size=500)
    return len(changed)


class Devices(Kind):
    name = "devices"
    model = m.Device
    scope_column = "zone"
    columns = [
        station_column("zone__park__station__code"),
        Column("serial", "序列号", required=True),
        Column("name", "名称", required=True),
        Column("kind", "类型", cells.choice(m.Device.Kind), required=True),
        Column("zone", "区域", cells.zone_ref, True, None, export=ZoneOut("zone")),
        Column("direction", "方向", cells.choice(m.Device.Direction)),
        Column("protocol", "协议", cells.choice(m.Device.Protocol)),
        Column("vendor", "厂商"),
        Column("heartbeat_seconds", "心跳间隔（秒）", cells.integer(1, 86400)),
        Column("upstream", "上级平台", cells.text(64), field=None, export="upstream__serial"),
    ]
    key = ("serial",)
    key_column = "serial"
    blame = {"zone_id": "zone", "upstream_id": "upstream"}
    state = ("zone_id",)

    def resolve(self, row, ctx):
        sid = ctx.station(row)
        ref_zone(ctx, row, "zone", "zone_id", sid)
        if "upstream" not in ctx.present or "upstream" in row.bad:
            return
        serial = row.get("upstream")
        if serial is None:
            row.values["upstream_id"] = None
        elif row.get("kind") == m.Device.Kind.PLATFORM:
            ctx.error(row, "upstream", _("A platform does not report through another."))
        elif sid is not None:
            found = ctx.ref(
                row,
                "upstream",
                platforms(ctx),
                (sid, serial),
                unknown=_(
                    "No such platform in this station, or outside your scope "
                    "(a platform must be registered before the devices under it)."
                ),
            )
            if found:
                row.values["upstream_id"] = found[0]

    def owner(self, final, ctx):
        return zone_info(ctx).get(final.get("zone_id"), (None, None))


# --- people and vehicles ---------------------------------------------------------------------


class People(StationScoped):
    name = "people"
    model = m.Person
    scope_column = "enterprise_credit_code"
    columns = [
        station_column(),
        Column("id_number", "身份证号", cells.id_number, personal="id_number"),
        Column("kind", "类别", cells.choice(m.Person.Kind), required=True),
        Column("name", "姓名", required=True),
        Column("phone", "手机号", cells.phone, personal="phone"),
        Column(
            "enterprise_credit_code",
            "企业信用代码",
            credit_code,
            field=None,
            export="enterprise__credit_code",
        ),
        Column(
            "agency_credit_code",
            "劳务公司信用代码",
            credit_code,
            field=None,
            export="labour_agency__credit_code",
        ),
        Column("employee_number", "工号"),
        Column("card_number", "卡号"),
        Column("face_id", "人脸编号"),
        Column("shift", "班次", cells.choice(m.Person.Shift)),
        Column("home_zone", "宿舍", cells.zone_ref, field=None, export=ZoneOut("home_zone")),
        Column("hire_date", "入职日期", cells.date),
        Column("leave_date", "离职日期", cells.date),
        Column("note", "备注"),
    ]
    key_column = "id_number"
    header_columns = ("id_number",)
    blame = {
        "station_id": "station_code",
        "enterprise_id": "enterprise_credit_code",
        "labour_agency_id": "agency_credit_code",
        "home_zone_id": "home_zone",
        "id_number_digest": "id_number",
        "face_id": "face_id",
    }
    state = (
        "station_id",
        "kind",
        "enterprise_id",
        "labour_agency_id",
        "hire_date",
        "leave_date",
        "id_number_digest",
        "face_id",
    )
    uniques = [
        (("enterprise_id", "employee_number"), "employee_number"),
        (("station_id", "card_number"), "card_number"),
        (("station_id", "face_id"), "face_id"),
    ]

    def resolve(self, row, ctx):
        super().resolve(row, ctx)
        sid = row.values.get("station_id")
        if "id_number" in row.values:
            number = row.values["id_number"]
            row.values["birth_date"] = identifiers.id_number_birth_date(number) if number else None
        ref_enterprise(ctx, row, "enterprise_credit_code")
        if "agency_credit_code" in ctx.present and "agency_credit_code" not in row.bad:
            code = row.get("agency_credit_code")
            row.values["labour_agency_id"] = None
            if code is not None:
                found = ctx.ref(
                    row, "agency_credit_code", ctx.refmap(m.LabourAgency, ("credit_code",)), code
                )
                if found:
                    row.values["labour_agency_id"] = found[0]
        ref_zone(ctx, row, "home_zone", "home_zone_id", sid)

    def key_of(self, values):
        sid = values.get("station_id")
        if sid is None:
            return None
        if values.get("id_number_digest"):
            return ("id", sid, values["id_number_digest"])
        if values.get("face_id"):
            return ("face", sid, values["face_id"])
        return None

    def check(self, row, final, ctx):
        kind = final.get("kind")
        P = m.Person.Kind
        if kind in (P.EMPLOYEE, P.TEMPORARY) and not final.get("enterprise_id"):
            self.fail(
                ctx,
                row,
                "enterprise_id",
                _("Employees and temporary workers belong to an enterprise."),
            )
        if kind == P.TEMPORARY and not final.get("labour_agency_id"):
            self.fail(
                ctx, row, "labour_agency_id", _("A temporary worker comes through a labour agency.")
            )
        ent = final.get("enterprise_id")
        if ent and enterprise_info(ctx).get(ent, (None,))[0] != final.get("station_id"):
            self.fail(
                ctx,
                row,
                "enterprise_id",
                _("The enterprise is not in this station's jurisdiction."),
            )
        hire, leave = final.get("hire_date"), final.get("leave_date")
        if hire and leave and leave < hire:
            self.fail(ctx, row, "leave_date", _("The leave date is before the hire date."))
        if not final.get("id_number_digest"):
            if kind != P.VISITOR:
                self.fail(
                    ctx, row, "id_number_digest", _("An ID number is required (visitors excepted).")
                )
            elif not final.get("face_id"):
                self.fail(
                    ctx,
                    row,
                    "id_number_digest",
                    _("A visitor without an ID number needs a face match id."),
                )


class Qualifications(Kind):
    name = "qualifications"
    model = m.Qualification
    scope_column = "id_number"
    columns = [
        station_column("person__station__code"),
        Column(
            "id_number",
            "身份证号",
            cells.id_number,
            True,
            None,
            personal="id_number",
            export="person__id_number",
        ),
        Column("type_code", "资质代码", cells.text(40), True, None, export="type__code"),
        Column("number", "证书编号"),
        Column("issued_on", "发证日期", cells.date),
        Column("valid_until", "有效期至", cells.date),
    ]
    key = ("person_id", "type_id")
    key_column = "type_code"
    blame = {"person_id": "id_number", "type_id": "type_code"}
    state = ("person_id", "issued_on", "valid_until")

    def resolve(self, row, ctx):
        sid = ctx.station(row)
        ref_person(ctx, row, "id_number", "person_id", sid)
        code = row.get("type_code")
        if code is not None:
            found = ctx.ref(row, "type_code", ctx.refmap(m.QualificationType, ("code",)), code)
            if found:
                row.values["type_id"] = found[0]

    def check(self, row, final, ctx):
        issued, until = final.get("issued_on"), final.get("valid_until")
        if issued and until and until < issued:
            self.fail(ctx, row, "valid_until", _("Valid until is before the issue date."))

    def owner(self, final, ctx):
        return person_info(ctx).get(final.get("person_id"), (None, None))


class Vehicles(EnterpriseInStation):
    name = "vehicles"
    model = m.Vehicle
    scope_column = "enterprise_credit_code"
    columns = [
        station_column(),
        Column("plate", "车牌号", cells.text(16), required=True),
        Column("kind", "类型", cells.choice(m.Vehicle.Kind), required=True),
        Column("registered", "已登记", cells.boolean),
        Column(
            "owner_id_number",
            "车主身份证号",
            cells.id_number,
            field=None,
            personal="id_number",
            export="owner__id_number",
        ),
        Column(
            "enterprise_credit_code",
            "企业信用代码",
            credit_code,
            field=None,
            export="enterprise__credit_code",
        ),
        Column("colour", "颜色"),
        Column("brand", "品牌"),
        Column("valid_until", "有效期至", cells.datetime),
    ]
    key = ("station_id", "plate")
    key_column = "plate"
    blame = {
        "station_id": "station_code",
        "owner_id": "owner_id_number",
        "enterprise_id": "enterprise_credit_code",
    }
    state = ("station_id", "enterprise_id", "owner_id")

    def resolve(self, row, ctx):
        super().resolve(row, ctx)
        plate, kind = row.values.get("plate"), row.values.get("kind")
        if plate and "kind" not in row.bad:
            if kind == m.Vehicle.Kind.EBIKE:
                plate = plate.upper().replace(" ", "")
                if not 4 <= len(plate) <= 12:
                    ctx.error(row, "plate", _("An e-bike plate has 4 to 12 characters."))
            else:
                try:
                    plate = identifiers.normalize_plate(plate)
                except identifiers.IdentifierError as e:
                    ctx.error(row, "plate", str(e))
            row.values["plate"] = plate
        ref_person(ctx, row, "owner_id_number", "owner_id", row.values.get("station_id"))
        ref_enterprise(ctx, row, "enterprise_credit_code")


# --- access ------------------------------------------------------------------------------------


class AccessGroups(EnterpriseInStation):
    name = "access_groups"
    model = m.AccessGroup
    scope_column = "enterprise_credit_code"
    columns = [
        station_column(),
        Column("name", "名称", required=True),
        Column(
            "enterprise_credit_code",
            "企业信用代码",
            credit_code,
            field=None,
            export="enterprise__credit_code",
        ),
        Column(
            "member_id_numbers",
            "成员身份证号",
            cells.listing(cells.id_number),
            field=None,
            personal="id_number",
            is_list=True,
            export=ManyOut("members", "id_number"),
        ),
        Column("description", "说明"),
    ]
    key = ("station_id", "name")
    key_column = "name"
    blame = {"station_id": "station_code", "enterprise_id": "enterprise_credit_code"}
    state = ("station_id", "enterprise_id")

    def resolve(self, row, ctx):
        super().resolve(row, ctx)
        ref_enterprise(ctx, row, "enterprise_credit_code")
        sid = row.values.get("station_id")
        if sid is not None:
            numbers = row.get("member_id_numbers", [])
            ref_list(
                ctx,
                row,
                "member_id_numbers",
                "members",
                people(ctx),
                [(n, (sid, id_digest(n))) for n in numbers],
                lambda n: personal.mask("id_number", n),
            )


class Authorisations(Kind):
    name = "authorisations"
    model = m.Authorisation
    scope_column = "zone"
    columns = [
        station_column("zone__park__station__code"),
        Column("zone", "区域", cells.zone_ref, True, None, export=ZoneOut("zone")),
        Column(
            "id_number",
            "身份证号",
            cells.id_number,
            field=None,
            personal="id_number",
            export="person__id_number",
        ),
        Column("group", "门禁组", cells.text(100), field=None, export="group__name"),
        Column("weekdays", "星期", cells.weekdays),
        Column("time_from", "开始时间", cells.time),
        Column("time_until", "结束时间", cells.time),
        Column("valid_from", "生效日期", cells.date),
        Column("valid_until", "有效期至", cells.date),
        Column("note", "备注"),
    ]
    key = ("zone_id", "person_id", "group_id")
    key_column = "zone"
    blame = {"zone_id": "zone", "person_id": "id_number", "group_id": "group"}
    state = (
        "zone_id",
        "person_id",
        "group_id",
        "time_from",
        "time_until",
        "valid_from",
        "valid_until",
    )

    def resolve(self, row, ctx):
        sid = ctx.station(row)
        ref_zone(ctx, row, "zone", "zone_id", sid)
        ref_person(ctx, row, "id_number", "person_id", sid)
        row.values.setdefault("person_id", None)
        row.values.setdefault("group_id", None)
        if "group" in ctx.present and "group" not in row.bad and row.get("group") and sid:
            groups = ctx.refmap(m.AccessGroup, ("station_id", "name"))
            found = ctx.ref(row, "group", groups, (sid, row.get("group")))
            if found:
                row.values["group_id"] = found[0]
        if bool(row.values["person_id"]) == bool(row.values["group_id"]) and not (
            {"id_number", "group"} & row.bad
        ):
            ctx.error(row, "id_number", _("Name either a person (ID number) or an access group."))

    def key_of(self, values):
        if not values.get("zone_id") or bool(values.get("person_id")) == bool(
            values.get("group_id")
        ):
            return None
        return (values["zone_id"], values.get("person_id"), values.get("group_id"))

    def check(self, row, final, ctx):
        if (final.get("time_from") is None) != (final.get("time_until") is None):
            self.fail(ctx, row, "time_until", _("Give both times of the window, or neither."))
        vf, vu = final.get("valid_from"), final.get("valid_until")
        if vf and vu and vu < vf:
            self.fail(ctx, row, "valid_until", _("Valid until is before valid from."))

    def owner(self, final, ctx):
        return zone_info(ctx).get(final.get("zone_id"), (None, None))


class Watchlist(EnterpriseInStation):
    name = "watchlist"
    model = m.WatchlistEntry
    scope_column = "enterprise_credit_code"
    columns = [
        station_column(),
        Column("kind", "类型", cells.choice(m.WatchlistEntry.Kind), required=True),
        Column("name", "姓名"),
        Column("id_number", "身份证号", cells.id_number, personal="id_number"),
        Column("face_id", "人脸编号"),
        Column("plate", "车牌号", cells.text(16)),
        Column("reason", "原因", required=True),
        Column("level", "级别", cells.choice(m.WatchlistEntry.Level)),
        Column(
            "enterprise_credit_code",
            "企业信用代码",
            credit_code,
            field=None,
            export="enterprise__credit_code",
        ),
        Column("valid_until", "有效期至", cells.date),
    ]
    key_column = "kind"
    blame = {
        "station_id": "station_code",
        "enterprise_id": "enterprise_credit_code",
        "id_number_digest": "id_number",
    }
    state = ("station_id", "enterprise_id", "kind", "plate", "id_number_digest", "face_id")

    def resolve(self, row, ctx):
        super().resolve(row, ctx)
        ref_enterprise(ctx, row, "enterprise_credit_code")
        kind = row.values.get("kind")
        if kind == m.WatchlistEntry.Kind.PLATE and "plate" not in row.bad:
            try:
                row.values["plate"] = identifiers.normalize_plate(row.values.get("plate") or "")
            except identifiers.IdentifierError as e:
                ctx.error(row, "plate", str(e))
        elif kind == m.WatchlistEntry.Kind.PERSON and not (
            row.values.get("id_number")
            or row.values.get("face_id")
            or {"id_number", "face_id"} & row.bad
        ):
            ctx.error(row, "id_number", _("Name the person: an ID number or a face match id."))
        sid = row.values.get("station_id")
        if "id_number" in row.values and sid is not None:
            number = row.values["id_number"]
            found = people(ctx).get((sid, id_digest(number))) if number else None
            row.values["person_id"] = found[0] if found else None

    def key_of(self, values):
        sid, kind = values.get("station_id"), values.get("kind")
        if sid is None or not kind:
            return None
        if kind == m.WatchlistEntry.Kind.PLATE:
            ident = ("plate", values.get("plate"))
        elif values.get("id_number_digest"):
            ident = ("id", values["id_number_digest"])
        elif values.get("face_id"):
            ident = ("face", values["face_id"])
        else:
            return None
        if not ident[1]:
            return None
        return (sid, values.get("enterprise_id"), kind, ident)


class Informants(Kind):
    name = "informants"
    model = m.Informant
    scope_column = "id_number"
    columns = [
        station_column("person__station__code"),
        Column(
            "id_number",
            "身份证号",
            cells.id_number,
            True,
            None,
            personal="id_number",
            export="person__id_number",
        ),
        Column("workshop", "车间", cells.zone_ref, field=None, export=ZoneOut("workshop")),
        Column("team", "班组"),
        Column("since", "起始日期", cells.date),
    ]
    key = ("person_id",)
    key_column = "id_number"
    blame = {"person_id": "id_number", "workshop_id": "workshop"}
    state = ("person_id",)

    def resolve(self, row, ctx):
        sid = ctx.station(row)
        ref_person(ctx, row, "id_number", "person_id", sid)
        ref_zone(ctx, row, "workshop", "workshop_id", sid)

    def owner(self, final, ctx):
        return person_info(ctx).get(final.get("person_id"), (None, None))


# in the order of `anyuan import all` (references point backwards only)
KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Stations(),
        QualificationTypes(),
        Parks(),
        Grids(),
        Officers(),
        ContactGroups(),
        LabourAgencies(),
        Enterprises(),
        Zones(),
        Devices(),
        People(),
        Qualifications(),
        Vehicles(),
        AccessGroups(),
        Authorisations(),
        Watchlist(),
        Informants(),
    )
}

BY_MODEL = {k.model: k for k in KINDS.values()}
