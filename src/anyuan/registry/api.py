"""REST endpoints of the park registry: /api/v1/registry/<kind>."""

from django.db.models import Q
from ninja import Router, Schema

from anyuan.core.api import DbInt, crud
from anyuan.core.schemas import model_schemas
from anyuan.registry import models as m
from anyuan.registry.catalog import DIGEST_SEARCH, FIELDS

router = Router()


class NameFilters(Schema):
    q: str | None = None

    @staticmethod
    def search(qs, q):
        return qs.filter(name__icontains=q)


class EnterpriseFilters(NameFilters):
    grid: DbInt | None = None
    contact_group: DbInt | None = None
    park: DbInt | None = None
    hazardous_chemicals: bool | None = None
    risk_level: str | None = None

    @staticmethod
    def search(qs, q):
        return qs.filter(Q(name__icontains=q) | Q(credit_code=q))  # normalised by the field


class ZoneFilters(NameFilters):
    park: DbInt | None = None
    parent: DbInt | None = None
    ring: str | None = None
    kind: str | None = None
    enterprise: DbInt | None = None


class DeviceFilters(NameFilters):
    zone: DbInt | None = None
    kind: str | None = None

    @staticmethod
    def search(qs, q):
        return qs.filter(Q(name__icontains=q) | Q(serial=q))


class PersonFilters(NameFilters):
    kind: str | None = None
    enterprise: DbInt | None = None
    labour_agency: DbInt | None = None
    card_number: str | None = None
    employee_number: str | None = None
    face_id: str | None = None


class PersonRefFilters(Schema):
    person: DbInt | None = None


class VehicleFilters(Schema):
    q: str | None = None
    kind: str | None = None
    enterprise: DbInt | None = None
    owner: DbInt | None = None
    registered: bool | None = None

    @staticmethod
    def search(qs, q):
        return qs.filter(plate__icontains=q.upper())


class AuthorisationFilters(Schema):
    zone: DbInt | None = None
    person: DbInt | None = None
    group: DbInt | None = None


class WatchlistFilters(NameFilters):
    kind: str | None = None
    level: str | None = None
    active: bool | None = None


FILTERS = {
    m.Enterprise: EnterpriseFilters,
    m.Zone: ZoneFilters,
    m.Device: DeviceFilters,
    m.Person: PersonFilters,
    m.Qualification: PersonRefFilters,
    m.Informant: PersonRefFilters,
    m.Vehicle: VehicleFilters,
    m.Authorisation: AuthorisationFilters,
    m.WatchlistEntry: WatchlistFilters,
}
READ_ONLY = {
    m.Person: ("birth_date", "created", "updated"),
    m.Zone: ("path", "depth"),
    m.Device: ("token_prefix",),
}

for model, fields in FIELDS.items():
    Out, Create, Patch = model_schemas(model, fields, read_only=READ_ONLY.get(model, ()))
    crud(
        router,
        model,
        out=Out,
        create=Create,
        update=Patch,
        filters=FILTERS.get(model, NameFilters if hasattr(model, "name") else None),
        path=f"/{model._meta.model_name}",
        search_digests=DIGEST_SEARCH.get(model, []),
    )
