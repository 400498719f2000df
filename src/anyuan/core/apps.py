from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.utils.translation import gettext_lazy as _


def _private_database(sender, connection, **kwargs):
    """The SQLite database and its -wal/-shm files are the owner's alone (0600), also when
    they were created before the umask was set (``core/secrets.private_files``)."""
    if connection.vendor != "sqlite":
        return
    name = str(connection.settings_dict.get("NAME") or "")
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    from anyuan.core.secrets import make_private

    for suffix in ("", "-wal", "-shm", "-journal"):
        make_private(name + suffix)


class CoreConfig(AppConfig):
    name = "anyuan.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self):
        connection_created.connect(_private_database, dispatch_uid="anyuan.private_database")
        from anyuan.core import postgres

        connection_created.connect(postgres.set_up, dispatch_uid="anyuan.core.postgres")
