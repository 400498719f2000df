"""No Django pages: the event stream (:mod:`anyuan.live.stream`) is served by the lean
ASGI layer in front of Django, and the browser side is ``static/live/live.js``."""
