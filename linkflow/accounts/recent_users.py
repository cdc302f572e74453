"""The user a valid JWT names, through a short per-process cache.

Every API call signed with a JWT loaded its user by id: a query compiled by the ORM and a
model built, about a sixth of the web process's CPU for ``POST .../execute``. Each process
keeps an active user's row values for ``USER_CACHE_SECONDS`` and builds a fresh instance
from them per request, so no two requests share an instance (a view may set attributes
on ``request.user``).

Freshness: any save or delete of a user in this process forgets every entry at once and
again when its transaction commits, so a user deactivated here is refused by the next
request here. Another process sees the change within ``USER_CACHE_SECONDS``: the same
window the webhook trigger cache allows (workflows/webhook_lookup.py), and far shorter
than the access token's own lifetime, which already outlives a deactivation. A refusal
is never cached: ``load`` (simplejwt's lookup) raises for an unknown or inactive user, so
only a user it let in is kept, and a refused one is looked up again on the next request.
"""

import uuid
from collections.abc import Callable
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_delete, post_save

from linkflow.core.recent_rows import RecentRows

from .models import User

USER_CACHE_SECONDS = 2.0
_NAMES = tuple(f.attname for f in User._meta.concrete_fields)

# Only immutable values (str, UUID, bool, datetime): safe to share.
recent = RecentRows[tuple[Any, ...]](USER_CACHE_SECONDS)


def user_cached(*, user_id: uuid.UUID, load: Callable[[], User]) -> User:
    """The user ``user_id``: from the cache while fresh, else ``load()`` (which raises for
    a user it refuses, and is then not cached). A new instance on every call."""
    values = recent.get(user_id)
    if values is not None:
        return User.from_db(DEFAULT_DB_ALIAS, _NAMES, values)
    generation = recent.generation()
    user = load()
    recent.put(user_id, tuple(getattr(user, name) for name in _NAMES), generation=generation)
    return user


def _changed(**_kwargs: Any) -> None:
    recent.forget()


# Receivers, not calls in each service: the admin, the services and cascading deletes all
# write users. No code updates users in bulk (a queryset update sends no signal).
post_save.connect(_changed, sender=User, dispatch_uid="user-cache-save")
post_delete.connect(_changed, sender=User, dispatch_uid="user-cache-delete")
