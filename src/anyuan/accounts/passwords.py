"""Password rules of our own, beside Django's validators (settings.AUTH_PASSWORD_VALIDATORS).

Django's ``UserAttributeSimilarityValidator`` compares the whole password with the user
name by a similarity ratio, so a password that pads the user name with enough other
characters (``wangwei2026-xxxxxxxxxx``) passes it. This one refuses any password that
contains the user name, or the user name with its digits and punctuation taken away, in
any case.
"""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

MIN_PART = 4  # shorter names (or name parts) are too common to refuse inside a password


def _letters(value: str) -> str:
    return re.sub(r"[\W\d_]+", "", value.casefold())


class NotTheUserNameValidator:
    def validate(self, password, user=None):
        username = (getattr(user, "username", "") or "").casefold()
        if not username or not password:
            return
        folded = password.casefold()
        candidates = {username, _letters(username)}
        if any(len(c) >= MIN_PART and c in folded for c in candidates) or (
            len(_letters(password)) >= MIN_PART and _letters(password) in _letters(username)
        ):
            raise ValidationError(
                _("The password must not contain the user name."),
                code="password_contains_username",
            )

    def get_help_text(self):
        return _("Your password must not contain your user name.")
