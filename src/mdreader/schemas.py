"""Request and response bodies (the ``XPublic`` shapes the API promises)."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator
from typing_extensions import TypeAliasType

# Named aliases: each is one component of the OpenAPI document, so the web app's generated
# schema.ts carries its values (a list to show) as well as its type. Highest role first.
RoleName = TypeAliasType("RoleName", Literal["owner", "admin", "editor", "viewer"])


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


def person_or_place_name(value: str) -> str:
    """A display name (a person's, a workspace's): trimmed, not blank, on one line. Names go
    into e-mail headers, where a line break would end the header."""
    value = value.strip()
    if not value:
        raise ValueError("the name cannot be blank")
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in value):
        raise ValueError("the name cannot hold line breaks, tabs or other control characters")
    return value


# --- auth -----------------------------------------------------------------------------------


class RegisterIn(Body):
    email: EmailStr
    password: str = Field(max_length=1024)
    name: str = Field(min_length=1, max_length=200)

    _name = field_validator("name")(person_or_place_name)


class LoginIn(Body):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    totp_code: str | None = Field(default=None, max_length=12)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class RefreshIn(Body):
    refresh_token: str = Field(max_length=200)


class TokenIn(Body):
    token: str = Field(max_length=200)


class EmailIn(Body):
    email: str = Field(max_length=320)


class ResetConfirmIn(Body):
    token: str = Field(max_length=200)
    password: str = Field(max_length=1024)


class PasswordChangeIn(Body):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class CognitoPublic(BaseModel):
    """The user pool's hosted UI, as the web app needs it for the PKCE sign-in."""

    domain: str
    client_id: str
    identity_providers: list[str]
    scopes: list[str]


class OidcProviderPublic(BaseModel):
    """A single sign-on button: the browser goes to ``login_url`` (add ``?next=/path``)."""

    name: str
    label: str
    login_url: str
    logout_url: str


class AuthProvidersPublic(BaseModel):
    provider: Literal["local", "cognito"]
    cognito: CognitoPublic | None = None
    # MDReader's own e-mail and password form (off with MDREADER_PASSWORD_LOGIN=false).
    password: bool = True
    oidc: list[OidcProviderPublic] = []
    # The password policy in a sentence (the sign-up form shows it).
    password_rule: str = ""


class LoginCodeIn(BaseModel):
    code: str = Field(min_length=1, max_length=200)


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    email: str
    name: str
    email_verified: bool
    mfa_enabled: bool = False
    created_at: datetime | None = None


class UserUpdateIn(Body):
    name: str = Field(min_length=1, max_length=200)

    _name = field_validator("name")(person_or_place_name)


class SessionPublic(BaseModel):
    id: uuid.UUID
    device: str
    ip: str
    created_at: datetime
    last_seen_at: datetime
    current: bool


class TotpEnrolPublic(BaseModel):
    secret: str
    otpauth_uri: str


class CodeIn(Body):
    code: str = Field(min_length=6, max_length=12)


# --- workspaces -----------------------------------------------------------------------------


class WorkspaceIn(Body):
    name: str = Field(min_length=1, max_length=200)

    _name = field_validator("name")(person_or_place_name)


class WorkspacePublic(BaseModel):
    id: uuid.UUID
    name: str
    role: RoleName
    created_at: datetime
    abilities: dict[str, list[str]] = {}
    # The roles the caller may invite with, and change a member's role from and to (or remove
    # a member of), highest first; empty when the caller manages no members.
    grantable_roles: list[RoleName] = []
    viewers_comment: bool = False  # viewers may comment (the commenter ability)


class MemberIn(Body):
    email: EmailStr
    role: RoleName = "editor"


class RoleIn(Body):
    role: RoleName


class MemberPublic(BaseModel):
    user_id: uuid.UUID
    email: str
    name: str
    role: RoleName
    joined_at: datetime


class InvitationPublic(BaseModel):
    id: uuid.UUID
    email: str
    role: RoleName
    created_at: datetime
    expires_at: datetime


class MemberInvited(BaseModel):
    """The answer (202) when no account uses the address yet: an invitation was e-mailed."""

    invitation: InvitationPublic
    detail: str


# --- documents ------------------------------------------------------------------------------


class DocumentCreateIn(Body):
    title: str = Field(min_length=1, max_length=500)
    content: str | None = None
    parent_id: uuid.UUID | None = None


class DocumentPatchIn(Body):
    title: str | None = Field(default=None, min_length=1, max_length=500)
    content: str | None = None
    parent_id: uuid.UUID | None = None
    position: int | None = Field(default=None, ge=0, le=1_000_000)


class DocumentListItem(BaseModel):
    id: uuid.UUID
    parent_id: uuid.UUID | None
    title: str
    position: int
    updated_at: datetime


class TrashItem(DocumentListItem):
    deleted_at: datetime


class DocumentPublic(BaseModel):
    id: uuid.UUID
    workspace_id: uuid.UUID
    parent_id: uuid.UUID | None
    title: str
    content: str
    position: int
    created_at: datetime
    updated_at: datetime
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None
    deleted_at: datetime | None = None
    role: RoleName


# --- files ----------------------------------------------------------------------------------


class FilePublic(BaseModel):
    id: uuid.UUID
    workspace_id: uuid.UUID
    name: str
    content_type: str
    size: int
    sha256: str
    url: str
    created_at: datetime


# --- search, versions, shares, import -------------------------------------------------------


class SearchHit(BaseModel):
    document_id: uuid.UUID
    title: str
    snippet: str = Field(description="HTML-escaped text around the match, hits in <mark>")


class AuthorPublic(BaseModel):
    id: uuid.UUID
    name: str


class VersionIn(Body):
    label: str | None = Field(default=None, max_length=200)


class VersionPublic(BaseModel):
    id: uuid.UUID
    created_at: datetime
    author: AuthorPublic | None
    label: str | None


class VersionDetail(VersionPublic):
    document_id: uuid.UUID
    title: str
    content: str


class ShareIn(Body):
    expires_at: datetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        """As UTC (a time without a zone is taken as UTC); a moment that has no UTC
        equivalent (the last hours of year 9999 in a zone east of UTC) is out of range."""
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("the expiry is out of range") from None


class SharePublic(BaseModel):
    token: str
    url: str
    created_at: datetime
    created_by: uuid.UUID | None
    expires_at: datetime | None


class PersonalTokenIn(ShareIn):
    """A new personal access token: a name to recognise it by, ``read`` or ``write``,
    optionally one workspace, and an expiry (none: it works until revoked)."""

    name: str = Field(min_length=1, max_length=100)
    scope: Literal["read", "write"] = "read"
    workspace_id: uuid.UUID | None = None


class PersonalTokenPublic(BaseModel):
    id: uuid.UUID
    name: str
    scope: Literal["read", "write"]
    workspace_id: uuid.UUID | None
    hint: str  # the token's last four characters
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class PersonalTokenCreated(PersonalTokenPublic):
    token: str  # shown this once; only its hash is kept


WebhookEvent = TypeAliasType(
    "WebhookEvent",
    Literal[
        "document.created",
        "document.updated",
        "document.trashed",
        "document.restored",
        "comment.created",
        "member.added",
        "member.removed",
        "share.created",
    ],
)


class WebhookIn(Body):
    url: str = Field(min_length=1, max_length=2000)
    events: list[WebhookEvent] = Field(min_length=1, max_length=20)


class WebhookPatchIn(Body):
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    events: list[WebhookEvent] | None = Field(default=None, min_length=1, max_length=20)
    active: bool | None = None


class WebhookPublic(BaseModel):
    id: uuid.UUID
    url: str
    events: list[str]
    active: bool
    failures: int
    disabled_reason: str | None
    created_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str  # signs the deliveries; shown this once


class WebhookDeliveryPublic(BaseModel):
    id: uuid.UUID
    event: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None


class AuditEventPublic(BaseModel):
    id: uuid.UUID
    at: datetime
    action: str
    actor_id: uuid.UUID | None
    actor_email: str | None
    subject_user_id: uuid.UUID | None
    workspace_id: uuid.UUID | None
    target: str | None
    detail: dict[str, Any]
    ip: str
    user_agent: str


# --- comments -------------------------------------------------------------------------------


class AnchorIn(Body):
    """A range of the text as two Yjs relative positions (``Y.encodeRelativePosition``,
    base64), and the text it held."""

    start: str = Field(min_length=1, max_length=400)
    end: str = Field(min_length=1, max_length=400)
    quote: str = Field(default="", max_length=1000)


class ThreadIn(Body):
    body: str = Field(max_length=10_000)
    anchor: AnchorIn | None = None  # none: about the whole document


class CommentIn(Body):
    body: str = Field(max_length=10_000)


class AnchorPublic(BaseModel):
    start: str
    end: str
    quote: str
    # Where the range is now (UTF-16 units into the text), while its text exists.
    offset: int | None = None
    length: int | None = None


class CommentPublic(BaseModel):
    id: uuid.UUID
    thread_id: uuid.UUID
    author: AuthorPublic | None
    body: str
    body_html: str
    created_at: datetime
    edited_at: datetime | None


class ThreadPublic(CommentPublic):
    document_id: uuid.UUID
    anchor: AnchorPublic | None  # None: a thread about the whole document
    orphaned: bool  # anchored, and the text it was about has been deleted
    resolved_at: datetime | None
    resolved_by: AuthorPublic | None
    replies: list[CommentPublic]


class CommentingIn(Body):
    viewers_comment: bool


class CommentingPublic(BaseModel):
    viewers_comment: bool  # viewers of the workspace hold the commenter ability


# --- notifications --------------------------------------------------------------------------


class NotificationPublic(BaseModel):
    id: uuid.UUID
    kind: Literal["mention", "reply", "comment"]
    workspace_id: uuid.UUID
    document_id: uuid.UUID
    document_title: str
    comment_id: uuid.UUID | None
    actor: AuthorPublic | None
    excerpt: str
    created_at: datetime
    read_at: datetime | None


class UnreadPublic(BaseModel):
    unread: int


class NotificationSettingsIn(Body):
    email_mentions: bool | None = None
    email_replies: bool | None = None
    email_comments: bool | None = None


class NotificationSettingsPublic(BaseModel):
    email_mentions: bool
    email_replies: bool
    email_comments: bool


class FollowPublic(BaseModel):
    following: bool


class BacklinkPublic(BaseModel):
    id: uuid.UUID
    title: str
    snippet: str  # the text around the link


class TemplatePublic(BaseModel):
    id: uuid.UUID  # the template document
    title: str


class FromTemplateIn(Body):
    template_id: uuid.UUID
    parent_id: uuid.UUID | None = None
    title: str | None = Field(default=None, max_length=500)


class TemplateFlagPublic(BaseModel):
    template: bool
