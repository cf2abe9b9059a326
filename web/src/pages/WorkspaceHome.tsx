import { Link } from "react-router";
import { Button, timeAgo } from "../components/ui";
import { can, useWorkspace } from "../workspace";

export function WorkspaceHome() {
  const { workspace, docs, createDocument, openSearch } = useWorkspace();
  const recent = [...docs].sort((a, b) => b.updated_at.localeCompare(a.updated_at)).slice(0, 12);
  return (
    <div className="page">
      <h1>{workspace.name}</h1>
      <div className="row">
        {can(workspace, "document", "create") ? (
          <Button variant="primary" onClick={() => void createDocument(null)}>+ New document</Button>
        ) : null}
        <Button onClick={openSearch}>Search</Button>
      </div>
      <h2>Recently updated</h2>
      {recent.length ? (
        <ul className="card-list">
          {recent.map((d) => (
            <li key={d.id}>
              <Link to={`/w/${workspace.id}/d/${d.id}`} className="card">
                <strong>{d.title}</strong>
                <span className="muted small">{timeAgo(d.updated_at)}</span>
              </Link>
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted">Nothing here yet. Create a document to start writing.</p>
      )}
    </div>
  );
}
