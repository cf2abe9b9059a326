// A CodeMirror extension whose code loads on first use: until then a few triggers (keys, an
// update listener) stand in its place; the first that fires loads the module, puts the
// extension in their place, and then runs what the trigger asked for. The editor opens without
// the module; it loads when the editor first takes the focus, so that it is usually here before
// a key asks for it (a search panel opened after keys typed for it would lose them).
import { Compartment } from "@codemirror/state";
import type { Extension } from "@codemirror/state";
import { ViewPlugin } from "@codemirror/view";
import type { EditorView, ViewUpdate } from "@codemirror/view";

/** Load the module (once), install its extension, then run `then` (if any) on the view. */
export type Load<M> = (view: EditorView, then?: (m: M, view: EditorView) => void) => true;

/** One editor's extension from `module`, made by `install` once it is here. `triggers` are what
 * stands in for it meanwhile; `onUpdate` may call `load` as the editor changes. */
export function lazyExtension<M>(
  module: () => Promise<M>,
  install: (m: M) => Extension,
  triggers: (load: Load<M>) => Extension,
  onUpdate?: (update: ViewUpdate, load: Load<M>) => void,
): Extension {
  const slot = new Compartment();
  let loading: Promise<M> | null = null;
  let installed = false;
  let gone = false;
  const load: Load<M> = (view, then) => {
    loading ??= module();
    void loading.then((m) => {
      if (gone) return;
      if (!installed) {
        installed = true;
        view.dispatch({ effects: slot.reconfigure(install(m)) });
      }
      then?.(m, view);
    });
    return true;
  };
  return slot.of([
    triggers(load),
    ViewPlugin.define(() => ({
      update: (u: ViewUpdate) => {
        if (u.focusChanged && u.view.hasFocus) load(u.view);
        onUpdate?.(u, load);
      },
      // Replaced by the extension, or the editor closed before the module came.
      destroy: () => {
        if (!installed) gone = true;
      },
    })),
  ]);
}
