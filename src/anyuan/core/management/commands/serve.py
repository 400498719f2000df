"""``anyuan serve``: the web app under uvicorn on HOST:PORT.

With ``--workers`` above 1 uvicorn binds the listening socket itself, without naming the
protocol (``socket.socket(family)``): the sockets it accepts then have ``proto`` 0, and
asyncio sets ``TCP_NODELAY`` only on sockets whose ``proto`` is ``IPPROTO_TCP``. Every
small reply then waits for the client's delayed ACK (about 40 ms: 1,000 single events/s
instead of 3,000). :func:`run` binds the socket with the protocol named, so every
worker's connections get ``TCP_NODELAY`` as with one worker.
"""

import os
import socket

import uvicorn
from django.core.management.base import BaseCommand

APP = "anyuan.asgi:application"


def _tcp(sock: socket.socket) -> socket.socket:
    """The same listening socket, with ``proto`` ``IPPROTO_TCP`` (inherited by the
    sockets it accepts, and kept when it is handed to a worker process)."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.proto:
        return sock
    tcp = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    tcp.set_inheritable(True)
    return tcp


class Config(uvicorn.Config):
    """uvicorn's configuration, binding the listening socket with ``IPPROTO_TCP``."""

    def bind_socket(self) -> socket.socket:
        return _tcp(super().bind_socket())


def run(app: str = APP, *, host: str, port: int, workers: int = 1, **options) -> None:
    """Serve ``app`` (an import string) like ``uvicorn.run``; several workers with
    ``TCP_NODELAY`` on every connection."""
    from uvicorn.supervisors import Multiprocess

    options = {"log_level": "warning", "access_log": False, **options}
    if workers <= 1:
        uvicorn.run(app, host=host, port=port, **options)
        return
    config = Config(app, host=host, port=port, workers=workers, **options)
    Multiprocess(config, sockets=[config.bind_socket()]).run()


class Command(BaseCommand):
    help = "Serve the web app with the ASGI server (uvicorn) on 127.0.0.1:PORT."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=1)

    def handle(self, *args, host, port, workers, **options):
        self.stdout.write(f"anyuan: serving on http://{host}:{port}/  (Ctrl+C stops)")
        run(APP, host=host, port=port, workers=workers)
