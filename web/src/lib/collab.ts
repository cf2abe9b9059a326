// One document's live session: a Y.Doc whose Y.Text "content" holds the Markdown and "title"
// the title, kept in step with the server over the Hocuspocus protocol at /ws, and in this
// browser's IndexedDB: what was typed but not yet acknowledged (a closed tab, a crash, no
// network) is there on the next open and goes to the server then.
import { useEffect, useState } from "react";
import { HocuspocusProvider } from "@hocuspocus/provider";
import { IndexeddbPersistence } from "y-indexeddb";
import * as Y from "yjs";
import type { Api } from "../api/client";
import { userColor } from "./colors";

export type SyncState = "connecting" | "syncing" | "saved" | "offline" | "denied";

export interface Peer {
  clientId: number;
  name: string;
  color: string;
  userId?: string;
}

export interface Collab {
  ydoc: Y.Doc;
  ytext: Y.Text;
  ytitle: Y.Text;
  provider: HocuspocusProvider;
  undoManager: Y.UndoManager;
}

export interface CollabStatus {
  state: SyncState;
  /** the text is the document's: the first sync with the server finished, or this browser
   * kept the document from an earlier visit (its edits merge when the server answers) */
  loaded: boolean;
  readOnly: boolean;
  peers: Peer[];
  /** 1 while a local change waits for the server's acknowledgement, 0 once all are */
  unsynced: number;
  /** the server refused a change (the document is over its size limit): what it said */
  refused: string | null;
}

export function collabUrl(): string {
  const { protocol, host } = window.location;
  return `${protocol === "https:" ? "wss" : "ws"}://${host}/ws`;
}

/** The IndexedDB database of one person's copy of one document. */
export const localName = (userId: string, documentId: string) => `mdreader:${userId}:${documentId}`;

/** Combine the provider's signals into one indicator: "saved" only once the server
 * acknowledged every local change (Hocuspocus SyncStatus, sent once it is durable). */
export function syncState(s: {
  connected: boolean;
  everConnected: boolean;
  synced: boolean;
  unsynced: number;
  denied: boolean;
  online: boolean;
}): SyncState {
  if (s.denied) return "denied";
  if (!s.online || (!s.connected && s.everConnected)) return "offline";
  if (!s.connected) return "connecting";
  if (!s.synced || s.unsynced > 0) return "syncing";
  return "saved";
}

function sameStatus(a: CollabStatus, b: CollabStatus): boolean {
  return (
    a.state === b.state &&
    a.loaded === b.loaded &&
    a.readOnly === b.readOnly &&
    a.unsynced === b.unsynced &&
    a.refused === b.refused &&
    a.peers.length === b.peers.length &&
    a.peers.every((p, i) => {
      const q = b.peers[i];
      return p.clientId === q.clientId && p.name === q.name && p.color === q.color && p.userId === q.userId;
    })
  );
}

export function useCollab(
  documentId: string,
  api: Api,
  me: { id: string; name: string },
): { collab: Collab | null; status: CollabStatus } {
  const [collab, setCollab] = useState<Collab | null>(null);
  const [status, setStatus] = useState<CollabStatus>({
    state: "connecting",
    loaded: false,
    readOnly: false,
    peers: [],
    unsynced: 0,
    refused: null,
  });

  useEffect(() => {
    const ydoc = new Y.Doc();
    const ytext = ydoc.getText("content");
    const ytitle = ydoc.getText("title");
    const flags = {
      connected: false,
      everConnected: false,
      synced: false,
      unsynced: 0,
      denied: false,
      online: navigator.onLine,
      loaded: false,
      readOnly: false,
      retriedAuth: false,
      refused: null as string | null,
      limit: 0,
    };
    let disposed = false;
    let stop: (() => void) | null = null;
    const local = new IndexeddbPersistence(localName(me.id, documentId), ydoc);
    // The copy this browser kept is read before the server is asked: the server then sends
    // only what the copy lacks (not the whole text again), and the copy's own text is not sent
    // to it as a new change. An IndexedDB that does not answer holds nothing up for long.
    const wait = window.setTimeout(() => start(), 2000);
    void local.whenSynced.then(() => {
      window.clearTimeout(wait);
      // A copy from an earlier visit: editable at once, merged when the server answers.
      if (!disposed && ydoc.store.clients.size > 0) flags.loaded = true;
      start();
    });
    const start = () => {
      if (disposed || stop) return;
      stop = connect();
    };

    const connect = () => {
      const provider = new HocuspocusProvider({
        url: collabUrl(),
        name: documentId,
        document: ydoc,
        token: async () => (await api.accessToken()) ?? "",
      });
      const undoManager = new Y.UndoManager(ytext);
      const color = userColor(me.id);
      provider.awareness?.setLocalStateField("user", {
        name: me.name,
        color: color.color,
        colorLight: color.light,
        id: me.id,
      });

      const peers = (): Peer[] => {
        const out: Peer[] = [];
        provider.awareness?.getStates().forEach((state, clientId) => {
          const u = (state as { user?: { name?: string; color?: string; id?: string } }).user;
          if (clientId === ydoc.clientID || !u?.name) return;
          out.push({ clientId, name: u.name, color: u.color ?? "#888", userId: u.id });
        });
        return out;
      };

      // Typing moves this client's cursor (an awareness change) and its count of unacknowledged
      // changes many times a second: the page renders again only when what it shows changed.
      const publish = () => {
        if (disposed) return;
        const next: CollabStatus = {
          state: syncState(flags),
          loaded: flags.loaded,
          readOnly: flags.readOnly,
          peers: peers(),
          unsynced: flags.unsynced > 0 ? 1 : 0,
          refused: flags.refused,
        };
        setStatus((was) => (sameStatus(was, next) ? was : next));
      };

      provider.on("status", ({ status }: { status: string }) => {
        flags.connected = status === "connected";
        if (flags.connected) flags.everConnected = true;
        else flags.synced = false;
        publish();
      });
      provider.on("synced", ({ state }: { state: boolean }) => {
        flags.synced = state;
        if (state) flags.loaded = true;
        publish();
      });
      provider.on("unsyncedChanges", ({ number }: { number: number }) => {
        flags.unsynced = number;
        if (number === 0) flags.refused = null; // everything saved again
        publish();
      });
      // The server refuses a change that would take the text past its size limit, and says
      // so. The change stays here; once the text is short enough, a resync sends it again.
      provider.on("stateless", ({ payload }: { payload: string }) => {
        try {
          const notice = JSON.parse(payload) as { type?: string; detail?: string; limit?: number };
          if (notice.type !== "refused") return;
          flags.refused = notice.detail ?? "The server did not save the last change.";
          flags.limit = notice.limit ?? 0;
          publish();
        } catch {
          // another client's stateless message: not ours to read
        }
      });
      const encoder = new TextEncoder();
      let resync: number | undefined;
      const shortened = () => {
        if (!flags.refused || resync !== undefined) return;
        resync = window.setTimeout(() => {
          resync = undefined;
          if (flags.refused && encoder.encode(ytext.toString()).length <= flags.limit) provider.forceSync();
        }, 500);
      };
      ytext.observe(shortened);
      provider.on("authenticated", ({ scope }: { scope: string }) => {
        flags.denied = false;
        flags.readOnly = scope === "readonly";
        publish();
      });
      provider.on("authenticationFailed", () => {
        // Perhaps the access token just expired: refresh it and try once more.
        if (!flags.retriedAuth) {
          flags.retriedAuth = true;
          void api.refresh().then((t) => {
            if (t && !disposed) void provider.connect();
          });
          return;
        }
        flags.denied = true;
        publish();
      });
      provider.on("awarenessChange", publish);

      const online = () => {
        flags.online = navigator.onLine;
        // Back online: try now rather than at the end of the reconnect back-off (up to 30 s),
        // so the offline indicator clears as soon as the server answers.
        if (flags.online && !flags.connected) void provider.configuration.websocketProvider.connect();
        publish();
      };
      window.addEventListener("online", online);
      window.addEventListener("offline", online);
      // Edits made here and not yet acknowledged (what came back from IndexedDB is safe there).
      const edited = { pending: false };
      ydoc.on("update", (_u: Uint8Array, origin: unknown) => {
        if (origin !== provider && origin !== local) edited.pending = true;
      });
      provider.on("unsyncedChanges", ({ number }: { number: number }) => {
        if (number === 0) edited.pending = false;
      });
      // Ask before closing the tab while edits are not yet acknowledged.
      const beforeUnload = (e: BeforeUnloadEvent) => {
        if (edited.pending && flags.unsynced > 0) {
          e.preventDefault();
          e.returnValue = "";
        }
      };
      window.addEventListener("beforeunload", beforeUnload);

      setCollab({ ydoc, ytext, ytitle, provider, undoManager });
      publish();
      return () => {
        window.removeEventListener("online", online);
        window.removeEventListener("offline", online);
        window.removeEventListener("beforeunload", beforeUnload);
        ytext.unobserve(shortened);
        if (resync !== undefined) window.clearTimeout(resync);
        undoManager.destroy();
        setCollab(null);
        const close = () => {
          provider.destroy();
          void local.destroy();
          ydoc.destroy();
        };
        // Going to another page of the app: what is not acknowledged yet still goes to the
        // server first (and stays in IndexedDB should that fail).
        if (flags.unsynced > 0 && flags.connected) {
          const timer = window.setTimeout(close, 30_000);
          provider.on("unsyncedChanges", ({ number }: { number: number }) => {
            if (number === 0) {
              window.clearTimeout(timer);
              close();
            }
          });
        } else close();
      };
    };

    return () => {
      disposed = true;
      window.clearTimeout(wait);
      if (stop) stop();
      else {
        void local.destroy();
        ydoc.destroy();
      }
    };
  }, [documentId, api, me.id, me.name]);

  return { collab, status };
}

/** The text of a Y.Text as React state, updated at most every `delay(length)` ms. */
export function useYText(ytext: Y.Text | undefined, delay: (length: number) => number): string {
  const [text, setText] = useState(() => ytext?.toString() ?? "");
  // Another Y.Text (the live session began): its text from this very render, never a frame of
  // the previous one's (an empty preview, then the whole text rendered again).
  const [of, setOf] = useState(ytext);
  let current = text;
  if (of !== ytext) {
    current = ytext?.toString() ?? "";
    setOf(ytext);
    setText(current);
  }
  useEffect(() => {
    if (!ytext) return;
    let shown = ytext.toString();
    setText(shown);
    let timer: number | undefined;
    const observer = () => {
      if (shown === "") {
        // The first sync fills an empty text: show it at once (it is usually the text the
        // page already rendered from the REST answer, so nothing renders twice).
        shown = ytext.toString();
        setText(shown);
        return;
      }
      if (timer !== undefined) return;
      timer = window.setTimeout(() => {
        timer = undefined;
        shown = ytext.toString();
        setText(shown);
      }, delay(ytext.length));
    };
    ytext.observe(observer);
    return () => {
      ytext.unobserve(observer);
      if (timer !== undefined) window.clearTimeout(timer);
    };
  }, [ytext, delay]);
  return current;
}
