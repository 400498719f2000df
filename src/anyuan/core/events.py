"""Live events: published after the transaction that caused them commits.

In-process subscribers for now (the live push of a later module subscribes here); a
message broker can take its place without touching the callers.
"""

import logging
from collections import defaultdict
from collections.abc import Callable

from django.db import transaction

log = logging.getLogger("anyuan.events")
_subscribers: dict[str, list[Callable[[str, dict], None]]] = defaultdict(list)


def subscribe(topic: str, handler: Callable[[str, dict], None]) -> None:
    _subscribers[topic].append(handler)


def unsubscribe(topic: str, handler: Callable[[str, dict], None]) -> None:
    if handler in _subscribers[topic]:
        _subscribers[topic].remove(handler)


def _deliver(topic: str, payload: dict) -> None:
    for handler in list(_subscribers[topic]) + list(_subscribers["*"]):
        try:
            handler(topic, payload)
        except Exception:  # a failing subscriber must not break the others
            log.exception("live event handler failed for %s", topic)


def publish_on_commit(topic: str, payload: dict) -> None:
    transaction.on_commit(lambda: _deliver(topic, payload))
