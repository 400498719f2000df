"""Helpers of the disputes tests."""

import datetime as dt

from django.core.files.uploadedfile import SimpleUploadedFile

PDF = b"%PDF-1.4\n% test agreement\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
AT = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def pdf(name="agreement.pdf", content=PDF):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def png(name="photo.png"):
    return SimpleUploadedFile(name, PNG, content_type="image/png")


_seq = iter(range(1, 10**6))


def make_case(world, *, state="reported", tier=1, enterprise=None, type="fight", at=AT, **kw):
    """A case of the world's own enterprise (or ``enterprise``) in ``state``, directly."""
    from anyuan.disputes.models import Case

    enterprise = enterprise or world.own.enterprise
    return Case.objects.create(
        number=f"T-{next(_seq)}",
        station=enterprise.station,
        enterprise=enterprise,
        grid=enterprise.grid,
        type=type,
        summary="测试纠纷",
        reported_at=at,
        tier=tier,
        state=state,
        **kw,
    )
