"""The shared attempt counter and the client's address behind a trusted proxy."""

from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone

from anyuan.core import net, ratelimit
from anyuan.core.models import RateCounter

pytestmark = pytest.mark.django_db


def test_hit_counts_up_to_the_limit_then_refuses():
    assert [ratelimit.hit("k", 3, 60) for _ in range(5)] == [True, True, True, False, False]
    assert ratelimit.count("k", 60) == 5
    assert ratelimit.blocked("k", 3, 60)
    assert not ratelimit.blocked("other", 3, 60)


def test_an_expired_window_starts_again():
    for _ in range(4):
        ratelimit.hit("k", 3, 60)
    RateCounter.objects.filter(key="k").update(window_start=timezone.now() - timedelta(seconds=61))
    assert ratelimit.count("k", 60) == 0
    assert ratelimit.hit("k", 3, 60)
    assert ratelimit.count("k", 60) == 1


def test_reset_and_prune():
    ratelimit.hit("a", 3, 60)
    ratelimit.hit("b", 3, 60)
    ratelimit.reset("a")
    assert ratelimit.count("a", 60) == 0
    RateCounter.objects.filter(key="b").update(window_start=timezone.now() - timedelta(days=2))
    assert ratelimit.prune(86400) == 1


def _request(remote, forwarded=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_forwarded_for_is_ignored_without_a_trusted_proxy(settings):
    settings.ANYUAN_TRUSTED_PROXIES = []
    assert net.client_ip(_request("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_forwarded_for_from_a_trusted_proxy(settings):
    settings.ANYUAN_TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
    # the client forged the first entry; the proxies appended the real address last
    req = _request("127.0.0.1", "1.2.3.4, 198.51.100.7, 10.1.1.1")
    assert net.client_ip(req) == "198.51.100.7"
    # a direct connection from an untrusted address cannot choose its address
    assert net.client_ip(_request("203.0.113.9", "1.2.3.4")) == "203.0.113.9"
    # garbage in the header: the proxy's own address
    assert net.client_ip(_request("127.0.0.1", "not-an-ip")) == "127.0.0.1"
    assert net.client_ip(_request("")) is None
