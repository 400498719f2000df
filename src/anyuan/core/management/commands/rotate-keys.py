"""``anyuan rotate-keys``: re-encrypt every personal-data value under the newest key.

Put the new key first in ``ANYUAN_DATA_KEY`` (or the key file), keep the old ones after it,
restart the site, then run this; when it reports nothing unreadable, the old keys can be
removed (docs/operations.md). Batched, resumable (run it again after an interruption),
idempotent (values already under the newest key are not rewritten), audited once.

Digests are not recomputed: the look-up key does not rotate. It is derived from the
site's first key; before that key leaves the ring, put the line ``--lookup-line`` prints
in its place.
"""

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from anyuan.core import audit, keyrotation, personal
from anyuan.core.management.base import Command as TranslatedCommand
from anyuan.core.models import AuditAction
from anyuan.core.system import SYSTEM


class Command(TranslatedCommand):
    help = gettext_lazy("Re-encrypt all personal data under the newest key.")

    def add_arguments(self, parser):
        parser.add_argument(
            "--lookup-line",
            action="store_true",
            help=gettext_lazy("only print the look-up key's line for the key ring (a secret)"),
        )
        parser.add_argument(
            "--batch",
            type=int,
            default=keyrotation.BATCH,
            help=gettext_lazy("rows per transaction (default %(default)s)"),
        )

    def handle(self, *args, batch, lookup_line=False, **options):
        if batch < 1:
            raise CommandError(_("--batch must be at least 1"))
        personal._keys.cache_clear()  # the ring as configured now
        if lookup_line:
            self.stdout.write(personal.lookup_line(personal._keys().lookup))
            return
        newest = personal._keys().newest
        self.stdout.write(_("Re-encrypting personal data under key %s") % newest)
        outcomes = []
        for model in keyrotation.models_with_personal_data():

            def report(outcome, total):
                self.stdout.write(
                    _("%(model)s: %(done)d/%(total)d rows, %(rewritten)d values re-encrypted")
                    % {
                        "model": outcome.label,
                        "done": outcome.rows,
                        "total": total,
                        "rewritten": outcome.rewritten,
                    }
                )

            outcome = keyrotation.rewrite(model, batch=batch, on_batch=report)
            outcomes.append(outcome)
            for pk, column in outcome.unreadable:
                self.stderr.write(
                    _("%(model)s %(pk)s %(column)s: unreadable, left as it is")
                    % {"model": outcome.label, "pk": pk, "column": column}
                )
        rewritten = sum(o.rewritten for o in outcomes)
        unreadable = sum(len(o.unreadable) for o in outcomes)
        audit.record(
            SYSTEM,
            AuditAction.ROTATE_KEYS,
            object_type="core.personaldata",
            object_repr=_("%(n)d values re-encrypted under key %(key)s")
            % {"n": rewritten, "key": newest},
            after={
                "key": newest,
                "rewritten": rewritten,
                "unreadable": unreadable,
                "models": {o.label: o.as_dict() for o in outcomes},
            },
        )
        self.stdout.write(
            _("Done: %(rewritten)d values re-encrypted, %(unreadable)d unreadable.")
            % {"rewritten": rewritten, "unreadable": unreadable}
        )
        if unreadable:
            raise CommandError(
                _("Some values could not be read; keep the old keys until they are resolved."),
                returncode=1,
            )
