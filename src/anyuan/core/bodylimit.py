"""Request bodies bounded before they are read, in the ASGI layer in front of Django.

Django's ASGI handler reads the whole body into a temporary file (on disk past
``FILE_UPLOAD_MAX_MEMORY_SIZE``) before any middleware, authentication or view runs, so
without this an anonymous client could fill the disk. :class:`BodyLimit` wraps Django's
application (``events/asgi_ingest.py``; the lean ingestion route bounds its own bodies by
``ANYUAN_INGEST_MAX_BYTES``, in memory) and answers 413 before Django sees the request:

- a ``Content-Length`` above the limit is refused at once, without reading the body;
- a body without one (chunked) is counted while it streams and cut off past the limit.

Two classes of limit (settings.py):

- ``ANYUAN_REQUEST_MAX_BYTES`` for every request: forms and API calls are small, and a
  body within this limit stays in memory (``FILE_UPLOAD_MAX_MEMORY_SIZE`` is the same);
- ``ANYUAN_UPLOAD_MAX_BYTES`` (the import limit and room for the form around the file)
  only for a request that is *signed in* (a valid session or API token, checked before
  the body is read) to a view that accepts uploads: a page view whose class declares
  ``accepts_uploads = True``, or an API operation that takes a ``File`` parameter.
  Anonymous requests get the small limit whatever their path.
"""

import logging
import re
from importlib import import_module
from types import SimpleNamespace

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import aget_user
from django.http.cookie import parse_cookie
from django.urls import Resolver404, resolve
from django.utils import translation
from django.utils.translation import gettext as _

log = logging.getLogger("anyuan.http")


def header(scope, name: bytes) -> str | None:
    """The first value of one request header (``name`` in lower case)."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def language(scope) -> str:
    """The language cookie, as ``core.middleware.LanguageMiddleware`` reads it."""
    supported = {code for code, _name in settings.LANGUAGES}
    cookie = header(scope, b"cookie") or ""
    m = re.search(rf"(?:^|;)\s*{re.escape(settings.LANGUAGE_COOKIE_NAME)}=([^;]*)", cookie)
    lang = m.group(1).strip().strip('"') if m else ""
    return lang if lang in supported else settings.LANGUAGE_CODE


def path_info(scope) -> str:
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path


def content_length(scope) -> int | None:
    value = header(scope, b"content-length")
    if value is None:
        return None
    try:
        return max(int(value), 0)
    except ValueError:
        return None


# --- which requests may send more -----------------------------------------------------------


def _ninja_path_view(func):
    """The Ninja ``PathView`` behind a resolved API view (its operations), if any."""
    from ninja.operation import PathView

    owner = getattr(func, "__self__", None)
    if isinstance(owner, PathView):
        return owner
    for cell in getattr(func, "__closure__", None) or ():
        try:
            contents = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(contents, PathView):
            return contents
    return None


def _takes_files(operation) -> bool:
    return any(getattr(m, "__ninja_param_source__", None) == "file" for m in operation.models)


def accepts_uploads(path: str, method: str) -> bool:
    """Whether ``method path`` reaches a view that takes files: a class-based view with
    ``accepts_uploads = True``, or an API operation with a ``File`` parameter."""
    try:
        match = resolve(path)
    except Resolver404:
        return False
    except Exception:  # a path the resolver cannot read: not an upload
        log.warning("could not resolve %r for the body limit", path, exc_info=True)
        return False
    view_class = getattr(match.func, "view_class", None)
    if view_class is not None:
        return bool(getattr(view_class, "accepts_uploads", False))
    path_view = _ninja_path_view(match.func)
    if path_view is None:
        return False
    return any(method in op.methods and _takes_files(op) for op in path_view.operations)


async def signed_in(scope) -> bool:
    """A valid session (the same check as ``AuthenticationMiddleware``: the session's user
    exists, is active, and its password has not changed; and past the second factor where
    the role needs one) or a valid API token."""
    cookies = parse_cookie(header(scope, b"cookie") or "")
    key = cookies.get(settings.SESSION_COOKIE_NAME)
    if key:
        store = import_module(settings.SESSION_ENGINE).SessionStore(key)
        user = await aget_user(SimpleNamespace(session=store))
        if user.is_authenticated:
            # past the second factor too, where the user's role needs one: a password alone
            # does not earn the upload limit
            from anyuan.accounts.twofactor import session_passed

            return await sync_to_async(session_passed)(user, store)
    scheme, _sep, token = (header(scope, b"authorization") or "").strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        from anyuan.core.api import TokenAuth

        user = await sync_to_async(TokenAuth().authenticate)(SimpleNamespace(), token.strip())
        return user is not None
    return False


async def limit_for(scope) -> int:
    """The largest body this request may send (called only once it is past the small
    limit, so ordinary requests pay for no look-up)."""
    small = settings.ANYUAN_REQUEST_MAX_BYTES
    if not accepts_uploads(path_info(scope), scope.get("method", "")):
        return small
    try:
        if not await signed_in(scope):
            return small
    except Exception:  # the database is away: the small limit, and Django answers the rest
        log.warning("could not check the caller for the upload limit", exc_info=True)
        return small
    return max(settings.ANYUAN_UPLOAD_MAX_BYTES, small)


# --- the refusal ------------------------------------------------------------------------------


async def refuse(scope, send, limit: int) -> None:
    lang = language(scope)
    with translation.override(lang):
        message = _("The request body is too large (at most %(mb)s MB).") % {
            "mb": round(limit / 2**20, 1)
        }
    if path_info(scope).startswith("/api/"):
        import json

        body = json.dumps({"detail": message}, ensure_ascii=False).encode()
        content_type = b"application/json"
    else:
        body = message.encode()
        content_type = b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"content-language", lang.encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware: refuse a body past its limit before the application reads it."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = settings.ANYUAN_REQUEST_MAX_BYTES
        checked = False
        declared = content_length(scope)
        if declared is not None and declared > limit:
            limit, checked = await limit_for(scope), True
            if declared > limit:
                await refuse(scope, send, limit)
                return

        received = 0
        over = False
        started = False

        async def counted_receive():
            nonlocal received, over, limit, checked
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] != "http.request":
                return message
            received += len(message.get("body", b""))
            if received > limit and not checked:
                limit, checked = await limit_for(scope), True
            if received > limit:
                # the application sees the client leave (Django stops reading, stores
                # nothing and answers nothing); the 413 is sent below
                over = True
                return {"type": "http.disconnect"}
            return message

        async def tracked_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted_receive, tracked_send)
        if over and not started:
            await refuse(scope, send, limit)
