// Images stored in MDReader (/api/files/{id}) need the bearer token, which an <img> cannot
// send: fetch them with it and show them through object URLs (cached per address).
import { ok } from "../api/client";
import type { Api } from "../api/client";
import type { UploadedFile } from "../api/types";

const cache = new Map<string, Promise<string>>();

export function isPrivateFile(src: string): boolean {
  try {
    const url = new URL(src, window.location.origin);
    return url.origin === window.location.origin && url.pathname.startsWith("/api/files/");
  } catch {
    return false;
  }
}

export function authorizeImages(root: HTMLElement, api: Api): void {
  for (const img of root.querySelectorAll<HTMLImageElement>("img[src]")) {
    const src = img.getAttribute("src")!;
    if (!isPrivateFile(src)) continue;
    img.dataset.src = src;
    img.removeAttribute("src");
    let url = cache.get(src);
    if (!url) {
      const file_id = new URL(src, window.location.origin).pathname.slice("/api/files/".length);
      url = ok(api.http.GET("/api/files/{file_id}", { params: { path: { file_id } }, parseAs: "blob" })).then((b) =>
        URL.createObjectURL(b),
      );
      url.catch(() => cache.delete(src));
      cache.set(src, url);
    }
    url.then((u) => img.setAttribute("src", u)).catch(() => img.classList.add("broken-image"));
  }
}

/** Upload a file to the workspace; resolves to the stored file (with its `url`). */
export async function uploadFile(api: Api, workspaceId: string, file: File): Promise<UploadedFile> {
  return ok(
    api.http.POST("/api/workspaces/{workspace_id}/files", {
      params: { path: { workspace_id: workspaceId } },
      body: { file: file as unknown as string },
      bodySerializer: () => {
        const form = new FormData();
        form.append("file", file, file.name || "image.png");
        return form;
      },
    }),
  );
}

/** The Markdown that shows an uploaded file: an image, or a link for anything else. */
export function fileMarkdown(file: UploadedFile): string {
  const name = (file.name || "file").replace(/[[\]\\]/g, "");
  return file.content_type.startsWith("image/") ? `![${name}](${file.url})` : `[${name}](${file.url})`;
}
