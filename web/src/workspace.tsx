import { createContext, useContext } from "react";
import type { DocumentItem, Workspace } from "./api/types";

export interface WorkspaceState {
  workspace: Workspace;
  workspaces: Workspace[];
  docs: DocumentItem[];
  reloadDocs: () => Promise<void>;
  reloadWorkspaces: () => Promise<void>;
  /** Update one row of the tree at once (a rename), before the server list comes back. */
  patchDoc: (id: string, patch: Partial<DocumentItem>) => void;
  createDocument: (parentId?: string | null, title?: string) => Promise<void>;
  openSearch: () => void;
  closeDrawer: () => void;
}

export const WorkspaceContext = createContext<WorkspaceState | null>(null);

export function useWorkspace(): WorkspaceState {
  const ctx = useContext(WorkspaceContext);
  if (!ctx) throw new Error("useWorkspace outside WorkspaceLayout");
  return ctx;
}

/** Whether the caller's role allows `action` on `subject` (from the API's abilities). */
export function can(workspace: Workspace | null | undefined, subject: string, action: string): boolean {
  return !!workspace?.abilities?.[subject]?.includes(action);
}

const LAST = "mdreader.lastWorkspace";
export const rememberWorkspace = (id: string) => localStorage.setItem(LAST, id);
export const lastWorkspace = () => localStorage.getItem(LAST);
