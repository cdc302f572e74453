"""`make run`: migrate, ensure the admin user, and serve LinkFlow on one port.

Embedded (no REDIS_URL): the worker and the scheduler run inside this process.
Distributed: this is only the web role; run the worker and beat roles beside it.
"""

import os
import threading
import time

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from linkflow.accounts.management.commands.ensure_admin import admin_notice
from linkflow.accounts.services import admin_ensure


class Command(BaseCommand):
    help = "Serve LinkFlow (HTTP and WebSocket); embedded mode also runs worker and scheduler."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args: object, host: str, port: int, **options: object) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        admin = admin_ensure(
            email=settings.LINKFLOW_ADMIN_EMAIL, password=settings.LINKFLOW_ADMIN_PASSWORD
        )
        if settings.EMBEDDED:
            from linkflow.embedded import start_scheduler, start_worker

            start_worker()
            start_scheduler()
        config = uvicorn.Config(
            "linkflow.asgi:application",
            host=host,
            port=port,
            log_level=settings.LOG_LEVEL.lower(),
            # A line per request, like Celery's per task, only at DEBUG: the Procfile's web
            # role has none either, and writing it took about a tenth of this process's
            # CPU under load (bench/RESULTS.md, session 7).
            access_log=settings.LOG_LEVEL == "DEBUG",
            # uvicorn would trust X-Forwarded-For from 127.0.0.1 by default; only the
            # proxies the operator names may say who the client is (core/client_ip.py).
            forwarded_allow_ips=list(settings.LINKFLOW_TRUSTED_PROXIES),
        )
        server = uvicorn.Server(config)
        # The admin notice (a generated password above all) comes after the server's own
        # start-up lines, so it is the last thing on the screen, not scrolled away.
        notice = f"{admin_notice(admin)}\nLinkFlow at http://{host}:{port}/"
        threading.Thread(target=self._announce, args=(server, notice), daemon=True).start()
        server.run()

    def _announce(self, server: uvicorn.Server, notice: str) -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            self.stdout.write(self.style.SUCCESS(notice))
