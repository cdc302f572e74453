"""WSGI entry point, for serving the HTTP API from a WSGI server (gunicorn)."""

import os

from django.core.wsgi import get_wsgi_application

from linkflow.core.gc_freeze import startup_freeze

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linkflow.settings")
application = get_wsgi_application()
startup_freeze()  # linkflow/core/gc_freeze.py
