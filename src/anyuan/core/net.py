"""The address a request came from, behind the deployment's reverse proxy.

``REMOTE_ADDR`` is the proxy's address when anyuan runs behind nginx; the client's is the
right-most address of ``X-Forwarded-For`` that is not itself a trusted proxy. Only the
proxies listed in ``ANYUAN_TRUSTED_PROXIES`` are believed: a client cannot choose its own
address by sending the header directly (docs/operations.md, "Behind a proxy").
"""

import ipaddress

from django.conf import settings


def _parse(value: str):
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _networks():
    nets = []
    for item in settings.ANYUAN_TRUSTED_PROXIES:
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            continue
    return nets


def _trusted(address, nets) -> bool:
    return any(address in net for net in nets)


def client_ip(request) -> str | None:
    """The client's address: ``REMOTE_ADDR``, or, when that is a trusted proxy, the
    right-most untrusted address the proxies appended to ``X-Forwarded-For``."""
    remote = _parse(request.META.get("REMOTE_ADDR") or "")
    if remote is None:
        return None
    nets = _networks()
    if not nets or not _trusted(remote, nets):
        return str(remote)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for item in reversed(forwarded.split(",")):
        address = _parse(item)
        if address is None:
            break
        if not _trusted(address, nets):
            return str(address)
    return str(remote)
