"""ASGI entry point of the web role: HTTP and WebSockets on one port.

HTTP goes to Django's WSGI handler on a thread pool (linkflow/core/wsgi_bridge.py) rather
than Django's ASGI handler, which runs every sync view on one shared thread per process:
there a sync webhook waiting for its execution held up every other request of the
process. Measured on this design's benchmarks, the pool also serves plain API calls
faster. WebSockets go to Channels.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linkflow.settings")
django_wsgi_app = get_wsgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402  (needs Django set up first)
from django.conf import settings  # noqa: E402

from executions.routing import websocket_application  # noqa: E402
from linkflow.core.gc_freeze import startup_freeze  # noqa: E402
from linkflow.core.wsgi_bridge import WSGIBridge  # noqa: E402

application = ProtocolTypeRouter(
    {
        # django-stubs types a WSGIHandler's result as HttpResponseBase, which declares no
        # __iter__; every response it returns is iterable bytes, as WSGI wants.
        "http": WSGIBridge(
            django_wsgi_app,  # type: ignore[arg-type]
            workers=settings.LINKFLOW_WEB_THREADS,
        ),
        # Session cookie, JWT or API key; a cookie socket opened by a page of another
        # origin is refused (executions/routing.py, CookieOriginValidator).
        "websocket": websocket_application(),
    }
)
# Last: everything above lives as long as the process (linkflow/core/gc_freeze.py).
startup_freeze()
