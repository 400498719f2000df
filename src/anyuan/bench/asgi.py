"""What ``anyuan bench ingest`` serves: the real application plus one framework-free no-op.

``POST /bench/noop`` reads the request body and answers 204 without touching Django, the
database or anything else: the benchmark's limit of the server and client alone (uvicorn,
HTTP parsing, the event loop, the load client). Everything else, lifespan included, goes
to :data:`anyuan.asgi.application` unchanged, so production code knows nothing of this.
"""

from anyuan.asgi import application as anyuan_application

NOOP_PATH = "/bench/noop"
_NO_CONTENT = {"type": "http.response.start", "status": 204, "headers": []}
_EMPTY = {"type": "http.response.body", "body": b""}


async def application(scope, receive, send):
    if scope["type"] == "http" and scope.get("path") == NOOP_PATH and scope["method"] == "POST":
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            more = message.get("more_body", False)
        await send(_NO_CONTENT)
        await send(_EMPTY)
        return
    await anyuan_application(scope, receive, send)
