"""What the browser tests need to know about the demo park they run against, printed as
JSON. Run by the harness in a child process with the harness's environment (its own
``ANYUAN_VAR``), since the test process itself is connected to the test database:

    python -m anyuan.browser_tests.facts TOKENS_FILE
"""

import json
import os
import sys


def entry_device(devices, serials):
    """An active gate or door controller with a token that counts people in."""
    device = (
        devices.filter(
            active=True,
            serial__in=serials,
            kind__in=["gate", "access_controller"],
            direction__in=["in", "both"],
        )
        .select_related("zone__enterprise")
        .order_by("zone__enterprise", "zone", "serial")
        .first()
    )
    if device is None:
        raise SystemExit("facts: no entry device with a token in the demo park")
    zone = device.zone
    return {
        "serial": device.serial,
        "zone": {"id": zone.pk, "name": zone.name, "code": zone.code},
        "enterprise": {"id": zone.enterprise.pk, "name": zone.enterprise.name},
    }


def facts(tokens_file: str) -> dict:
    from anyuan.accounts.models import User
    from anyuan.registry.models import Device

    with open(tokens_file, encoding="utf-8") as f:
        serials = list(json.load(f))
    own = User.objects.get(username="enterprise_admin").enterprise
    devices = Device.objects.filter(zone__enterprise__isnull=False)
    return {
        # the enterprise administrator's enterprise, and another one of the same station
        "own": entry_device(devices.filter(zone__enterprise=own), serials),
        "other": entry_device(
            devices.filter(zone__enterprise__station=own.station).exclude(zone__enterprise=own),
            serials,
        ),
    }


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anyuan.settings")
    import django

    django.setup()
    json.dump(facts(sys.argv[1]), sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
