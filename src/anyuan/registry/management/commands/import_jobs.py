"""``anyuan import_jobs``: run the background imports that are waiting (normally a thread
of the web process runs each as soon as it is uploaded; this runs those a restarted
process left waiting)."""

from django.utils.translation import gettext_lazy

from anyuan.core.management.base import Command as TranslatedCommand
from anyuan.registry.importing import jobs


class Command(TranslatedCommand):
    help = gettext_lazy("Run the background imports that are waiting.")

    def handle(self, *args, **options):
        self.stdout.write(f"{jobs.run_waiting()} import job(s) run")
