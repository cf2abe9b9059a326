// Named shapes of the API, from the generated OpenAPI schema (`npm run gen:api`).
import type { components } from "./schema";

type S = components["schemas"];

export type TokenPair = S["TokenPair"];
export type User = S["UserPublic"];
export type Session = S["SessionPublic"];
export type TotpEnrol = S["TotpEnrolPublic"];
export type Workspace = S["WorkspacePublic"];
export type Member = S["MemberPublic"];
export type Invitation = S["InvitationPublic"];
export type Role = S["RoleName"];
export type DocumentItem = S["DocumentListItem"];
export type TrashItem = S["TrashItem"];
export type DocumentFull = S["DocumentPublic"];

export type Author = S["AuthorPublic"];
export type Version = S["VersionPublic"];
export type VersionDetail = S["VersionDetail"];
export type SearchHit = S["SearchHit"];
export type Share = S["SharePublic"];

export type UploadedFile = S["FilePublic"];

export type Thread = S["ThreadPublic"];
export type CommentItem = S["CommentPublic"];
export type Commenting = S["CommentingPublic"];

/** A 202 answer to adding a member who has no account yet. */
export interface InvitationSent {
  invitation: Invitation;
  detail: string;
}

export type Notification = S["NotificationPublic"];
export type NotificationSettings = S["NotificationSettingsPublic"];
