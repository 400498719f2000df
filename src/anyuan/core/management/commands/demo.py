"""``anyuan demo``: everything a newcomer needs, on the embedded SQLite default.

Migrates, loads the demo park (the simulator's demo scale, imported through the
registry's own importer) once, creates one demo account per role, prints them, and
serves the web app. A second run reuses what exists and starts at once.
"""

import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from anyuan.core.roles import Role

DEMO_PASSWORD = "anyuan-demo-2026"  # noqa: S105 — a local demo's published password
DEMO_ACCOUNTS = [
    ("police_admin", Role.POLICE_ADMIN, "所长 · 派出所管理员"),
    ("police_officer", Role.POLICE_OFFICER, "社区民警"),
    ("enterprise_admin", Role.ENTERPRISE_ADMIN, "企业管理员"),
    ("enterprise_security", Role.ENTERPRISE_SECURITY, "企业安保"),
    ("informant", Role.INFORMANT, "车间信息员"),
    ("employee", Role.EMPLOYEE, "员工"),
]


class Command(BaseCommand):
    help = "Set up the demo park and accounts (once), then serve on http://127.0.0.1:PORT."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-serve", action="store_true", help="set up only, do not serve")
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, port, no_serve, seed, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("compiletranslations", verbosity=0)
        from anyuan.registry.models import Station

        if not Station.objects.exists():
            self.stdout.write("anyuan: loading the demo park (first run only) ...")
            self.load_park(seed)
        users = self.ensure_accounts()
        self.print_accounts(users, port)
        if not no_serve:
            call_command("serve", port=port)

    def load_park(self, seed):
        out = Path(settings.VAR_DIR) / "demo"
        if not (out / "registry").is_dir():
            tmp = Path(tempfile.mkdtemp(prefix="demo-", dir=settings.VAR_DIR))
            # the registry part; the live passage stream joins once ingestion exists
            call_command(
                "simulate",
                scale="demo",
                days=1,
                seed=seed,
                out=str(tmp),
                force=True,
                registry_only=True,
                no_progress=True,
                verbosity=0,
            )
            tmp.rename(out)
        call_command("import", "all", str(out / "registry"), verbosity=0)

    @transaction.atomic
    def ensure_accounts(self):
        from anyuan.accounts.models import User
        from anyuan.registry.models import Enterprise, Informant, Person, Station

        station = Station.objects.order_by("pk").first()
        enterprise = (
            Enterprise.objects.filter(station=station, zones__isnull=False).order_by("pk").first()
            or Enterprise.objects.filter(station=station).order_by("pk").first()
        )
        informant = (
            Informant.objects.filter(person__enterprise=enterprise).select_related("person").first()
        )
        employee = (
            Person.objects.filter(enterprise=enterprise, kind=Person.Kind.EMPLOYEE)
            .exclude(pk=getattr(informant, "person_id", None))
            .order_by("pk")
            .first()
        )
        places = {
            Role.POLICE_ADMIN: {"station": station},
            Role.POLICE_OFFICER: {"station": station},
            Role.ENTERPRISE_ADMIN: {"enterprise": enterprise},
            Role.ENTERPRISE_SECURITY: {"enterprise": enterprise},
            Role.INFORMANT: {"person": informant.person if informant else employee},
            Role.EMPLOYEE: {"person": employee},
        }
        users = []
        for username, role, title in DEMO_ACCOUNTS:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User(username=username, role=role, first_name=title, **places[role])
                user.set_password(DEMO_PASSWORD)
                user.full_clean(exclude=["password"])
                user.save()
            users.append(user)
        return users

    def print_accounts(self, users, port):
        self.stdout.write("")
        self.stdout.write(f"  anyuan 安园 demo — http://127.0.0.1:{port}/")
        self.stdout.write(f"  demo accounts (password for all: {DEMO_PASSWORD})")
        for user in users:
            place = user.enterprise or user.station or ""
            self.stdout.write(f"    {user.username:<22} {user.get_role_display()!s:<12} {place}")
        self.stdout.write("")
