"""Start-up's objects out of the cyclic garbage collector's sight, in every long-lived role.

A web or worker process holds about 160,000 objects once Django, the URL conf, the node
registry and the libraries are loaded, and nearly all of them live as long as the
process. The collector walked every one of them in each full collection: 40-55 ms on an
idle 2-core machine (more under load), holding the GIL, so a request that met one waited
that long. ``gc.freeze()`` moves them to the permanent generation, so collections walk
only what the requests and runs allocate. In the worker's main process it runs before the
pool forks, so the children's collections also leave the pages they share with it
untouched (copy on write).

Objects frozen are never collected as cyclic garbage; what start-up leaves unreachable is
collected first, and freed by reference counting as usual afterwards.
"""

import gc


def startup_freeze() -> None:
    """Collect what start-up left behind, then freeze everything still alive."""
    gc.collect()
    gc.freeze()
