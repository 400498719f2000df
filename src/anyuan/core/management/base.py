"""The base of anyuan's management commands whose texts are translated.

``help`` (and arguments' ``help``) may be lazy translations (``gettext_lazy``): argparse
formats the description with a regular expression, which refuses a lazy string, so the
parser receives it as text, translated in the language active when ``--help`` runs.
"""

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        if parser.description is not None:
            parser.description = str(parser.description)
        return parser
