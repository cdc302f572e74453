"""Who is asking: the user, what their credential confines them to, and the roles read so far.

Authentication builds one ``Caller`` per request (a session, a JWT or OAuth2 token, an API
key, an operator acting from the console) and the views hand it to the selectors and
services that decide access. Everything that narrows or widens what the user may do for
this request lives here, never on the ``User`` instance: two requests by the same user
object with different keys stay apart, and nothing one request learnt leaks into the next.

A bare ``User`` is still accepted where a caller is expected (tasks and tests act for a
user loaded from the database); it acts with its full membership and a role cache of its
own for that one call.
"""

from dataclasses import dataclass, field
from typing import TypeAlias, overload

from .models import ApiKey, Role, User


class RoleCache:
    """Roles looked up during one request, so the role read while loading an object also
    answers the permission check that follows (one query, not two). ``None`` records an
    outsider, which is as worth remembering as a role."""

    __slots__ = ("_roles",)

    def __init__(self, roles: dict[str, str | None] | None = None) -> None:
        self._roles: dict[str, str | None] = dict(roles or {})

    def knows(self, workspace_id: object) -> bool:
        return str(workspace_id) in self._roles

    def role(self, workspace_id: object) -> str | None:
        return self._roles.get(str(workspace_id))

    def remember(self, *, workspace_id: object, role: str | None) -> None:
        self._roles[str(workspace_id)] = role

    def copy(self) -> "RoleCache":
        return RoleCache(self._roles)


@dataclass(frozen=True, slots=True, eq=False)
class Caller:
    """The user a request acts for and the limits of its credential.

    ``confined_to`` is the one workspace an API key works in (None: every workspace the
    user belongs to); ``scopes`` are the delegated credential's scopes (None: a person
    signed in, limited by role alone). ``roles`` is this request's cache, not the user's.
    """

    user: User
    confined_to: str | None = None
    scopes: frozenset[str] | None = None
    roles: RoleCache = field(default_factory=RoleCache, repr=False)

    @classmethod
    def person(cls, user: User, *, scopes: frozenset[str] | None = None) -> "Caller":
        """A signed-in person (session or JWT), or an OAuth2 token's user within ``scopes``."""
        return cls(user=user, scopes=scopes)

    @classmethod
    def for_api_key(cls, key: ApiKey) -> "Caller":
        """The key's creator, inside the key's workspace only, within the key's scopes.

        The creator's role that ``api_key_check`` annotated on the key is kept, so the first
        permission check costs no query; a key loaded some other way has its role read
        when it is first needed.
        """
        creator_role: str | None = getattr(key, "creator_role", None)
        roles = RoleCache()
        if creator_role is not None:
            roles.remember(workspace_id=key.workspace_id, role=creator_role)
        return cls(
            user=key.created_by,
            confined_to=str(key.workspace_id),
            scopes=frozenset(key.scopes),
            roles=roles,
        )

    def acting_as_owner_in(self, workspace_id: object) -> "Caller":
        """A new caller that holds the owner role in ``workspace_id`` (an operator using the
        console, who is usually no member there). This caller is left as it was, so the
        grant ends with the object it was made for."""
        roles = self.roles.copy()
        roles.remember(workspace_id=workspace_id, role=Role.OWNER)
        return Caller(user=self.user, confined_to=self.confined_to, scopes=self.scopes, roles=roles)

    def may_enter(self, workspace_id: object) -> bool:
        """False for a workspace outside the caller's confinement (whatever its membership)."""
        return self.confined_to is None or str(workspace_id) == self.confined_to


# What the access checks take: the request's caller, or a user acting on its own.
Actor: TypeAlias = User | Caller


def as_caller(actor: Actor) -> Caller:
    """``actor`` itself, or a fresh, unconfined caller for a bare user."""
    return actor if isinstance(actor, Caller) else Caller.person(actor)


@overload
def user_of(actor: Actor) -> User: ...
@overload
def user_of(actor: Actor | None) -> User | None: ...
def user_of(actor: Actor | None) -> User | None:
    """The user row an actor stands for (what ``created_by`` and audit entries name);
    None for the system acting (a trigger, a task with no person behind it)."""
    return actor.user if isinstance(actor, Caller) else actor
