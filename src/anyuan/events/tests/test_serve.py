"""``anyuan serve --workers N``: the listening socket names its protocol, so asyncio sets
``TCP_NODELAY`` on every connection of every worker (small replies are not held back
waiting for the client's delayed ACK)."""

import asyncio
import socket

from anyuan.core.management.commands.serve import _tcp


def _nodelay_of_accepted(listening: socket.socket) -> int:
    async def main():
        accepted = asyncio.get_running_loop().create_future()

        def connected(reader, writer):
            sock = writer.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(connected, sock=listening)
        async with server:
            port = listening.getsockname()[1]
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            value = await asyncio.wait_for(accepted, 30)
            writer.close()
            return value

    return asyncio.run(main())


def _bound() -> socket.socket:
    sock = socket.socket(socket.AF_INET)  # as uvicorn binds it for several workers
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def test_uvicorn_s_own_socket_gets_no_nodelay():
    """What ``--workers`` had: the protocol unnamed, Nagle's algorithm left on."""
    assert _nodelay_of_accepted(_bound()) == 0


def test_the_listening_socket_names_tcp_so_connections_get_nodelay():
    sock = _tcp(_bound())
    assert sock.proto == socket.IPPROTO_TCP and sock.get_inheritable()
    assert _nodelay_of_accepted(sock) != 0
