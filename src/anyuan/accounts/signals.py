"""Lock-outs from repeated failed sign-ins are written to the audit log."""

from axes.signals import user_locked_out
from django.dispatch import receiver

from anyuan.core import audit
from anyuan.core.models import AuditAction


@receiver(user_locked_out)
def record_lockout(sender, request, username, ip_address, **kwargs):
    from anyuan.accounts.models import User

    user = User.objects.filter(username=username).first() if username else None
    audit.record(
        None,
        AuditAction.LOGIN_LOCKED,
        user,
        object_type="accounts.user",
        object_repr=(username or "")[:200],
        after={"username": username, "ip_address": ip_address},
        remote_addr=ip_address,
    )
