"""``anyuan trace``: trace the contacts of index people or a vehicle from the command line,
as a user (their scope and permissions, audited with the reason like a trace on the page).

    anyuan trace --as officer1 --person 12 --person 40 --reason "outbreak 2026-11 case 3"
                 [--plate 粤B12345] [--from 2026-11-02T00:00+08:00] [--to ...]
                 [--minutes 15] [--cumulative] [--hops 2] [--xlsx FILE] [--json] [--top 30]
"""

import datetime as dt
import json
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from anyuan.core.actions import ValidationFailed
from anyuan.tracing import actions, export
from anyuan.tracing.models import Rule


def _when(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not an ISO 8601 date and time: {value!r}") from None
    if parsed.tzinfo is None:
        raise CommandError(f"give a UTC offset (e.g. +08:00): {value!r}")
    return parsed


class Command(BaseCommand):
    help = "Trace close and secondary contacts of index people or a vehicle (audited)."

    def add_arguments(self, parser):
        parser.add_argument("--as", dest="username", required=True, help="the user who traces")
        parser.add_argument(
            "--person", type=int, action="append", default=[], help="index person id"
        )
        parser.add_argument("--plate", help="an index vehicle's plate")
        parser.add_argument(
            "--from", dest="start", help="window start (default: 14 days before the end)"
        )
        parser.add_argument("--to", dest="end", help="window end (default: now)")
        parser.add_argument("--minutes", type=int, default=15, help="minimum contact (default 15)")
        parser.add_argument(
            "--cumulative", action="store_true", help="N minutes within 24 hours in all"
        )
        parser.add_argument("--hops", type=int, default=2, help="1 to 3 (default 2)")
        parser.add_argument("--reason", required=True, help="why (audited)")
        parser.add_argument(
            "--xlsx", help="also write the XLSX export (needs the export permission)"
        )
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument("--top", type=int, default=30, help="contacts printed (default 30)")

    def handle(self, *args, **o):
        from anyuan.accounts.models import User

        user = User.objects.filter(username=o["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {o['username']!r}")
        data = {
            "people": o["person"],
            "plate": o["plate"],
            "start": _when(o["start"]) if o["start"] else None,
            "end": _when(o["end"]) if o["end"] else None,
            "minutes": o["minutes"],
            "rule": Rule.CUMULATIVE if o["cumulative"] else Rule.SINGLE,
            "hops": o["hops"],
            "reason": o["reason"],
        }
        try:
            run = actions.run_trace(user, data)
            if o["xlsx"]:
                actions.record_trace_export(user, run, "xlsx")
                Path(o["xlsx"]).write_bytes(export.workbook(run))
        except ValidationFailed as e:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in e.errors.items())
            ) from None
        except PermissionDenied as e:
            raise CommandError(str(e)) from None
        if o["json"]:
            self.stdout.write(
                json.dumps({"id": run.pk, **run.result}, ensure_ascii=False, default=str)
            )
            return
        r = run.result
        self.stdout.write(
            f"trace #{run.pk}: {', '.join(i['name'] for i in r['index'])} · "
            f"{run.window_start:%Y-%m-%d %H:%M} – {run.window_end:%Y-%m-%d %H:%M} · "
            f"{run.contacts} close, {run.secondary} secondary · {run.duration_ms} ms"
        )
        rows = [("hop", "name", "enterprise", "first exposure", "minutes", "met")]
        for c in r["contacts"][: max(o["top"], 0)]:
            rows.append(
                (str(c["hop"]), c["name"], c["enterprise"], c["first_exposure"][:16],
                 str(c["exposure_minutes"]), c["via"]["name"])
            )  # fmt: skip
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
        if o["xlsx"]:
            self.stdout.write(f"wrote {o['xlsx']}")
