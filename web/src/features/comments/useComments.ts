// The comment threads of a document, for its page's count and its comments panel: read over
// REST, and read again when the server announces a change on the collaboration socket
// ({"event": "comments"}).
import { ok } from "../../api/client";
import { useCallback, useEffect, useState } from "react";
import type { Thread } from "../../api/types";
import { useAuth } from "../../auth";
import { messageOf } from "../../components/ui";
import type { Collab } from "../../lib/collab";

export function useComments(documentId: string, collab: Collab | null) {
  const { api } = useAuth();
  const [threads, setThreads] = useState<Thread[]>([]);
  const [error, setError] = useState<string | null>(null);
  const reload = useCallback(async () => {
    try {
      setThreads(await ok(api.http.GET("/api/documents/{document_id}/comments", { params: { path: { document_id: documentId } } })));
      setError(null);
    } catch (e) {
      setError(messageOf(e));
    }
  }, [api, documentId]);
  useEffect(() => {
    void reload();
  }, [reload]);
  useEffect(() => {
    const provider = collab?.provider;
    if (!provider) return;
    const onStateless = ({ payload }: { payload: string }) => {
      try {
        const event = JSON.parse(payload);
        if (event && event.event === "comments") void reload();
      } catch {
        // another client's message: not ours to read
      }
    };
    provider.on("stateless", onStateless);
    // Typing moves anchors: where they are now comes with the list.
    return () => {
      provider.off("stateless", onStateless);
    };
  }, [collab, reload]);
  return { threads, error, reload };
}
