"""Device tokens: issued by an action (one audit record, never the token in it), stored
hashed, written by ``anyuan device_tokens`` into a file only its owner can read."""

import json
import stat

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError

from anyuan.core.models import AuditAction, AuditEntry
from anyuan.core.roles import Role
from anyuan.core.system import SYSTEM
from anyuan.events.actions import authenticate
from anyuan.registry.actions import issue_device_token, issue_device_tokens
from anyuan.registry.models import Device


def audit_text(entry) -> str:
    return json.dumps([entry.before, entry.after, entry.object_repr, entry.reason])


@pytest.mark.django_db
def test_one_token_is_stored_hashed_and_audited_without_it(world):
    device = world.own.device
    token = issue_device_token(SYSTEM, device)
    device.refresh_from_db()
    assert token.startswith("ayd_") and token not in (device.token_digest, device.token_prefix)
    assert device.token_digest == Device.hash_token(token)
    assert authenticate(token).serial == device.serial
    entry = AuditEntry.objects.filter(action=AuditAction.TOKEN).latest("pk")
    assert entry.object_id == str(device.pk)
    assert token not in audit_text(entry) and device.token_digest not in audit_text(entry)


@pytest.mark.django_db
def test_only_within_reach(world):
    admin = world.users[Role.POLICE_ADMIN]
    foreign = world.foreign.device
    with pytest.raises(PermissionDenied):
        issue_device_token(admin, foreign)
    with pytest.raises(PermissionDenied):
        issue_device_tokens(admin, Device.objects.all())
    foreign.refresh_from_db()
    assert foreign.token_digest == ""


@pytest.mark.django_db
def test_the_command_writes_a_private_file_and_one_audit_record(world, tmp_path):
    out = tmp_path / "tokens.json"
    before = AuditEntry.objects.count()
    call_command("device_tokens", out=str(out), verbosity=0)
    tokens = json.loads(out.read_text())
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert set(tokens) == set(Device.objects.values_list("serial", flat=True))
    for serial, token in tokens.items():
        assert Device.objects.get(serial=serial).token_digest == Device.hash_token(token)
    assert AuditEntry.objects.count() == before + 1
    entry = AuditEntry.objects.latest("pk")
    assert entry.action == AuditAction.TOKEN and entry.after == {"devices": len(tokens)}
    assert not any(token in audit_text(entry) for token in tokens.values())
    # no overwriting by accident; --serial picks devices
    with pytest.raises(CommandError, match="--force"):
        call_command("device_tokens", out=str(out), verbosity=0)
    serial = world.own.device.serial
    call_command("device_tokens", out=str(out), serial=[serial], force=True, verbosity=0)
    assert list(json.loads(out.read_text())) == [serial]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with pytest.raises(CommandError, match="no such device"):
        call_command("device_tokens", out=str(tmp_path / "x.json"), serial=["NOPE"])
    assert not (tmp_path / "x.json").exists()
