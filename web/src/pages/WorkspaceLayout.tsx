import { ok } from "../api/client";
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, NavLink, Outlet, useLocation, useNavigate, useParams } from "react-router";
import type { DocumentItem, Workspace } from "../api/types";
import { useAuth } from "../auth";
import { DocTree } from "../components/DocTree";
import { SearchDialog } from "../components/SearchDialog";
import { ThemeToggle } from "../components/ThemeToggle";
import { MenuIcon, PlusIcon, SearchIcon, SettingsIcon, TrashIcon, UsersIcon } from "../components/icons";
import { Avatar, Button, ErrorText, Modal, Spinner, messageOf, useAction } from "../components/ui";
import { CreateWorkspaceForm } from "./HomePage";
import { WorkspaceContext, can, rememberWorkspace } from "../workspace";
import type { WorkspaceState } from "../workspace";
import { InboxButton } from "../features/notifications/Inbox";
import { TemplatesDialog } from "../features/templates/Templates";

export function WorkspaceLayout() {
  const { wid = "" } = useParams();
  const { api, user, signOut } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const [workspaces, setWorkspaces] = useState<Workspace[] | null>(null);
  const [docs, setDocs] = useState<DocumentItem[] | null>(null);
  const { error, run } = useAction();
  const [drawer, setDrawer] = useState(false);
  const [searching, setSearching] = useState(false);
  const [switcher, setSwitcher] = useState(false);
  const [creatingWs, setCreatingWs] = useState(false);
  const [userMenu, setUserMenu] = useState(false);
  const [templates, setTemplates] = useState(false);

  // The workspace id the list was last fetched for: only then is "not a member" certain.
  const [checked, setChecked] = useState<string | null>(null);
  const reloadWorkspaces = useCallback(async () => {
    await run(async () => {
      setWorkspaces(await ok(api.http.GET("/api/workspaces")));
      setChecked(wid);
    });
  }, [api, wid, run]);

  const reloadDocs = useCallback(async () => {
    await run(async () => {
      setDocs(await ok(api.http.GET("/api/workspaces/{workspace_id}/documents", { params: { path: { workspace_id: wid } } })));
    });
  }, [api, wid, run]);

  useEffect(() => {
    setDocs(null);
    void reloadWorkspaces();
    void reloadDocs();
    rememberWorkspace(wid);
  }, [wid, reloadDocs, reloadWorkspaces]);

  // Keep the tree, and the caller's role (what they may do), current while others work in
  // the same workspace.
  useEffect(() => {
    const refresh = () => {
      if (document.visibilityState !== "visible") return;
      void reloadDocs();
      void reloadWorkspaces();
    };
    const timer = window.setInterval(refresh, 20_000);
    window.addEventListener("focus", refresh);
    return () => {
      window.clearInterval(timer);
      window.removeEventListener("focus", refresh);
    };
  }, [reloadDocs, reloadWorkspaces]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") {
        e.preventDefault();
        setSearching(true);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  useEffect(() => setDrawer(false), [location.pathname]);

  const workspace = workspaces?.find((w) => w.id === wid) ?? null;

  const createDocument = useCallback(
    async (parentId: string | null = null, title = "Untitled") => {
      await run(async () => {
        const doc = await ok(
          api.http.POST("/api/workspaces/{workspace_id}/documents", {
            params: { path: { workspace_id: wid } },
            body: { title, content: "", ...(parentId ? { parent_id: parentId } : {}) },
          }),
        );
        await reloadDocs();
        navigate(`/w/${wid}/d/${doc.id}?new=1`);
      });
    },
    [api, wid, reloadDocs, navigate, run],
  );

  const state = useMemo<WorkspaceState | null>(
    () =>
      workspace && docs && workspaces
        ? {
            workspace,
            workspaces,
            docs,
            reloadDocs,
            reloadWorkspaces,
            patchDoc: (id, patch) => setDocs((list) => list?.map((d) => (d.id === id ? { ...d, ...patch } : d)) ?? null),
            createDocument,
            openSearch: () => setSearching(true),
            closeDrawer: () => setDrawer(false),
          }
        : null,
    [workspace, workspaces, docs, reloadDocs, reloadWorkspaces, createDocument],
  );

  if (workspaces && !workspace && checked === wid) {
    return (
      <div className="center-page">
        <ErrorText error="This workspace does not exist or you are not a member." />
        <Link to="/">Back to your workspaces</Link>
      </div>
    );
  }
  if (!state) return error ? <div className="center-page"><ErrorText error={error} /></div> : <Spinner />;

  return (
    <WorkspaceContext.Provider value={state}>
      <div className={`app ${drawer ? "drawer-open" : ""}`}>
        <header className="mobile-bar">
          <button className="icon-btn" aria-label="Open the menu" onClick={() => setDrawer(true)}>
            <MenuIcon />
          </button>
          <span className="mobile-title">{state.workspace.name}</span>
          <button className="icon-btn" aria-label="Search" onClick={() => setSearching(true)}>
            <SearchIcon />
          </button>
        </header>
        <div className="drawer-scrim" onClick={() => setDrawer(false)} />
        <aside className="sidebar" aria-label="Workspace">
          <div className="sidebar-top">
            <div className="switcher">
              <button className="switcher-btn" aria-haspopup="menu" aria-expanded={switcher} onClick={() => setSwitcher((v) => !v)}>
                <span className="ws-mark">{state.workspace.name.slice(0, 1).toUpperCase()}</span>
                <span className="ws-name">{state.workspace.name}</span>
                <span className="caret">▾</span>
              </button>
              {switcher ? (
                <div className="menu" role="menu" onMouseLeave={() => setSwitcher(false)}>
                  {state.workspaces.map((w) => (
                    <button
                      key={w.id}
                      role="menuitem"
                      className={`menu-item ${w.id === wid ? "active" : ""}`}
                      onClick={() => {
                        setSwitcher(false);
                        navigate(`/w/${w.id}`);
                      }}
                    >
                      <span className="ws-mark small">{w.name.slice(0, 1).toUpperCase()}</span>
                      <span className="grow">{w.name}</span>
                      <span className="role-tag">{w.role}</span>
                    </button>
                  ))}
                  <hr />
                  <button role="menuitem" className="menu-item" onClick={() => { setSwitcher(false); setCreatingWs(true); }}>
                    + New workspace
                  </button>
                </div>
              ) : null}
            </div>
            <button className="search-btn" onClick={() => setSearching(true)}>
              <span className="row"><SearchIcon /> Search</span>
              <kbd>Ctrl K</kbd>
            </button>
            {can(state.workspace, "document", "create") ? (
              <Button variant="primary" className="new-doc-btn" onClick={() => void createDocument(null)}>
                <PlusIcon /> New document
              </Button>
            ) : null}
            {can(state.workspace, "document", "create") ? (
              <button className="nav-item from-template-btn" onClick={() => setTemplates(true)}>New from template</button>
            ) : null}
          </div>
          <nav className="sidebar-tree" aria-label="Documents">
            <DocTree />
          </nav>
          <div className="sidebar-bottom">
            <InboxButton />
            <NavLink to={`/w/${wid}/members`} className="nav-item"><UsersIcon /> Members</NavLink>
            {can(state.workspace, "trash", "read") ? <NavLink to={`/w/${wid}/trash`} className="nav-item"><TrashIcon /> Trash</NavLink> : null}
            <NavLink to={`/w/${wid}/settings`} className="nav-item"><SettingsIcon /> Workspace settings</NavLink>
            <div className="user-row">
              <button className="user-btn" onClick={() => setUserMenu((v) => !v)} aria-haspopup="menu">
                {user ? <Avatar id={user.id} name={user.name} /> : null}
                <span className="grow">{user?.name}</span>
              </button>
              <ThemeToggle />
              {userMenu ? (
                <div className="menu menu-up" role="menu" onMouseLeave={() => setUserMenu(false)}>
                  <Link role="menuitem" className="menu-item" to="/settings">Account settings</Link>
                  <button role="menuitem" className="menu-item" onClick={() => void signOut()}>Sign out</button>
                </div>
              ) : null}
            </div>
          </div>
        </aside>
        <main className="main">
          {user && !user.email_verified ? <VerifyBanner /> : null}
          {error ? <ErrorText error={error} /> : null}
          <Outlet />
        </main>
      </div>
      {searching ? <SearchDialog onClose={() => setSearching(false)} /> : null}
      {templates ? <TemplatesDialog workspaceId={wid} onClose={() => setTemplates(false)} onCreated={reloadDocs} /> : null}
      {creatingWs ? (
        <Modal title="New workspace" onClose={() => setCreatingWs(false)}>
          <CreateWorkspaceForm onDone={() => { setCreatingWs(false); void reloadWorkspaces(); }} />
        </Modal>
      ) : null}
    </WorkspaceContext.Provider>
  );
}

function VerifyBanner() {
  const { api } = useAuth();
  const [state, setState] = useState<"idle" | "sent" | string>("idle");
  return (
    <div className="banner">
      Please verify your e-mail address with the link we sent you.{" "}
      {state === "idle" ? (
        <button
          className="link-btn"
          onClick={() =>
            ok(api.http.POST("/api/auth/verify-email/resend"))
              .then(() => setState("sent"))
              .catch((e) => setState(messageOf(e)))
          }
        >
          Send it again
        </button>
      ) : state === "sent" ? (
        <span>A new link is on its way.</span>
      ) : (
        <span>{state}</span>
      )}
    </div>
  );
}
