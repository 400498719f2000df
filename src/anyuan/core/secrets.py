"""Secrets from the environment, or from a file the embedded default creates once."""

import base64
import logging
import os
import secrets
import sys
from pathlib import Path

log = logging.getLogger("anyuan.secrets")


def private_files() -> None:
    """Files this process creates are its owner's alone: mode 0600, directories 0700 (the
    SQLite database and its -wal/-shm, keys, uploads, exports). Every anyuan process
    calls it at start-up (``anyuan.settings``)."""
    os.umask(0o077)


def make_private(path: Path) -> None:
    """``chmod`` an existing file to 0600 (a directory to 0700), e.g. a database created
    before the umask was set; a file owned by someone else is left alone."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    if st.st_uid != os.geteuid():
        return
    mode = 0o700 if path.is_dir() else 0o600
    if st.st_mode & 0o777 != mode:
        os.chmod(path, mode)


def secret_from_env_or_file(env_name: str, path: Path, nbytes: int = 32) -> str:
    """Return the secret in ``env_name``, else the one kept in ``path``.

    The file is created on first use with mode 0600 (only the owner may read it), and the
    operator is told so on standard error.
    """
    value = os.environ.get(env_name)
    if value:
        return value
    path = Path(path)
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    value = base64.urlsafe_b64encode(secrets.token_bytes(nbytes)).decode()
    # Written whole to a private temporary file, then linked into place (never replacing):
    # processes that start at once (several workers, the first time) all end up with the
    # one key, and none reads a half-written file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(value + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process was first: use its key
            return path.read_text().strip()
    finally:
        tmp.unlink(missing_ok=True)
    print(
        f"anyuan: created {path} (mode 0600) because {env_name} is not set; "
        "keep it safe and back it up — without it the data it protects cannot be read.",
        file=sys.stderr,
    )
    return value
