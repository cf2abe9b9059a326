// /d/:did, the address links by id use: the document's page in its workspace.
import { ok } from "../../api/client";
import { Link, Navigate, useParams } from "react-router";
import { useAuth } from "../../auth";
import { ErrorText, Spinner, useLoad } from "../../components/ui";

/** /d/:did: the document's page in its workspace. */
export function DocumentRedirect() {
  const { did = "" } = useParams();
  const { api } = useAuth();
  const { data: doc, error } = useLoad(
    () => ok(api.http.GET("/api/documents/{document_id}", { params: { path: { document_id: did } } })),
    [api, did],
  );
  if (error) return <div className="page narrow"><ErrorText error={error} /><Link to="/">Home</Link></div>;
  return doc ? <Navigate to={`/w/${doc.workspace_id}/d/${doc.id}`} replace /> : <Spinner />;
}

