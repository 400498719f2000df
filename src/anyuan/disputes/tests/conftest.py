import pytest
from django.utils.functional import empty


@pytest.fixture(autouse=True)
def case_files_dir(settings, tmp_path):
    """Case files go to a temporary directory, never to var/."""
    from anyuan.disputes.models import case_files

    settings.ANYUAN_DISPUTE_FILES = tmp_path / "files"
    case_files._wrapped = empty
    yield settings.ANYUAN_DISPUTE_FILES
    case_files._wrapped = empty


@pytest.fixture(autouse=True)
def clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
