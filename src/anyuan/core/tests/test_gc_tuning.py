import gc

import pytest

from anyuan.core import gc_tuning


@pytest.fixture
def collector():
    """The collector's settings as they were, back after the test."""
    before = gc.get_threshold()
    gc.unfreeze()  # importing anyuan.asgi may have tuned this process already
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_services_freeze_what_is_loaded_and_collect_the_young_less_often(collector, settings):
    settings.ANYUAN_GC_THRESHOLD = 40_000
    _gen0, older, oldest = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    assert gc_tuning.tune() is True
    assert gc.get_threshold() == (40_000, older, oldest)
    assert gc.get_freeze_count() > 1000  # modules, settings, caches: out of the collector's way
    assert gc.isenabled()  # cycles are still collected


def test_zero_keeps_pythons_defaults(collector, settings):
    settings.ANYUAN_GC_THRESHOLD = 0
    before = gc.get_threshold()
    assert gc_tuning.tune() is False
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
