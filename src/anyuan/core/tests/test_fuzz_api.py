"""The whole REST API under a fuzzer.

schemathesis reads ``/api/v1/openapi.json`` from the Django app and generates requests for
every operation in it — valid ones and invalid ones — sent through the WSGI app with a
bearer token, as a police administrator and as an enterprise administrator (the device
ingestion operations with a device token of their place). Every answer must be

- no 5xx;
- a status code the operation declares (``core/api.py`` declares the error answers);
- a content type and a body matching what the schema declares for that code;

and a GET must accept at least one of the requests its own schema calls valid (one that
refuses everything, e.g. with a 422, is broken even though 422 is declared).

Bounded so that it runs in ``make test`` on SQLite and PostgreSQL in about a minute per
role on a small machine: each operation gets at most ``EXAMPLES`` requests per generation
mode and at most its fair share of what is left of the role's ``BUDGET_S`` seconds, so
no operation can eat the others' time (the figures are printed at the end of the run).

The world's rows are there to be found: in valid requests, half the time a path's ``pk``
is an id of the operation's model (``x-anyuan-model``), and an integer under a name that
names a relation or a model (``person_id``, ``workshop_id``, ``people``, ``zone``) is an
id of such rows — in reach or not. Requests change the world and the changes stay, so
that what one operation stores, others list, export and delete: the operations run in
the order writes, reads, deletes. A request that answers 5xx is rolled back, and so is one
that locks the fuzzing user out (revokes its token, deactivates it, changes its role or
place), so that the run goes on.

No operation is excluded. ``AWAITING_FIX`` names operations with a known failure that
another change of the same issue fixes; they are still fuzzed and their findings printed
but tolerated, and the summary says when one of them no longer fails.

To replay a run: ``ANYUAN_FUZZ_SEED=<seed> pytest src/anyuan/core/tests/test_fuzz_api.py``
(the seed is printed); ``ANYUAN_FUZZ_SECONDS`` sets the budget per role, and, while working
on some endpoints, ``ANYUAN_FUZZ_ONLY=/tracing/`` fuzzes only the operations whose
"METHOD path" contains it (the summary says so).
"""

import contextlib
import os
import random
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pytest
import schemathesis
from django.apps import apps
from django.core.signals import got_request_exception, request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import DatabaseError, close_old_connections, transaction
from django.db.models import CharField, F, TextField, Value
from django.db.models.functions import Concat
from django.utils import translation
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from anyuan.accounts import actions as account_actions
from anyuan.accounts.models import ApiToken
from anyuan.core.roles import Role
from anyuan.registry.actions import issue_device_token

pytestmark = pytest.mark.fuzz

SCHEMA_URL = "/api/v1/openapi.json"
ROLES = (Role.POLICE_ADMIN, Role.ENTERPRISE_ADMIN)
BUDGET_S = float(os.environ.get("ANYUAN_FUZZ_SECONDS", "60"))
ONLY = os.environ.get("ANYUAN_FUZZ_ONLY", "")
EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 6}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Operations with a known failure that another change of issue 16 fixes: "METHOD path" ->
# why. Still fuzzed; their failures are printed but tolerated, and the summary says when
# one no longer fails (remove it then).
AWAITING_FIX: dict[str, str] = {}
PHASE = {"POST": 0, "PUT": 0, "PATCH": 0, "GET": 1, "DELETE": 2}  # writes, reads, deletes


class OutOfTime(Exception):
    """This operation's share of the budget is spent."""


@dataclass
class Run:
    """What one role's fuzzing did; ``conftest.py`` prints it at the end of the run."""

    role: str
    seed: int
    budget: float
    only: str = ""
    operations: int = 0
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    answers: dict = field(default_factory=lambda: defaultdict(Counter))  # operation -> status
    accepted: set = field(default_factory=set)  # operations that answered a 2xx at least once
    failures: dict = field(default_factory=dict)  # (operation, title, status) -> details
    tolerated: set = field(default_factory=set)
    fixed: set = field(default_factory=set)  # in AWAITING_FIX, but did not fail this time
    seconds: float = 0.0


def fuzz_seed() -> int:
    given_seed = os.environ.get("ANYUAN_FUZZ_SEED")
    return int(given_seed) if given_seed else random.SystemRandom().randrange(2**32)


@pytest.fixture
def wsgi_app():
    """The Django WSGI app, with the per-request connection closing switched off (as the
    test client does) so that every request runs inside the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def server_errors():
    """Tracebacks of the exceptions the app turned into a 500, newest last."""
    seen = []

    def record(sender, request=None, **kwargs):
        seen.append(traceback.format_exc(limit=-8))

    got_request_exception.connect(record)
    yield seen
    got_request_exception.disconnect(record)


# Free text people write. Rows hold it with a control character: what the platform may
# have stored before input was checked, or taken in by an import; every answer that shows
# it — lists, details, CSV and XLSX exports — must still work.
FREE_TEXT = {
    "name", "note", "reason", "description", "address", "title", "summary", "team",
    "comment", "content", "place", "brand", "colour", "industry", "text", "contact_name",
    "security_contact", "verified_note", "actor_name", "author_name", "reporter_name",
}  # fmt: skip
STORED_ODDITY = "\x01"


def store_odd_text():
    for model in apps.get_models():
        for f in model._meta.concrete_fields:
            if f.name in FREE_TEXT and isinstance(f, CharField | TextField) and not f.choices:
                rows = model._base_manager.exclude(**{f.name: ""}).exclude(**{f.name: None})
                rows.update(**{f.name: Concat(F(f.name), Value(STORED_ODDITY))})


def reference_names() -> dict[str, set]:
    """The models a name in a request may refer to: every relation's name (``person``,
    ``workshop``, ``members``) and every model's name and plural (``zone``, ``people``)."""
    names = defaultdict(set)
    with translation.override("en"):
        for model in apps.get_models():
            for f in model._meta.get_fields():
                if f.is_relation and f.concrete and f.related_model is not None:
                    names[f.name].add(f.related_model)
            names[model._meta.model_name].add(model)
            names[str(model._meta.verbose_name_plural).replace(" ", "_")].add(model)
    return names


def is_number(value) -> bool:
    """An integer as generated: 12, or 12.0 (JSON does not tell them apart)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


class Ids:
    """Ids of existing rows, read afresh for each operation."""

    def __init__(self):
        self.names = reference_names()
        self.cache = {}

    def clear(self):
        self.cache.clear()

    def of(self, models) -> list[int]:
        key = tuple(sorted(m._meta.label_lower for m in models))
        if key not in self.cache:
            self.cache[key] = [
                pk
                for model in models
                for pk in model._base_manager.order_by("-pk").values_list("pk", flat=True)[:100]
            ]
        return self.cache[key]

    def for_name(self, name: str) -> list[int]:
        name = name.removesuffix("_id")
        return self.of(self.names[name]) if name in self.names else []


@pytest.mark.parametrize("role", ROLES)
def test_fuzz_api(world, role, wsgi_app, server_errors, fuzz_runs):
    actor = world.users[role]
    token, key = account_actions.issue_token(actor, actor, "fuzz")
    device_key = issue_device_token(actor, world.own.device)
    store_odd_text()
    schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, wsgi_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if ONLY in f"{op.method.upper()} {op.path}"]
    operations.sort(key=lambda op: PHASE.get(op.method.upper(), 1))
    run = Run(role=str(role), seed=fuzz_seed(), budget=BUDGET_S, only=ONLY)
    fuzz_runs.append(run)
    fuzzer = Fuzzer(run, actor, token, key, device_key, server_errors)

    started = time.monotonic()
    deadline = started + BUDGET_S
    for index, operation in enumerate(operations):
        share = max((deadline - time.monotonic()) / (len(operations) - index), 0.05)
        fuzzer.operation(operation, time.monotonic() + share)
    run.seconds = time.monotonic() - started

    run.tolerated = {k for k in run.failures if k[0] in AWAITING_FIX}
    failing = {k: v for k, v in run.failures.items() if k not in run.tolerated}
    fuzzed = {f"{op.method.upper()} {op.path}" for op in operations}
    run.fixed = (set(AWAITING_FIX) & fuzzed & run.accepted) - {k[0] for k in run.tolerated}
    report = "\n\n".join(
        f"{op} → {status}: {title}\n{details}" for (op, title, status), details in failing.items()
    )
    assert not failing, f"{len(failing)} fuzzing failures as {role}:\n\n{report}"


class Fuzzer:
    def __init__(self, run, actor, token, key, device_key, server_errors):
        self.run = run
        self.rng = random.Random(run.seed)
        self.token = token
        self.user_headers = {"Authorization": f"Bearer {key}"}
        self.device_headers = {"Authorization": f"Bearer {device_key}"}
        self.place = (actor.role, actor.station_id, actor.enterprise_id, actor.person_id)
        self.server_errors = server_errors
        self.ids = Ids()

    def operation(self, operation, until: float):
        label = f"{operation.method.upper()} {operation.path}"
        raw = operation.definition.raw
        devices = any("DeviceAuth" in s for s in raw.get("security", []))
        headers = self.device_headers if devices else self.user_headers
        self.run.operations += 1
        self.ids.clear()
        valid_get_answers = []
        for mode, examples in EXAMPLES.items():
            send = self.sender(operation, mode, label, headers, until, valid_get_answers)
            try:
                settings(
                    max_examples=examples,
                    deadline=None,
                    database=None,
                    phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )(hypothesis_seed(self.rng.randrange(2**32))(send))()
            except OutOfTime:
                break
        if valid_get_answers and all(s == 422 for s in valid_get_answers):
            self.record(
                label,
                "refuses every request its schema calls valid",
                422,
                f"{len(valid_get_answers)} valid requests, all answered 422",
            )

    def sender(self, operation, mode, label, headers, until, valid_get_answers):
        """The Hypothesis test sending ``mode`` requests to ``operation`` until ``until``."""
        model = operation.definition.raw.get("x-anyuan-model")
        positive = mode is GenerationMode.POSITIVE

        @given(case=operation.as_strategy(generation_mode=mode), rows=st.booleans())
        def send(case, rows):
            if time.monotonic() > until:
                raise OutOfTime
            if positive:
                # the bearer token is the credential: a generated session cookie would make
                # every write a CSRF 403 (the negative requests keep theirs)
                (case.cookies or {}).pop("sessionid", None)
                if rows:
                    self.point_at_rows(case, model)
            status = self.send(label, case, headers)
            if positive and case.method.upper() == "GET":
                valid_get_answers.append(status)

        return send

    def point_at_rows(self, case, model):
        """Ids of existing rows in place of generated integers (see the module's doc)."""
        path = case.path_parameters or {}
        if model and "pk" in path:
            ids = self.ids.of([apps.get_model(model)])
            if ids:
                path["pk"] = self.rng.choice(ids)
        for container in (case.query, case.body):
            if not isinstance(container, dict):
                continue
            for name, value in container.items():
                ids = self.ids.for_name(name)
                if not ids:
                    continue
                if is_number(value):
                    container[name] = self.rng.choice(ids)
                elif isinstance(value, list) and value and all(map(is_number, value)):
                    container[name] = [self.rng.choice(ids) for _ in value]

    def send(self, label, case, headers) -> int | None:
        del self.server_errors[:]
        # A generated Host header tests Django's ALLOWED_HOSTS (a 400 page before any route,
        # the deployment's proxy's concern), not an operation of the API: it is dropped.
        if case.headers:
            for name in [n for n in case.headers if n.lower() == "host"]:
                del case.headers[name]
        try:
            with transaction.atomic():
                response = case.call(headers=headers)
                if response.status_code >= 500 or self.locked_out():
                    transaction.set_rollback(True)
        except DatabaseError as exc:  # the request left the transaction broken
            self.record(label, "a database error escaped the request", 500, repr(exc), case)
            return None
        status = response.status_code
        self.run.requests += 1
        self.run.statuses[f"{status // 100}xx"] += 1
        self.run.answers[label][status] += 1
        if 200 <= status < 300:
            self.run.accepted.add(label)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                details = failure.message
                if self.server_errors:
                    details += "\n" + self.server_errors[-1]
                self.record(label, failure.title, status, details, case)
        return status

    def locked_out(self) -> bool:
        row = (
            ApiToken.objects.filter(pk=self.token.pk, revoked=False, user__is_active=True)
            .values_list("user__role", "user__station", "user__enterprise", "user__person")
            .first()
        )
        return row != self.place

    def record(self, label, title, status, details, case=None):
        key = (label, title.strip().splitlines()[0], status)
        if key in self.run.failures:
            return
        if case is not None:
            with contextlib.suppress(Exception):  # a missing reproduction line hides nothing
                details += "\n" + case.as_curl_command(headers={"Authorization": "Bearer …"})
        self.run.failures[key] = details
