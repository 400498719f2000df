"""The ASGI application: device ingestion (``/api/v1/events/ingest/...``) is answered by a
lean route that does not pay Django's per-request cost; everything else goes to Django."""

import os
import warnings

# Static files (whitenoise) are served from sync file iterators, which Django's ASGI
# handler consumes in a thread and warns about on every file; that is expected here.
warnings.filterwarnings(
    "ignore", message="StreamingHttpResponse must consume synchronous iterators"
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anyuan.settings")

from anyuan.core import gc_tuning  # noqa: E402
from anyuan.events.asgi_ingest import application  # noqa: E402

gc_tuning.tune()  # everything is loaded: see anyuan.core.gc_tuning

__all__ = ["application"]
