"""The ``place`` of the import tests (two stations, enterprises, users), for every module
of the registry's tests."""

from anyuan.registry.tests.test_importing import place  # noqa: F401
