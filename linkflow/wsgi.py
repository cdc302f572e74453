"""WSGI entry point, for serving the HTTP API from a WSGI server (gunicorn)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linkflow.settings")
application = get_wsgi_application()
