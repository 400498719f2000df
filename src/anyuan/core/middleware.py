from django.conf import settings
from django.utils import translation


class LanguageMiddleware:
    """Chinese unless the user chose otherwise (cookie or profile); the browser's
    Accept-Language is not followed, so a station's screens stay in one language."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        supported = {code for code, _ in settings.LANGUAGES}
        lang = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if lang not in supported:
            lang = settings.LANGUAGE_CODE
        translation.activate(lang)
        request.LANGUAGE_CODE = lang
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", lang)
        translation.deactivate()
        return response


class RejectNulMiddleware:
    """Refuse page query strings carrying NUL characters (a 400, not a database error):
    PostgreSQL text cannot hold them, and no honest client sends them. Form fields are
    covered by Django's own ProhibitNullCharactersValidator; the API answers with its own
    field-level 422."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from urllib.parse import unquote_plus

        from django.http import HttpResponseBadRequest
        from django.utils.translation import gettext as _

        if request.path.startswith("/api/"):
            return self.get_response(request)
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in unquote_plus(query) or "\x00" in request.path:
            return HttpResponseBadRequest(_("The request contains a NUL character."))
        return self.get_response(request)
