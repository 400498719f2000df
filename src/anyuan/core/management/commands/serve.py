import os

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the web app with the ASGI server (uvicorn) on 127.0.0.1:PORT."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=1)

    def handle(self, *args, host, port, workers, **options):
        import uvicorn

        self.stdout.write(f"anyuan: serving on http://{host}:{port}/  (Ctrl+C stops)")
        uvicorn.run(
            "anyuan.asgi:application",
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            access_log=False,
        )
