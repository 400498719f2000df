"""No API operations: live messages reach clients through the event stream
(``GET /live/events``, :mod:`anyuan.live.stream`), which accepts API tokens too."""
