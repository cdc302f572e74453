"""The Celery application shared by the worker, the beat and the embedded mode."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linkflow.settings")

app = Celery("linkflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
