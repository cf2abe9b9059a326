"""Authorization as data: who may do what, in one place.

REST routes declare their rule through the dependencies in ``mdreader.api.deps`` and the
WebSocket asks ``can`` for the same subjects, so every entry point obeys this table. A caller
who is not a member of the workspace gets 404 (it must not learn the resource exists); a
member whose role is too low gets 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from mdreader.errors import AppError


class Role(IntEnum):
    VIEWER = 1
    EDITOR = 2
    ADMIN = 3
    OWNER = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls[value.upper()]
        except KeyError:
            raise AppError(
                422, "The role must be one of owner, admin, editor or viewer.", "invalid_role"
            ) from None


class Action(StrEnum):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    RESTORE = "restore"
    RESOLVE = "resolve"  # close a comment thread, or reopen it


class Subject(StrEnum):
    WORKSPACE = "workspace"
    MEMBER = "member"
    INVITATION = "invitation"
    DOCUMENT = "document"
    VERSION = "version"
    SHARE = "share"
    FILE = "file"
    TRASH = "trash"
    SEARCH = "search"
    TRANSFER = "transfer"  # import and export
    WEBHOOK = "webhook"
    AUDIT = "audit"
    COMMENT = "comment"


class Scope(StrEnum):
    """What a personal access token may do, within what its user's role allows."""

    READ = "read"  # read actions only
    WRITE = "write"  # whatever the role allows


def token_allows(scope: Scope | None, action: Action) -> bool:
    """A session (scope None) and a read-write token may do what the role allows; a read
    token only reads."""
    return scope is None or scope == Scope.WRITE or action == Action.READ


class Ability(StrEnum):
    """What a workspace may grant a role below a rule's ``min_role``."""

    # Viewers may comment (open threads, reply, resolve) where the workspace says so.
    COMMENTER = "commenter"


@dataclass(frozen=True, slots=True)
class Rule:
    subject: Subject
    action: Action
    # None: no role is enough by itself (only ``self_allowed`` or ``ability`` lets one in).
    min_role: Role | None
    # The caller may act on their own membership whatever their role (leaving a workspace).
    self_allowed: bool = False
    # A member below ``min_role`` holding this ability (granted by the workspace) may too.
    ability: Ability | None = None


RULES: dict[tuple[Subject, Action], Rule] = {}


def allow(
    action: Action,
    subject: Subject,
    min_role: Role | None,
    *,
    self_allowed: bool = False,
    ability: Ability | None = None,
) -> None:
    RULES[(subject, action)] = Rule(subject, action, min_role, self_allowed, ability)


allow(Action.READ, Subject.WORKSPACE, Role.VIEWER)
allow(Action.UPDATE, Subject.WORKSPACE, Role.ADMIN)
allow(Action.DELETE, Subject.WORKSPACE, Role.OWNER)

allow(Action.READ, Subject.MEMBER, Role.VIEWER)
allow(Action.CREATE, Subject.MEMBER, Role.ADMIN)
allow(Action.UPDATE, Subject.MEMBER, Role.ADMIN)
allow(Action.DELETE, Subject.MEMBER, Role.ADMIN, self_allowed=True)

allow(Action.READ, Subject.INVITATION, Role.ADMIN)
allow(Action.DELETE, Subject.INVITATION, Role.ADMIN)

allow(Action.READ, Subject.DOCUMENT, Role.VIEWER)
allow(Action.CREATE, Subject.DOCUMENT, Role.EDITOR)
allow(Action.UPDATE, Subject.DOCUMENT, Role.EDITOR)
allow(Action.DELETE, Subject.DOCUMENT, Role.EDITOR)
allow(Action.RESTORE, Subject.DOCUMENT, Role.EDITOR)
allow(Action.READ, Subject.TRASH, Role.VIEWER)
allow(Action.DELETE, Subject.TRASH, Role.ADMIN)  # delete a trashed document for good

allow(Action.READ, Subject.VERSION, Role.VIEWER)
allow(Action.CREATE, Subject.VERSION, Role.EDITOR)
allow(Action.RESTORE, Subject.VERSION, Role.EDITOR)

# As in Outline: every member sees a document's share links, editors make them, and a link
# is revoked by whoever made it or by an admin.
allow(Action.READ, Subject.SHARE, Role.VIEWER)
allow(Action.CREATE, Subject.SHARE, Role.EDITOR)
allow(Action.DELETE, Subject.SHARE, Role.ADMIN, self_allowed=True)

allow(Action.READ, Subject.FILE, Role.VIEWER)
allow(Action.CREATE, Subject.FILE, Role.EDITOR)
allow(Action.DELETE, Subject.FILE, Role.EDITOR)

allow(Action.READ, Subject.SEARCH, Role.VIEWER)
allow(Action.READ, Subject.TRANSFER, Role.VIEWER)  # export: anyone who may read everything
allow(Action.CREATE, Subject.TRANSFER, Role.EDITOR)  # import

# Comments: every member reads them; editors open threads, reply and resolve, and so do
# viewers where the workspace grants them ``commenter``. One edits only one's own comment;
# one deletes one's own, and admins delete anyone's (moderation).
allow(Action.READ, Subject.COMMENT, Role.VIEWER)
allow(Action.CREATE, Subject.COMMENT, Role.EDITOR, ability=Ability.COMMENTER)
allow(Action.RESOLVE, Subject.COMMENT, Role.EDITOR, ability=Ability.COMMENTER)
allow(Action.UPDATE, Subject.COMMENT, None, self_allowed=True)
allow(Action.DELETE, Subject.COMMENT, Role.ADMIN, self_allowed=True)


# Webhooks send the workspace's events elsewhere: admins choose where.
allow(Action.READ, Subject.WEBHOOK, Role.ADMIN)
allow(Action.CREATE, Subject.WEBHOOK, Role.ADMIN)
allow(Action.UPDATE, Subject.WEBHOOK, Role.ADMIN)
allow(Action.DELETE, Subject.WEBHOOK, Role.ADMIN)


allow(Action.READ, Subject.AUDIT, Role.ADMIN)  # the workspace's audit log


def rule(subject: Subject, action: Action) -> Rule:
    try:
        return RULES[(subject, action)]
    except KeyError:  # pragma: no cover - a programming error, caught by the route matrix test
        raise LookupError(f"no policy rule for {action} on {subject}") from None


def can(
    role: Role | None,
    action: Action,
    subject: Subject,
    *,
    is_self: bool = False,
    granted: frozenset[Ability] = frozenset(),
) -> bool:
    if role is None:
        return False
    r = rule(subject, action)
    return (
        (r.min_role is not None and role >= r.min_role)
        or (r.self_allowed and is_self)
        or (r.ability is not None and r.ability in granted)
    )


def granted_abilities(role: Role | None, *, viewers_comment: bool) -> frozenset[Ability]:
    """The abilities a workspace grants a member of ``role`` (its settings decide)."""
    if role is not None and viewers_comment:
        return frozenset({Ability.COMMENTER})
    return frozenset()


def authorize(
    role: Role | None,
    action: Action,
    subject: Subject,
    *,
    is_self: bool = False,
    what: str | None = None,
    scope: Scope | None = None,
    granted: frozenset[Ability] = frozenset(),
) -> Role:
    """Raise 404 for outsiders and 403 for members below the rule (or calling with a
    personal access token whose scope does not cover the action); return the role."""
    if role is None:
        name = what or subject.value.capitalize()
        raise AppError(404, f"{name} not found.", "not_found")
    if not token_allows(scope, action):
        raise AppError(
            403,
            f"This access token may only read; it cannot {action.value} this {subject.value}.",
            "token_scope",
        )
    if not can(role, action, subject, is_self=is_self, granted=granted):
        r = rule(subject, action)
        if r.min_role is None:
            raise AppError(
                403, f"Only its author may {action.value} this {subject.value}.", "forbidden"
            )
        needs = f"it needs {r.min_role.label} or higher"
        if r.ability is not None:
            needs += f", or the {r.ability.value} ability the workspace may grant"
        raise AppError(
            403,
            f"Your role ({role.label}) cannot {action.value} this {subject.value}; {needs}.",
            "forbidden",
        )
    return role


def abilities(role: Role | None, granted: frozenset[Ability] = frozenset()) -> dict[str, list[str]]:
    """What a role may do, for the web app to show or hide controls."""
    out: dict[str, list[str]] = {}
    for (subject, action), _ in sorted(RULES.items()):
        if can(role, action, subject, granted=granted):
            out.setdefault(subject.value, []).append(action.value)
    return out


def authorize_shared(*, link_works: bool, linked: bool = True, what: str = "Page") -> None:
    """A share link is a credential for anyone holding it, with or without an account: it
    shows one document, and the files that document's text links to in its own workspace
    (images, attachments), and only while it works (not revoked, not expired, the document
    not in the trash). Anything else is 404, as for an unknown link."""
    if not (link_works and linked):
        raise AppError(404, f"{what} not found.", "not_found")


def can_grant(granter: Role, target_role: Role, current_role: Role | None = None) -> bool:
    """Only owners hand out or take away ownership; admins manage the roles below it."""
    if granter == Role.OWNER:
        return True
    return target_role < Role.OWNER and (current_role is None or current_role < Role.OWNER)


def grantable_roles(role: Role | None) -> list[Role]:
    """The roles a member of ``role`` may hand out (invite with, change a member's role from
    and to, remove a member of), highest first: ``can_grant`` as a list for the web app, and
    none for a role that manages no members."""
    if not can(role, Action.UPDATE, Subject.MEMBER):
        return []
    assert role is not None
    return [r for r in sorted(Role, reverse=True) if can_grant(role, r, r)]
