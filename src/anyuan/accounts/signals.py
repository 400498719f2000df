"""Lock-outs from repeated failed sign-ins are written to the audit log, once per lock."""

from axes.signals import user_locked_out
from django.dispatch import receiver

from anyuan.core import audit
from anyuan.core.models import AuditAction


@receiver(user_locked_out)
def record_lockout(sender, request, username, ip_address, **kwargs):
    from axes.handlers.proxy import AxesProxyHandler

    from anyuan.accounts.models import User

    if getattr(request, "axes_failures_since_start", None) is None:
        return  # a knock on a lock already recorded (axes refused it before counting)
    handler = AxesProxyHandler.get_implementation()
    credentials = getattr(request, "axes_credentials", None) or {"username": username}
    locked_by = handler.locked_by(request, credentials) if hasattr(handler, "locked_by") else []
    user = User.objects.filter(username=username).first() if username else None
    audit.record(
        None,
        AuditAction.LOGIN_LOCKED,
        user,
        object_type="accounts.user",
        object_repr=(username or "")[:200],
        after={"username": username, "ip_address": ip_address, "locked_by": locked_by},
        remote_addr=ip_address,
    )
