"""State changes of the registry that are more than create/update/delete.

Device tokens: a device authenticates to ingestion with ``Authorization: Bearer ayd_…``.
A token is stored only as its SHA-256 digest (and a short prefix to recognise it); the
plaintext is returned once, to be handed to the device, and never audited.
"""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from anyuan.core import audit
from anyuan.core.models import AuditAction
from anyuan.core.roles import CHANGE
from anyuan.registry.models import Device


def issue_device_token(actor, device: Device, *, remote_addr=None) -> str:
    """A fresh token for ``device`` (replacing its earlier one); returns the plaintext."""
    with transaction.atomic():
        locked = (
            Device.objects.restrict(actor, CHANGE).select_for_update().filter(pk=device.pk).first()
        )
        if locked is None:
            raise PermissionDenied(_("You may not issue a token for this device."))
        token = locked.new_token()
        locked.save(update_fields=["token_prefix", "token_digest"])
        audit.record(
            actor,
            AuditAction.TOKEN,
            locked,
            after={"token_prefix": locked.token_prefix},
            remote_addr=remote_addr,
        )
    device.token_prefix, device.token_digest = locked.token_prefix, locked.token_digest
    return token


def issue_device_tokens(actor, devices, *, remote_addr=None) -> dict[str, str]:
    """Fresh tokens for many devices at once: ``{serial: token}``, one audit record.

    Every device must be within the actor's reach for ``change``; otherwise nothing is
    issued."""
    with transaction.atomic():
        wanted = list(
            Device.objects.filter(pk__in=devices.values("pk")).select_for_update().order_by("pk")
        )
        allowed = set(
            Device.objects.restrict(actor, CHANGE)
            .filter(pk__in=[d.pk for d in wanted])
            .values_list("pk", flat=True)
        )
        if len(allowed) != len(wanted):
            raise PermissionDenied(_("You may not issue tokens for some of these devices."))
        tokens = {device.serial: device.new_token() for device in wanted}
        Device.objects.bulk_update(wanted, ["token_prefix", "token_digest"], batch_size=500)
        stations = set(
            Device.objects.filter(pk__in=[d.pk for d in wanted])
            .values_list("zone__park__station", flat=True)
            .distinct()
        )
        audit.record(
            actor,
            AuditAction.TOKEN,
            object_type=Device._meta.label_lower,
            object_repr=_("%(n)d devices") % {"n": len(wanted)},
            after={"devices": len(wanted)},
            remote_addr=remote_addr,
            station_id=next(iter(stations)) if len(stations) == 1 else None,
        )
    return tokens
