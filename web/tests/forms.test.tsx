// The shared form parts and the one busy/error hook: labels tied to controls, hints and errors
// read out with them, and `useAction`'s busy flag and error sentence around a call.
import { act } from "react";
import { createRoot } from "react-dom/client";
import type { Root } from "react-dom/client";
import type { ReactNode } from "react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ApiError } from "../src/api/client";
import { Field, SelectField, SubmitButton } from "../src/components/forms";
import { ErrorText, useAction } from "../src/components/ui";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let host: HTMLDivElement;
let root: Root;
beforeEach(() => {
  host = document.createElement("div");
  document.body.append(host);
  root = createRoot(host);
});
afterEach(() => {
  act(() => root.unmount());
  host.remove();
});
const render = (node: ReactNode) => act(() => root.render(node));

describe("Field", () => {
  it("ties its label to the input", () => {
    render(<Field label="E-mail" name="email" type="email" />);
    const input = host.querySelector("input")!;
    const label = host.querySelector("label")!;
    expect(label.textContent).toBe("E-mail");
    expect(label.htmlFor).toBe(input.id);
    expect(input.id).not.toBe("");
    expect(input.getAttribute("aria-describedby")).toBeNull();
    expect(input.getAttribute("aria-invalid")).toBeNull();
  });

  it("reads out its hint and its error with the input and marks it invalid", () => {
    render(<Field label="Password" hint="At least 8 characters." error="The two passwords differ." />);
    const input = host.querySelector("input")!;
    const ids = input.getAttribute("aria-describedby")!.split(" ");
    expect(ids.map((id) => document.getElementById(id)?.textContent)).toEqual(["At least 8 characters.", "The two passwords differ."]);
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(host.querySelector("[role=alert]")?.textContent).toBe("The two passwords differ.");
    // The label names the input alone; the hint is its description.
    expect(host.querySelector("label")!.textContent).toBe("Password");
  });

  it("keeps a given id and passes the input's attributes on", () => {
    render(<Field id="name" label="Name" required autoFocus maxLength={100} defaultValue="Ada" />);
    const input = host.querySelector("input")!;
    expect(input.id).toBe("name");
    expect(input.required).toBe(true);
    expect(input.maxLength).toBe(100);
    expect(input.value).toBe("Ada");
    expect(document.activeElement).toBe(input);
  });

  it("gives every field its own id", () => {
    render(<><Field label="A" /><Field label="B" /></>);
    const [a, b] = host.querySelectorAll("input");
    expect(a.id).not.toBe(b.id);
  });
});

describe("SelectField", () => {
  it("ties its label to the select", () => {
    render(
      <SelectField label="Access" defaultValue="write">
        <option value="read">Read only</option>
        <option value="write">Read and write</option>
      </SelectField>,
    );
    const select = host.querySelector("select")!;
    expect(host.querySelector("label")!.htmlFor).toBe(select.id);
    expect(select.value).toBe("write");
  });
});

describe("SubmitButton", () => {
  it("submits, and is disabled with a spinner while busy", () => {
    render(<SubmitButton busy={false}>Sign in</SubmitButton>);
    const button = host.querySelector("button")!;
    expect(button.type).toBe("submit");
    expect(button.disabled).toBe(false);
    render(<SubmitButton busy>Sign in</SubmitButton>);
    expect(button.disabled).toBe(true);
    expect(button.querySelector(".spinner")).not.toBeNull();
    expect(button.textContent).toBe("Sign in");
  });
});

describe("useAction", () => {
  type Action = ReturnType<typeof useAction>;
  let action: Action;
  function Probe({ work }: { work: () => Promise<unknown> }) {
    action = useAction();
    return (
      <form onSubmit={action.submit(work)}>
        <ErrorText error={action.error} />
        <SubmitButton busy={action.busy}>Go</SubmitButton>
      </form>
    );
  }

  it("is busy while the work runs and clears the error", async () => {
    let finish!: () => void;
    render(<Probe work={() => new Promise<void>((resolve) => (finish = resolve))} />);
    act(() => action.setError("old"));
    let done!: Promise<boolean>;
    act(() => {
      done = action.run(() => new Promise<void>((resolve) => (finish = resolve)));
    });
    expect(action.busy).toBe(true);
    expect(action.error).toBeNull();
    expect(host.querySelector("button")!.disabled).toBe(true);
    await act(async () => {
      finish();
      expect(await done).toBe(true);
    });
    expect(action.busy).toBe(false);
  });

  it("turns a failure into the server's sentence", async () => {
    render(<Probe work={() => Promise.reject(new ApiError(401, "The e-mail or password is wrong.", "invalid_credentials", null))} />);
    await act(async () => {
      host.querySelector("form")!.requestSubmit();
    });
    expect(action.busy).toBe(false);
    expect(action.error).toBe("The e-mail or password is wrong.");
    expect(host.querySelector("[role=alert]")?.textContent).toBe("The e-mail or password is wrong.");
  });

  it("resolves to false when the work fails", async () => {
    render(<Probe work={async () => undefined} />);
    let result: boolean | undefined;
    await act(async () => {
      result = await action.run(() => {
        throw new Error("no");
      });
    });
    expect(result).toBe(false);
    expect(action.error).toBe("no");
  });
});
