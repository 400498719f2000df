"""Bulk import of the park registry from CSV and XLSX (see docs/import-formats.md).

``import_file(kind, fileobj, actor=...)`` checks a whole file and then writes all of it
in one transaction, or nothing; ``import_directory(dir)`` does the same for every kind's
file in a directory. The formats are declared in :mod:`.kinds`, the engine is
:mod:`.engine`, cells are parsed by :mod:`.cells` and files read by :mod:`.reading`.
"""

from anyuan.registry.importing.engine import (
    Column,
    ImportResult,
    Kind,
    Problem,
    files_in,
    import_directory,
    import_file,
)
from anyuan.registry.importing.kinds import BY_MODEL, KINDS

__all__ = [
    "BY_MODEL",
    "KINDS",
    "Column",
    "ImportResult",
    "Kind",
    "Problem",
    "files_in",
    "import_directory",
    "import_file",
]
