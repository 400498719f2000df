"""The ``anyuan`` command: Django's management commands plus the operations
(``anyuan demo``, ``anyuan site`` — the whole site, supervised —, ``anyuan serve``,
``anyuan import KIND FILE``, ``anyuan simulate`` ...)."""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anyuan.settings")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv if argv is None else argv)
    argv[0] = "anyuan"
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
