"""``anyuan device_tokens --out FILE``: issue fresh device tokens, written as JSON
``{serial: token}`` into a file only its owner can read (mode 0600).

Issuing replaces a device's earlier token: a device still using the old one is refused
until it gets the new one. The tokens are never printed; the file is their only copy."""

import json
import os
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from anyuan.core.system import SYSTEM
from anyuan.registry.actions import issue_device_tokens
from anyuan.registry.importing.cli import acting_user
from anyuan.registry.models import Device


def open_private(path: Path, force: bool = False):
    """``path`` opened for writing, created with mode 0600 (replaced if ``force``)."""
    if force and path.exists():
        path.unlink()  # a fresh file: an earlier one may have had a wider mode
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "w", encoding="utf-8")


def write_private(path: Path, data: dict, force: bool = False) -> None:
    """Write ``data`` as JSON into ``path`` created with mode 0600."""
    with open_private(path, force) as f:
        json.dump(data, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")


class Command(BaseCommand):
    help = (
        "Issue fresh tokens for devices and write them as JSON {serial: token} into FILE "
        "(mode 0600). Replaces the devices' earlier tokens."
    )

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, metavar="FILE", help="where to write")
        parser.add_argument(
            "--serial", action="append", default=[], metavar="S", help="a device (repeatable)"
        )
        parser.add_argument("--station", metavar="CODE", help="the devices of one station")
        parser.add_argument("--force", action="store_true", help="overwrite FILE")
        parser.add_argument("--as", dest="as_user", metavar="USERNAME")

    def handle(self, *args, out, serial, station, force, as_user=None, **options):
        path = Path(out)
        if path.exists() and not force:
            raise CommandError(f"{path} exists; add --force to replace it")
        if not path.parent.is_dir():
            raise CommandError(f"{path.parent} is not a directory")
        actor = acting_user(as_user) or SYSTEM
        devices = Device.objects.all()
        if station:
            devices = devices.filter(zone__park__station__code=station)
        if serial:
            devices = devices.filter(serial__in=serial)
            missing = sorted(set(serial) - set(devices.values_list("serial", flat=True)))
            if missing:
                raise CommandError(f"no such device: {', '.join(missing)}")
        if not devices.exists():
            raise CommandError("no devices to issue tokens for")
        try:  # the file first: no tokens are replaced unless they can be written down
            f = open_private(path, force)
        except OSError as e:
            raise CommandError(f"cannot write {path}: {e.strerror or e}") from None
        with f:
            try:
                tokens = issue_device_tokens(actor, devices)
            except BaseException as e:
                f.close()
                path.unlink(missing_ok=True)
                if isinstance(e, PermissionDenied):
                    raise CommandError(str(e)) from None
                raise
            json.dump(tokens, f, ensure_ascii=False, indent=1, sort_keys=True)
            f.write("\n")
        self.stdout.write(f"{len(tokens)} device token(s) written to {path} (mode 0600)")
