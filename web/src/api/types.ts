// Named shapes of the API. Those of main come from the generated OpenAPI schema; the ones of
// endpoints still being built on other branches (versions, search, shares: `history`; files:
// `backends`) are written here from the contract until those land, then regenerate.
import type { components } from "./schema";

type S = components["schemas"];

export type TokenPair = S["TokenPair"];
export type User = S["UserPublic"];
export type Session = S["SessionPublic"];
export type TotpEnrol = S["TotpEnrolPublic"];
export type Workspace = S["WorkspacePublic"];
export type Member = S["MemberPublic"];
export type Invitation = S["InvitationPublic"];
export type Role = S["MemberPublic"]["role"];
export type DocumentItem = S["DocumentListItem"];
export type TrashItem = S["TrashItem"];
export type DocumentFull = S["DocumentPublic"];

export const ROLES: Role[] = ["owner", "admin", "editor", "viewer"];

// --- from the contract (branch `history`) ---------------------------------------------------

export interface Author {
  id: string;
  name: string;
}

export interface Version {
  id: string;
  created_at: string;
  author: Author | null;
  label: string | null;
}

export interface VersionDetail extends Version {
  document_id: string;
  title: string;
  content: string;
}

export interface SearchHit {
  document_id: string;
  title: string;
  /** HTML-escaped text around the match, hits wrapped in <mark> */
  snippet: string;
}

export interface Share {
  token: string;
  url: string;
  created_at?: string;
  created_by?: string | null;
  expires_at?: string | null;
}

// --- from the contract (branch `backends`) --------------------------------------------------

export interface UploadedFile {
  id: string;
  name: string;
  content_type: string;
  size: number;
  url: string;
}

/** A 202 answer to adding a member who has no account yet. */
export interface InvitationSent {
  invitation: Invitation;
  detail: string;
}
