"""The ASGI application: device ingestion (``/api/v1/events/ingest/...``) is answered by a
lean route that does not pay Django's per-request cost; everything else goes to Django."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anyuan.settings")

from anyuan.events.asgi_ingest import application

__all__ = ["application"]
