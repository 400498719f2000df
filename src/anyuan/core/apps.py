from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "anyuan.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self):
        from anyuan.core import postgres

        connection_created.connect(postgres.set_up, dispatch_uid="anyuan.core.postgres")
