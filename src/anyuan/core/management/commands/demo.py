"""``anyuan demo``: everything a newcomer needs, on the embedded SQLite default.

Migrates, loads the demo park (the simulator's demo scale, imported through the
registry's own importer) once, creates one demo account per role (with an authenticator
key for each account that signs in with a second factor, kept in
``var/demo/totp-secrets.json``, mode 0600), prints them, issues
the demo devices' tokens (once, kept in ``var/demo/device-tokens.json``, mode 0600), and
runs the whole site as ``anyuan site`` does — the web server, the processor turning the
passages into presence, occupancy and alerts, the scheduler (alert escalation, dispute
time limits, pruning), each restarted if it dies (logs in ``var/demo/NAME.log``) — while the simulator plays a
week of park life into it at 60× speed (``simulate --live``, ``var/demo/live.log``;
``--no-live`` leaves it out). Ctrl+C stops everything. A second run reuses what exists
and starts at once.
"""

import json
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from anyuan.core.roles import Role
from anyuan.core.supervisor import ON_FAILURE, Service, anyuan

DEMO_PASSWORD = "anyuan-demo-2026"  # noqa: S105 — a local demo's published password
DEMO_ACCOUNTS = [
    ("police_admin", Role.POLICE_ADMIN, "所长 · 派出所管理员"),
    ("police_officer", Role.POLICE_OFFICER, "社区民警"),
    ("enterprise_admin", Role.ENTERPRISE_ADMIN, "企业管理员"),
    ("enterprise_security", Role.ENTERPRISE_SECURITY, "企业安保"),
    ("informant", Role.INFORMANT, "车间信息员"),
    ("employee", Role.EMPLOYEE, "员工"),
    ("partner", Role.PARTNER, "司法所 · 人民调解员"),
]


LIVE_DAYS = 7


class Command(BaseCommand):
    help = "Set up the demo park and accounts (once), then serve on http://127.0.0.1:PORT."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-serve", action="store_true", help="set up only, do not serve")
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument(
            "--no-live", action="store_true", help="serve without the simulated live stream"
        )

    def handle(self, *args, port, no_serve, seed, no_live=False, **options):
        # the catalogues first, before anything is translated (the accounts, the park);
        # a catalogue compiled now is read again by this process too
        call_command("compiletranslations", verbosity=0)
        call_command("migrate", interactive=False, verbosity=0)
        from anyuan.registry.models import Station

        if not Station.objects.exists():
            self.stdout.write("anyuan: loading the demo park (first run only) ...")
            self.load_park(seed)
        users = self.ensure_accounts()
        secrets = self.ensure_authenticators(users)
        from anyuan.simulator.cases import add_cases  # disputes and incidents, first run only

        add_cases(seed=seed)
        tokens = self.ensure_device_tokens()
        self.print_accounts(users, port, secrets)
        if no_serve:
            return
        # the whole site, supervised (``anyuan site``): the web server's output here, the
        # others' in var/demo/NAME.log; and beside it the simulator, started again only
        # if it fails (it ends after LIVE_DAYS simulated days)
        from anyuan.core.management.commands.site import run, site_services

        demo_logs = Path(settings.VAR_DIR) / "demo"
        services = site_services(port=port, log_dir=demo_logs, web_log=False)
        if not no_live:
            services.append(self.live_service(port, seed, tokens, demo_logs / "live.log"))
        run(services, out=self.stdout)

    def ensure_device_tokens(self) -> Path:
        """The demo devices' tokens, issued once; a later run reuses them."""
        from anyuan.core.system import SYSTEM
        from anyuan.registry.actions import issue_device_tokens
        from anyuan.registry.management.commands.device_tokens import write_private
        from anyuan.registry.models import Device

        path = Path(settings.VAR_DIR) / "demo" / "device-tokens.json"
        try:
            with open(path, encoding="utf-8") as f:
                known = json.load(f)
            digests = dict(Device.objects.values_list("serial", "token_digest"))
            if (
                isinstance(known, dict)
                and known
                and all(
                    digests.get(serial) == Device.hash_token(token)
                    for serial, token in known.items()
                )
            ):
                return path
        except (OSError, ValueError):
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        devices = Device.objects.filter(active=True)
        write_private(path, issue_device_tokens(SYSTEM, devices), force=True)
        return path

    def live_service(self, port: int, seed: int, tokens: Path, log: Path) -> Service:
        """The simulator, sending into the server the site starts (it waits for it)."""
        argv = anyuan(
            "simulate", "--scale", "demo",
            "--live", f"http://127.0.0.1:{port}", "--speed", "60", "--tokens", str(tokens),
            "--days", str(LIVE_DAYS), "--seed", str(seed), "--wait", "120",
        )  # fmt: skip
        return Service("live", argv, ON_FAILURE, log)

    def load_park(self, seed):
        out = Path(settings.VAR_DIR) / "demo"
        if not (out / "registry").is_dir():
            tmp = Path(tempfile.mkdtemp(prefix="demo-", dir=settings.VAR_DIR))
            # the registry of the live stream's days (the visitors of each day)
            call_command(
                "simulate",
                scale="demo",
                days=LIVE_DAYS + 1,
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
            Role.PARTNER: {"station": station},
        }
        users = []
        for username, role, title in DEMO_ACCOUNTS:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User(username=username, role=role, first_name=title, **places[role])
                validate_password(DEMO_PASSWORD, user)  # the rules every password meets
                user.set_password(DEMO_PASSWORD)
                user.full_clean(exclude=["password"])
                user.save()
            users.append(user)
        return users

    def ensure_authenticators(self, users) -> dict[str, str]:
        """The demo accounts that sign in with a second factor get an authenticator (a
        TOTP key) once; their keys are kept in ``var/demo/totp-secrets.json`` (mode 0600)
        and printed, so that a person adds them to an authenticator app and the browser
        tests compute the codes. An account whose two-factor sign-in a police administrator
        reset gets a new key at the next ``anyuan demo``."""
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from anyuan.accounts import twofactor
        from anyuan.registry.management.commands.device_tokens import write_private

        secrets = {}
        for user in users:
            if not twofactor.required(user):
                continue
            device = twofactor.authenticator(user)
            if device is None:
                device = TOTPDevice.objects.create(
                    user=user, name=twofactor.AUTHENTICATOR, confirmed=True
                )
            secrets[user.username] = twofactor.secret(device).replace(" ", "")
        path = Path(settings.VAR_DIR) / "demo" / "totp-secrets.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private(path, secrets, force=True)
        return secrets

    def print_accounts(self, users, port, secrets=None):
        self.stdout.write("")
        self.stdout.write(f"  anyuan 安园 demo — http://127.0.0.1:{port}/")
        self.stdout.write(
            f"  smart dashboard 智慧看板: http://127.0.0.1:{port}/dashboard/"
            f"  (wall screen: http://127.0.0.1:{port}/dashboard/?wall=1)"
        )
        self.stdout.write(f"  demo accounts (password for all: {DEMO_PASSWORD})")
        for user in users:
            place = user.enterprise or user.station or ""
            self.stdout.write(f"    {user.username:<22} {user.get_role_display()!s:<12} {place}")
        if secrets:
            self.stdout.write(
                "  two-factor sign-in 双因素登录: add these keys to an authenticator app"
                " (time-based, 6 digits, 30 s) and enter its code after the password"
            )
            for username, key in secrets.items():
                self.stdout.write(f"    {username:<22} {key}")
        self.stdout.write("")
