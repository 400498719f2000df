"""Generic, declarative object views. Every page that shows rows fetches them with
``Model.objects.restrict(user, action)``; a view only declares its model, columns and form.
"""

import json
import re
from urllib.parse import urlencode

from django import forms
from django.apps import apps
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.db.models import Count, Q
from django.http import Http404, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from anyuan.core import actions, audit, net, personal
from anyuan.core.forms import scoped_modelform
from anyuan.core.personal import EncryptedField, digest_or_none, normalize
from anyuan.core.roles import (
    ADD,
    CHANGE,
    DELETE,
    ENTERPRISE_ROLES,
    EXPORT,
    IMPORT,
    PERSONAL_ROLES,
    REVEAL,
    VIEW,
    is_police,
    user_can,
)

client_ip = net.client_ip


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def field_at(model, path: str):
    """The model field a lookup path such as ``zone__enterprise`` ends at, or ``None``."""
    field = None
    for part in path.split("__"):
        if field is not None:
            model = field.related_model
            if model is None:
                return None
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return None
    return field


def may_look_up(user, model, path: str) -> bool:
    """May ``user`` search, filter or sort ``model`` by ``path`` (``person__birth_date``)?
    Not by personal data or what is derived from it, nor by who reported what unless they
    may see it (the model's ``disclosure``)."""
    for part in path.split("__"):
        if model is None:
            return True
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return True  # a lookup (icontains, isnull)
        if not personal.may_look_up(user, model, part):
            return False
        model = field.related_model
    return True


def list_filters_of(url_name: str) -> list[str]:
    """The filters the list page ``url_name`` declares (empty if it has none)."""
    try:
        match = resolve(reverse(url_name))
    except (NoReverseMatch, Resolver404):
        return []
    view_class = getattr(match.func, "view_class", None)
    return list(getattr(view_class, "filters", []) or [])


# --- home ------------------------------------------------------------------------------


def _count_tile(user, label, title, url_name, **flt):
    """A count of what ``user`` may see of a model, linking to its (filtered) list."""
    model = apps.get_model(label)
    if not user_can(user, model, VIEW):
        return None
    count = model.objects.restrict(user, VIEW).filter(**flt).count()
    url = reverse(url_name)
    query = {k: ("1" if v is True else v) for k, v in flt.items() if k in list_filters_of(url_name)}
    if query:
        url += "?" + urlencode(query)
    return {"title": title, "count": count, "url": url}


def police_dashboard(user) -> dict:
    Enterprise = apps.get_model("registry.enterprise")
    Device = apps.get_model("registry.device")
    enterprise = Enterprise._meta
    risky = ["high", "major"]
    tiles = [
        _count_tile(user, "registry.enterprise", enterprise.verbose_name_plural, "registry:enterprise-list"),
        _count_tile(user, "registry.enterprise", _("Major risk"), "registry:enterprise-list", risk_level="major"),
        _count_tile(user, "registry.enterprise", _("High risk"), "registry:enterprise-list", risk_level="high"),
        _count_tile(user, "registry.enterprise", _("Hazardous chemicals"), "registry:enterprise-list", hazardous_chemicals=True),
        _count_tile(user, "registry.person", _("People"), "registry:person-list"),
        _count_tile(user, "registry.person", _("Temporary workers"), "registry:person-list", kind="temporary"),
        _count_tile(user, "registry.zone", _("Zones"), "registry:zone-list"),
        _count_tile(user, "registry.device", _("Devices"), "registry:device-list"),
        _count_tile(user, "registry.vehicle", _("Vehicles"), "registry:vehicle-list"),
        _count_tile(user, "registry.informant", _("Informants"), "registry:informant-list"),
        _count_tile(user, "registry.watchlistentry", _("Watchlist"), "registry:watchlistentry-list", active=True),
    ]  # fmt: skip
    enterprises = Enterprise.objects.restrict(user, VIEW)
    grids = (
        enterprises.values("grid", "grid__name", "grid__position")
        .annotate(n=Count("pk"), risky=Count("pk", filter=Q(risk_level__in=risky)))
        .order_by("grid__position", "grid__name")
    )
    list_url = reverse("registry:enterprise-list")
    by_grid = [
        {
            "name": g["grid__name"] or _("No police grid"),
            "count": g["n"],
            "risky": g["risky"],
            "url": f"{list_url}?grid={g['grid']}" if g["grid"] else None,
        }
        for g in grids
    ]
    attention = enterprises.filter(risk_level__in=risky).select_related("grid")
    attention = attention.order_by("-risk_level", "name")[:10]
    devices = Device.objects.restrict(user, VIEW)
    return {
        "kind": "police",
        "tiles": [t for t in tiles if t],
        "by_grid": by_grid,
        "attention": attention,
        "inactive_devices": devices.filter(active=False).count(),
    }


def enterprise_dashboard(user) -> dict:
    Enterprise = apps.get_model("registry.enterprise")
    enterprise = Enterprise.objects.restrict(user, VIEW).filter(pk=user.enterprise_id).first()
    tiles = [
        _count_tile(user, "registry.person", _("People"), "registry:person-list"),
        _count_tile(user, "registry.person", _("Temporary workers"), "registry:person-list", kind="temporary"),
        _count_tile(user, "registry.zone", _("Zones"), "registry:zone-list"),
        _count_tile(user, "registry.device", _("Devices"), "registry:device-list"),
        _count_tile(user, "registry.vehicle", _("Vehicles"), "registry:vehicle-list"),
        _count_tile(user, "registry.accessgroup", _("Access groups"), "registry:accessgroup-list"),
        _count_tile(user, "registry.authorisation", _("Authorisations"), "registry:authorisation-list"),
        _count_tile(user, "registry.informant", _("Informants"), "registry:informant-list"),
        _count_tile(user, "registry.watchlistentry", _("Watchlist"), "registry:watchlistentry-list", active=True),
    ]  # fmt: skip
    return {"kind": "enterprise", "enterprise": enterprise, "tiles": [t for t in tiles if t]}


def personal_dashboard(user) -> dict:
    Person = apps.get_model("registry.person")
    person = Person.objects.restrict(user, VIEW).filter(pk=user.person_id).first()
    sections = []
    if person is not None:
        for label, fk in (
            ("registry.qualification", "person"),
            ("registry.vehicle", "owner"),
            ("registry.authorisation", "person"),
        ):
            model = apps.get_model(label)
            if user_can(user, model, VIEW):
                rows = model.objects.restrict(user, VIEW).filter(**{fk: person})[:20]
                sections.append({"title": model._meta.verbose_name_plural, "rows": rows})
    return {"kind": "personal", "person": person, "sections": sections}


class HomeView(LoginRequiredMixin, TemplateView):
    """A landing page per role: the jurisdiction, the own enterprise, or the own record."""

    template_name = "home.html"
    quick_add = ["registry.person", "registry.enterprise", "registry.vehicle", "registry.zone"]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        if is_police(user):
            context["dashboard"] = police_dashboard(user)
        elif user.role in ENTERPRISE_ROLES:
            context["dashboard"] = enterprise_dashboard(user)
        elif user.role in PERSONAL_ROLES:
            context["dashboard"] = personal_dashboard(user)
        quick = []
        for label in self.quick_add:
            model = apps.get_model(label)
            if user_can(user, model, ADD):
                try:
                    url = reverse(f"registry:{model._meta.model_name}-add")
                except NoReverseMatch:
                    continue
                quick.append({"title": model._meta.verbose_name, "url": url})
        context["quick_add"] = quick
        return context


# --- generic object views --------------------------------------------------------------


class ObjectMixin(LoginRequiredMixin):
    """``model`` and ``action`` are declared; ``queryset()`` is scoped for the user."""

    model = None
    action = VIEW
    url_namespace = "registry"

    def queryset(self, action=None):
        return self.model.objects.restrict(self.request.user, action or self.action)

    def get_object(self, action=None):
        try:
            return self.queryset(action).get(pk=self.kwargs["pk"])
        except (self.model.DoesNotExist, ValueError, TypeError):
            raise Http404(_("No such object, or it is outside your scope.")) from None

    def url(self, kind, *args):
        # the namespace the page was reached through (a generic view serves several apps)
        match = getattr(self.request, "resolver_match", None)
        namespace = (match.namespace if match else "") or self.url_namespace
        return reverse(f"{namespace}:{self.model._meta.model_name}-{kind}", args=args)

    def context(self, **extra):
        user = self.request.user
        meta = self.model._meta
        perms = {
            a: user_can(user, self.model, a) for a in (ADD, CHANGE, DELETE, EXPORT, IMPORT, REVEAL)
        }
        obj = extra.get("object")
        return {
            "detail_url": self.url_or_none("detail", obj.pk) if getattr(obj, "pk", None) else None,
            "model_name": meta.model_name,
            "verbose_name": meta.verbose_name,
            "verbose_name_plural": meta.verbose_name_plural,
            "list_url": self.url("list"),
            "add_url": self.url_or_none("add") if perms[ADD] else None,
            "import_url": self.url_or_none("import") if perms[IMPORT] else None,
            "export_url": self.url_or_none("export") if perms[EXPORT] else None,
            "perms": perms,
            **extra,
        }

    def url_or_none(self, kind, *args):
        try:
            return self.url(kind, *args)
        except NoReverseMatch:
            return None


def cell_type(field) -> str:
    if field is None:
        return "text"
    if isinstance(field, EncryptedField):
        return "personal"
    if isinstance(field, models.JSONField):
        return "json"
    if isinstance(field, models.BooleanField):
        return "bool"
    if field.choices:
        return "choice"
    if isinstance(field, models.IntegerField | models.FloatField | models.DecimalField):
        return "num"
    if isinstance(field, models.DateField | models.TimeField):
        return "date"
    return "text"


def rate_limited(request, error: "actions.RateLimited"):
    response = render(request, "429.html", {"message": str(error)}, status=429)
    response["Retry-After"] = str(error.retry_after)
    return response


# the keyed hash of a personal-data search, as it appears in a list URL: kind.hexdigest
HASHED_SEARCH = re.compile(r"^([a-z_]+)\.([0-9a-f]{64})$")
MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


class ObjectListView(ObjectMixin, View):
    columns: list[str] = ["__str__"]
    search_fields: list[str] = ["name"]
    # personal-data fields an exact value may be searched by (through their keyed hash)
    search_digests: list[tuple[str, str]] = []
    filters: list[str] = []
    paginate_by = 50
    # a foreign-key filter with more choices than this is a plain id box, not a select
    filter_choice_limit = 500
    template_name = "core/object_list.html"

    # -- the query ----------------------------------------------------------------------

    def personal_kinds(self, q: str) -> list[str]:
        """The personal-data kinds ``q`` is a valid value of (looked up by keyed hash and
        kept out of the address)."""
        found = []
        for kind in dict.fromkeys(kind for _field, kind in self.search_digests):
            if digest_or_none(kind, q) is None:
                continue
            if kind == "phone" and not MOBILE.match(normalize(kind, q)):
                continue  # landlines and service numbers are an enterprise's, not a person's
            found.append(kind)
        return found

    def personal_search(self, q: str, kinds) -> list[tuple[str, str, str]]:
        """(kind, digest, masked) for ``q`` — counted and audited (see
        :func:`anyuan.core.actions.search_personal`)."""
        return actions.search_personal(
            self.request.user, self.model, q, kinds, remote_addr=client_ip(self.request)
        )

    def filtered(self):
        qs = self.queryset()
        q = (self.request.GET.get("q") or "").strip()
        if q:
            cond = Q()
            for f in self.visible_search_fields():
                cond |= Q(**{f"{f}__icontains": q})
            kinds = [kind for _field, kind in self.search_digests]
            for kind, d, _masked in self.personal_search(q, kinds):  # e.g. a landline
                for field, k in self.search_digests:
                    if k == kind:
                        cond |= Q(**{f"{field}_digest": d})
            qs = qs.filter(cond)
        hashed = self.request.GET.getlist("qh")
        if hashed:
            cond = Q()
            for value in hashed:
                m = HASHED_SEARCH.match(value)
                for field, kind in self.search_digests:
                    if m and m.group(1) == kind:
                        cond |= Q(**{f"{field}_digest": m.group(2)})
            qs = qs.filter(cond) if cond else qs.none()
        for f in self.visible_filters():
            value = self.request.GET.get(f)
            if value not in (None, ""):
                if value.lstrip("-").isdigit() and abs(int(value)) >= 2**63:
                    qs = qs.none()  # no row has such an id; the database would overflow
                    continue
                try:
                    qs = qs.filter(**{f: value})
                except (ValueError, TypeError, ValidationError):
                    qs = qs.none()
        return qs

    def visible_search_fields(self) -> list[str]:
        user = self.request.user
        return [f for f in self.search_fields if may_look_up(user, self.model, f)]

    def visible_filters(self) -> list[str]:
        user = self.request.user
        return [f for f in self.filters if may_look_up(user, self.model, f)]

    def sort_key(self) -> str | None:
        sort = self.request.GET.get("sort", "")
        name = sort.removeprefix("-")
        return sort if name in self.sortable_columns() else None

    def sortable_columns(self) -> set[str]:
        names = set()
        for c in self.columns:
            field = field_at(self.model, c) if c != "__str__" else None
            if (
                field is not None
                and field.concrete
                and not field.many_to_many
                and not isinstance(field, EncryptedField)
                and may_look_up(self.request.user, self.model, c)
            ):
                names.add(c)
        return names

    # -- requests -----------------------------------------------------------------------

    def post(self, request, *args, **kwargs):
        """The search form posts here and is sent on to the list's address. A personal-data
        value typed into it (an ID number, a phone) is replaced by its keyed hash, so it
        never appears in an address bar, a browser history or a server log."""
        try:
            return HttpResponseRedirect(self.search_url(request.POST), status=303)
        except actions.RateLimited as e:
            return rate_limited(request, e)

    def search_url(self, data) -> str:
        params = QueryDict(mutable=True)
        q = (data.get("q") or "").strip()
        kinds = self.personal_kinds(q) if q else []
        personal = self.personal_search(q, kinds) if kinds else []
        if personal:
            params.setlist("qh", [f"{kind}.{d}" for kind, d, _m in personal])
            params["qm"] = personal[0][2]
        elif q:
            params["q"] = q
        else:  # a personal-data search already hashed, kept while the filters change
            hashed = [h for h in data.getlist("qh") if HASHED_SEARCH.match(h)]
            if hashed:
                params.setlist("qh", hashed)
                params["qm"] = data.get("qm", "")
        for f in [*self.visible_filters(), "sort"]:
            if data.get(f) not in (None, ""):
                params[f] = data[f]
        query = params.urlencode()
        return f"{self.request.path}?{query}" if query else self.request.path

    def get(self, request, *args, **kwargs):
        q = (request.GET.get("q") or "").strip()
        try:
            if q and self.personal_kinds(q):
                # an ID number or phone in the address: move it out (see post())
                data = request.GET.copy()
                return HttpResponseRedirect(self.search_url(data), status=303)
            qs = self.filtered()
        except actions.RateLimited as e:
            return rate_limited(request, e)
        related = [
            c
            for c in self.columns
            if c in {f.name for f in self.model._meta.concrete_fields if f.many_to_one}
        ]
        if related:
            qs = qs.select_related(*related)
        sort = self.sort_key()
        if sort:
            qs = qs.order_by(sort, "pk")
        page = Paginator(qs, self.paginate_by).get_page(request.GET.get("page"))
        headers = self.headers(sort)
        # (object, its cells — each labelled for the phone layout —, its detail page)
        rows = [
            (
                obj,
                [
                    {**self.cell_info(obj, c), "label": h["title"]}
                    for c, h in zip(self.columns, headers, strict=True)
                ],
                self.url("detail", obj.pk),
            )
            for obj in page.object_list
        ]
        filter_fields = self.filter_fields()
        hashed = [h for h in request.GET.getlist("qh") if HASHED_SEARCH.match(h)]
        narrowed = bool(q or hashed or any(f["value"] for f in filter_fields))
        query = request.GET.copy()
        query.pop("page", None)
        return render(
            request,
            self.template_name,
            self.context(
                page=page,
                headers=headers,
                rows=rows,
                q=q,
                personal_search=self.personal_search_label() if hashed else None,
                personal_hashes=hashed,
                search_placeholder=self.search_placeholder(),
                filter_fields=filter_fields,
                active_filters=[f for f in filter_fields if f["value"]],
                narrowed=narrowed,
                total=self.queryset().count() if narrowed else page.paginator.count,
                query=query.urlencode(),
                clear_url=request.path,
            ),
        )

    # -- presentation -------------------------------------------------------------------

    def personal_search_label(self) -> str:
        masked = re.sub(r"[^0-9A-Z*]", "", self.request.GET.get("qm", ""))[:20]
        return masked or "••••"

    def search_placeholder(self) -> str:
        labels = []
        for f in self.visible_search_fields():
            field = field_at(self.model, f)
            if field is not None:
                labels.append(str(field.verbose_name))
        for f, _kind in self.search_digests:
            labels.append(str(self.model._meta.get_field(f).verbose_name))
        labels = list(dict.fromkeys(labels))
        if not labels:
            return _("Search")
        return _("Search: %(fields)s") % {"fields": _(", ").join(labels)}

    def headers(self, sort):
        sortable = self.sortable_columns()
        current = (sort or "").removeprefix("-")
        result = []
        for c in self.columns:
            query = self.request.GET.copy()
            query.pop("page", None)
            entry = {"title": self.column_title(c), "type": cell_type(self._field(c))}
            if c in sortable:
                descending = sort == c
                query["sort"] = f"-{c}" if descending else c
                entry["sort_url"] = "?" + query.urlencode()
                entry["sorted"] = (
                    ("desc" if sort.startswith("-") else "asc") if c == current else None
                )
            result.append(entry)
        return result

    def _field(self, column):
        return None if column == "__str__" else field_at(self.model, column)

    def filter_fields(self) -> list[dict]:
        """The declared filters as form inputs: a select of the scoped choices, or a box."""
        user = self.request.user
        result = []
        for name in self.visible_filters():
            field = field_at(self.model, name)
            value = self.request.GET.get(name, "")
            entry = {
                "name": name,
                "label": field.verbose_name if field is not None else name,
                "value": value,
                "value_label": value,
                "options": None,
            }
            query = self.request.GET.copy()
            query.pop(name, None)
            query.pop("page", None)
            entry["remove_url"] = "?" + query.urlencode()
            if field is not None and field.is_relation:
                related = field.related_model
                choices = (
                    related.objects.restrict(user, VIEW)
                    if hasattr(related, "scope")
                    else related.objects.none()
                )
                options = list(choices[: self.filter_choice_limit + 1])
                if len(options) <= self.filter_choice_limit:
                    entry["options"] = [(str(o.pk), str(o)) for o in options]
                if value:
                    try:
                        chosen = choices.filter(pk=value).first()
                    except (ValueError, TypeError, ValidationError):
                        chosen = None
                    entry["value_label"] = str(chosen) if chosen is not None else value
            elif field is not None and isinstance(field, models.BooleanField):
                entry["options"] = [("1", _("Yes")), ("0", _("No"))]
            elif field is not None and field.choices:
                entry["options"] = [(str(k), str(v)) for k, v in field.flatchoices if k != ""]
            if entry["options"] is not None and value:
                entry["value_label"] = dict(entry["options"]).get(value, entry["value_label"])
            result.append(entry)
        return result

    def column_title(self, column):
        if column == "__str__":
            return self.model._meta.verbose_name
        return self.model._meta.get_field(column).verbose_name

    def cell_info(self, obj, column) -> dict:
        field = self._field(column)
        withheld = withheld_cell(self.request.user, obj, column)
        if withheld is not None:
            return {"value": withheld, "type": "personal", "url": None, "raw": ""}
        value = self.cell(obj, column)
        info = {"value": value, "type": cell_type(field), "url": None, "raw": ""}
        if field is not None and field.many_to_one:
            target = getattr(obj, column, None)
            url = getattr(target, "get_absolute_url", None)
            info["url"] = url() if url else None
        elif info["type"] in ("choice", "bool"):
            info["raw"] = str(getattr(obj, column, ""))
        return info

    @staticmethod
    def cell(obj, column):
        if column == "__str__":
            return str(obj)
        display = getattr(obj, f"get_{column}_display", None)
        value = display() if display else getattr(obj, column)
        if value is None or value == "":
            return "—"
        if value is True:
            return _("Yes")
        if value is False:
            return _("No")
        return value


def withheld_cell(user, obj, column):
    """What a page shows instead of ``obj.column`` when the model's ``disclosure``
    declares it: derived personal data masked, who reported what "—" (for those who may
    not see it); ``None`` when the value is shown as it is."""
    if column == "__str__":
        return None
    *hops, name = column.split("__")
    for hop in hops:  # a column through a relation: the model it ends at declares it
        if not may_look_up(user, type(obj), hop):
            return "—"
        obj = getattr(obj, hop, None)
        if obj is None or not hasattr(obj, "_meta"):
            return None
    model = type(obj)
    if name in personal.derived_names(model):
        return personal.mask_derived(getattr(obj, name)) or "—"
    if name in personal.hidden_names(user, model, obj):
        return "—"
    return None


class ObjectDetailView(ObjectMixin, View):
    template_name = "core/object_detail.html"
    exclude_fields = ("id", "created", "updated", "path", "depth")

    def get(self, request, *args, **kwargs):
        obj = self.get_object()
        user = request.user
        can_reveal = user_can(user, self.model, REVEAL)
        fields = []
        hidden = personal.hidden_names(user, self.model, obj)
        derived = personal.derived_names(self.model)
        for f in self.model._meta.concrete_fields:
            if (
                f.name in self.exclude_fields
                or f.name.endswith("digest")
                or f.name == "token_prefix"
                or f.name == "password"
                or f.name in hidden  # who reported it: not shown at all
            ):
                continue
            if f.name in derived:
                masked = personal.mask_derived(getattr(obj, f.name))
                fields.append(
                    {"name": f.name, "label": f.verbose_name, "value": masked or "—",
                     "type": "personal", "personal": bool(masked), "help": f.help_text}
                )  # fmt: skip
                continue
            value = self.field_value(obj, f)
            if isinstance(f, models.JSONField) and value != "—":
                value = json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)
            fields.append(
                {
                    "name": f.name,
                    "label": f.verbose_name,
                    "value": value,
                    "type": cell_type(f),
                    "raw": str(getattr(obj, f.attname, "")) if f.choices else "",
                    "link": getattr(getattr(obj, f.name, None), "get_absolute_url", None)
                    if f.is_relation
                    else None,
                    "personal": isinstance(f, EncryptedField) and bool(getattr(obj, f.name)),
                    "help": f.help_text,
                }
            )
        for f in self.model._meta.many_to_many:
            related = f.related_model
            linked = getattr(obj, f.name).values("pk")
            items = list(
                related.objects.restrict(user, VIEW).filter(pk__in=linked)[:51]
                if hasattr(related, "scope")
                else related.objects.none()
            )
            fields.append(
                {
                    "name": f.name,
                    "label": f.verbose_name,
                    "value": "—" if not items else "",
                    "type": "many",
                    "items": [
                        (str(o), getattr(o, "get_absolute_url", lambda: None)()) for o in items[:50]
                    ],
                    "more": len(items) > 50,
                }
            )
        return render(
            request,
            self.template_name,
            self.context(
                object=obj,
                fields=fields,
                can_reveal=can_reveal,
                related=self.related_lists(obj),
                audit_url=self.audit_url(obj),
                created=getattr(obj, "created", None),
                updated=getattr(obj, "updated", None),
                edit_url=self.url_or_none("edit", obj.pk)
                if self.queryset(CHANGE).filter(pk=obj.pk).exists()
                else None,
                delete_url=self.url_or_none("delete", obj.pk)
                if self.queryset(DELETE).filter(pk=obj.pk).exists()
                else None,
                reveal_url=self.url_or_none("reveal", obj.pk)
                if self.queryset(REVEAL).filter(pk=obj.pk).exists()
                else None,
            ),
        )

    def field_value(self, obj, field):
        return ObjectListView.cell(obj, field.name)

    def related_lists(self, obj) -> list[dict]:
        """Counts of the rows that point at ``obj``, each a link to the list page filtered
        by it — for every list page that declares a filter leading to this kind."""
        user = self.request.user
        found = []
        for model in apps.get_models():
            if not hasattr(model, "scope") or not user_can(user, model, VIEW):
                continue
            url_name = f"{model._meta.app_label}:{model._meta.model_name}-list"
            try:
                list_url = reverse(url_name)
            except NoReverseMatch:
                continue
            for f in list_filters_of(url_name):
                field = field_at(model, f)
                if field is None or not field.is_relation or field.related_model is not self.model:
                    continue
                if not may_look_up(user, model, f):
                    continue  # "3 reports by this person": who reported what
                count = model.objects.restrict(user, VIEW).filter(**{f: obj.pk}).count()
                add_url = None
                if "__" not in f and user_can(user, model, ADD):
                    try:
                        add_url = reverse(url_name.removesuffix("-list") + "-add")
                        add_url += f"?{urlencode({f: obj.pk})}"  # the form starts filled in
                    except NoReverseMatch:
                        add_url = None
                found.append(
                    {
                        "title": model._meta.verbose_name_plural,
                        "kind": model._meta.verbose_name,
                        "via": field.verbose_name,
                        "count": count,
                        "url": f"{list_url}?{urlencode({f: obj.pk})}",
                        "add_url": add_url,
                    }
                )
        titles = [str(r["title"]) for r in found]
        for r in found:
            r["ambiguous"] = titles.count(str(r["title"])) > 1
        return found

    def audit_url(self, obj):
        AuditEntry = apps.get_model("core.auditentry")
        if not user_can(self.request.user, AuditEntry, VIEW) or self.model is AuditEntry:
            return None
        query = {"object_type": self.model._meta.label_lower, "object_id": obj.pk}
        return reverse("core:auditentry-list") + "?" + urlencode(query)


class ObjectEditView(ObjectMixin, View):
    """Add (no pk) or change (pk) through a scoped ModelForm and the generic actions."""

    fields: list[str] = []
    template_name = "core/object_edit.html"

    def form_class(self):
        return scoped_modelform(self.model, self.fields, self.request.user)

    def instance(self):
        if "pk" in self.kwargs:
            return self.get_object(CHANGE)
        if not user_can(self.request.user, self.model, ADD):
            raise PermissionDenied(_("You may not add this."))
        return None

    def get(self, request, *args, **kwargs):
        obj = self.instance()
        form = self.form_class()(instance=obj, initial=request.GET.dict() if obj is None else None)
        return render(request, self.template_name, self.context(form=form, object=obj))

    def post(self, request, *args, **kwargs):
        obj = self.instance()
        form = self.form_class()(request.POST, request.FILES, instance=obj)
        if form.is_valid():
            data = form.changed_cleaned_data()
            try:
                if obj is None:
                    obj = actions.create(
                        request.user, self.model, data, remote_addr=client_ip(request)
                    )
                else:
                    # the form has written into its instance; the action starts from the stored row
                    fresh = self.get_object(CHANGE)
                    obj = actions.update(request.user, fresh, data, remote_addr=client_ip(request))
            except actions.ValidationFailed as e:
                for field, errors in e.errors.items():
                    for err in errors:
                        form.add_error(field if field in form.fields else None, err)
            else:
                messages.success(request, _("Saved."))
                return HttpResponseRedirect(self.url("detail", obj.pk))
        if obj is not None and obj.pk:
            obj = self.get_object(CHANGE)  # the heading names the stored row, not the input
        return render(request, self.template_name, self.context(form=form, object=obj), status=400)


class ObjectDeleteView(ObjectMixin, View):
    template_name = "core/object_delete.html"
    action = DELETE

    def get(self, request, *args, **kwargs):
        return render(request, self.template_name, self.context(object=self.get_object()))

    def post(self, request, *args, **kwargs):
        obj = self.get_object()
        try:
            actions.delete(request.user, obj, remote_addr=client_ip(request))
        except actions.ValidationFailed as e:
            messages.error(request, " ".join(m for ms in e.errors.values() for m in ms))
            return HttpResponseRedirect(self.url("detail", obj.pk))
        messages.success(request, _("Deleted."))
        return HttpResponseRedirect(self.url("list"))


class RevealForm(forms.Form):
    field = forms.CharField()
    reason = forms.CharField(min_length=4)  # and at most REASON_MAX_LENGTH: actions.reveal


class ObjectRevealView(ObjectMixin, View):
    """Shows one personal-data value in clear after asking for a reason (audited).

    A request from htmx (the detail page's inline 查看明文) gets just the fragment that
    replaces the masked value; without JavaScript the same URL is a page of its own.
    """

    template_name = "core/reveal.html"
    inline_template_name = "core/_reveal_inline.html"
    action = REVEAL

    def respond(self, request, obj, field_name, status=200, **extra):
        template = self.inline_template_name if is_htmx(request) else self.template_name
        field = None
        try:
            field = self.model._meta.get_field(field_name) if field_name else None
        except FieldDoesNotExist:
            field = None
        if field is not None and not personal.is_personal(self.model, field.name):
            field = None
        context = self.context(
            object=obj,
            field=field_name if field else "",
            field_label=field.verbose_name if field else "",
            masked=self.masked(obj, field.name) if field else "",
            reveal_url=self.url("reveal", obj.pk),
            **extra,
        )
        if is_htmx(request) and status == 400:
            status = 200  # htmx swaps only successful answers; the fragment shows the errors
        response = render(request, template, context, status=status)
        add_never_cache_headers(response)
        return response

    def masked(self, obj, name) -> str:
        value = getattr(obj, name)
        if name in personal.derived_names(self.model):
            value = personal.mask_derived(value)
        return str(value or "") or "—"

    def get(self, request, *args, **kwargs):
        obj = self.get_object()
        return self.respond(request, obj, request.GET.get("field", ""))

    def post(self, request, *args, **kwargs):
        obj = self.get_object()
        form = RevealForm(request.POST)
        field_name = request.POST.get("field", "")
        if not form.is_valid():
            errors = {}
            if "reason" in form.errors:
                errors["reason"] = [_("Say why you need to see this (at least 4 characters).")]
            if "field" in form.errors:
                errors["field"] = [_("Unknown field.")]
            return self.respond(request, obj, field_name, status=400, errors=errors)
        try:
            value = actions.reveal(
                request.user,
                obj,
                form.cleaned_data["field"],
                form.cleaned_data["reason"],
                remote_addr=client_ip(request),
            )
        except actions.ValidationFailed as e:
            return self.respond(request, obj, field_name, status=400, errors=e.errors)
        except FieldDoesNotExist:
            return self.respond(
                request, obj, "", status=400, errors={"field": [_("Unknown field.")]}
            )
        return self.respond(request, obj, field_name, value=value)


def object_urls(
    view_module_prefix: str,
    model,
    *,
    list_view,
    detail_view,
    edit_view=None,
    delete_view=None,
    reveal_view=None,
):
    """The standard URL set of one model: list, detail, add, edit, delete, reveal."""
    from django.urls import path

    name = model._meta.model_name
    base = view_module_prefix or name
    patterns = [
        path(f"{base}/", list_view.as_view(model=model), name=f"{name}-list"),
        path(f"{base}/<int:pk>/", detail_view.as_view(model=model), name=f"{name}-detail"),
    ]
    if edit_view:
        patterns += [
            path(f"{base}/add/", edit_view.as_view(model=model), name=f"{name}-add"),
            path(f"{base}/<int:pk>/edit/", edit_view.as_view(model=model), name=f"{name}-edit"),
        ]
    if delete_view:
        patterns.append(
            path(
                f"{base}/<int:pk>/delete/", delete_view.as_view(model=model), name=f"{name}-delete"
            )
        )
    if reveal_view and (
        personal.disclosure(model).derived
        or any(isinstance(f, EncryptedField) for f in model._meta.concrete_fields)
    ):
        patterns.append(
            path(
                f"{base}/<int:pk>/reveal/", reveal_view.as_view(model=model), name=f"{name}-reveal"
            )
        )
    return patterns


class AuditListView(ObjectListView):
    """The audit log (police administrators of the station)."""

    url_namespace = "core"
    columns = ["at", "actor_name", "action", "object_type", "object_repr", "reason"]
    search_fields = ["actor_name", "object_repr", "reason"]
    filters = ["action", "object_type", "object_id", "actor"]


class AuditDetailView(ObjectDetailView):
    url_namespace = "core"

    def field_value(self, obj, field):
        value = super().field_value(obj, field)
        if field.name in ("before", "after"):
            return audit.disclosed(self.request.user, obj.object_type, value)
        return value
