// /d/:did, the address links by id use: the document's page in its workspace.
import { ok } from "../../api/client";
import { useEffect, useState } from "react";
import { Link, Navigate, useParams } from "react-router";
import { useAuth } from "../../auth";
import { ErrorText, Spinner, messageOf } from "../../components/ui";

/** /d/:did: the document's page in its workspace. */
export function DocumentRedirect() {
  const { did = "" } = useParams();
  const { api } = useAuth();
  const [to, setTo] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    ok(api.http.GET("/api/documents/{document_id}", { params: { path: { document_id: did } } })).then((d) => setTo(`/w/${d.workspace_id}/d/${d.id}`)).catch((e) => setError(messageOf(e)));
  }, [api, did]);
  if (error) return <div className="page narrow"><ErrorText error={error} /><Link to="/">Home</Link></div>;
  return to ? <Navigate to={to} replace /> : <Spinner />;
}

