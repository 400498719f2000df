"""The one scoping mechanism: which rows a user may see or act on.

Every scoped model declares a :class:`Scope` — the lookup paths from the model to the
police station, to the enterprise and to the person it belongs to — and uses
:class:`ScopedQuerySet` as its manager. ``Model.objects.restrict(user, action)`` is the
only way pages and API endpoints fetch rows:

- police roles see the rows of their station (jurisdiction);
- enterprise roles see the rows of their enterprise, plus what ``Scope.shared`` lets
  them *view* (park-shared zones, the station's labour agencies ...);
- informants and employees see the rows tied to their own person record;
- a model with no path for a role's dimension shows that role nothing (deny by default),
  and the role table (:mod:`anyuan.core.roles`) must allow the action at all.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import models
from django.db.models import Q

from anyuan.core.roles import (
    CHANGE,
    ENTERPRISE_ROLES,
    PERSONAL_ROLES,
    POLICE_ROLES,
    VIEW,
    managed_roles,
    user_can,
)


@dataclass(frozen=True)
class Scope:
    station: str | None = None
    enterprise: str | None = None
    person: str | None = None
    # Extra rows an enterprise user may view though their enterprise does not own them.
    shared: Callable[[object], Q] | None = None
    # Reference data (e.g. qualification types) every signed-in user may view.
    public: bool = False
    # Paths cross to-many relations: filter through a sub-query to avoid duplicate rows.
    multi: bool = False
    # Path to the user a row belongs to (API tokens): users always view and change their own.
    own: str | None = None
    # Path to the role of the account a row is or belongs to (users, API tokens): a role
    # reaches only the accounts of the roles it manages (core.roles.MANAGED_BY).
    role: str | None = None
    # Of their enterprise's rows, enterprise users reach only these (warning information:
    # what the enterprise reported, not what an informant or the police reported about it).
    enterprise_rows: Q | None = None


def scope_q(model, user, action: str) -> Q | None:
    """The filter for ``user`` doing ``action`` on ``model``; ``None`` means no rows."""
    q = _role_q(model, user, action)
    own = model.scope.own
    if own and action in (VIEW, CHANGE) and getattr(user, "is_authenticated", False):
        mine = Q(**{own: user.pk})
        if q is None:
            return mine
        return q if not q else q | mine  # an empty Q already means every row
    return q


def _role_q(model, user, action: str) -> Q | None:
    if not user_can(user, model, action):
        return None
    if user.is_superuser:
        return Q()
    q = _place_q(model, user, action)
    if q is not None and model.scope.role:
        q &= Q(**{f"{model.scope.role}__in": sorted(managed_roles(user))})
    return q


def _place_q(model, user, action: str) -> Q | None:
    scope: Scope = model.scope
    if scope.public and action == VIEW:
        return Q()
    if user.role in POLICE_ROLES:
        if scope.station and user.station_id:
            return Q(**{scope.station: user.station_id})
        return None
    if user.role in ENTERPRISE_ROLES:
        if not user.enterprise_id:
            return None
        q = Q(**{scope.enterprise: user.enterprise_id}) if scope.enterprise else None
        if q is not None and scope.enterprise_rows is not None:
            q &= scope.enterprise_rows
        if action == VIEW and scope.shared:
            shared = scope.shared(user)
            q = shared if q is None else q | shared
        return q
    if user.role in PERSONAL_ROLES:
        if scope.person and user.person_id:
            return Q(**{scope.person: user.person_id})
        return None
    return None


class ScopedQuerySet(models.QuerySet):
    def restrict(self, user, action: str = VIEW):
        q = scope_q(self.model, user, action)
        if q is None:
            return self.none()
        if not q:  # an empty Q: every row
            return self
        if self.model.scope.multi:
            return self.filter(pk__in=self.model._base_manager.filter(q).values("pk"))
        return self.filter(q)


def owner_ids(obj) -> tuple[int | None, int | None]:
    """(station id, enterprise id) an object belongs to, following its Scope paths.

    A path that crosses a to-many relation names no single owner and gives ``None``.
    """
    scope: Scope = type(obj).scope

    def follow(path):
        if not path:
            return None
        if path == "pk":
            return obj.pk
        target = obj
        *hops, last = path.split("__")
        for hop in hops:
            target = getattr(target, hop, None)
            if target is None or not isinstance(target, models.Model):
                return None
        field = target._meta.get_field(last)
        if field.many_to_one or (field.one_to_one and field.concrete):
            return getattr(target, field.attname)
        if field.is_relation:
            return None
        return getattr(target, last)

    return follow(scope.station), follow(scope.enterprise)
