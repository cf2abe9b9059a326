// The parts every form is made of: a labelled field whose hint and error are tied to its
// control (`aria-describedby`, `aria-invalid`), a labelled select, and the submit button that
// shows the form is at work. The busy flag and the form's error sentence (`ErrorText`) come
// from `useAction` (ui.tsx).
import { useId } from "react";
import type { ComponentProps, ComponentPropsWithRef, ReactNode } from "react";
import { Button } from "./ui";

interface Labelled {
  label: string;
  /** What the field expects, read out with it. */
  hint?: ReactNode;
  /** What is wrong with its value: marks the control invalid and is read out with it. */
  error?: string | null;
}

/** The label, hint and error around a control, and the attributes that tie them to it. */
function useFrame(id: string | undefined, { label, hint, error }: Labelled) {
  const own = useId();
  const key = id ?? own;
  const tied = {
    id: key,
    "aria-describedby": [hint && `${key}-hint`, error && `${key}-error`].filter(Boolean).join(" ") || undefined,
    "aria-invalid": error ? true : undefined,
  };
  const frame = (control: ReactNode) => (
    <div className="field">
      <label className="field-label" htmlFor={key}>{label}</label>
      {control}
      {hint ? <span id={`${key}-hint`} className="field-hint">{hint}</span> : null}
      {error ? <span id={`${key}-error`} className="error-text small" role="alert">{error}</span> : null}
    </div>
  );
  return { tied, frame };
}

export function Field({ id, label, hint, error, ...input }: ComponentPropsWithRef<"input"> & Labelled) {
  const { tied, frame } = useFrame(id, { label, hint, error });
  return frame(<input {...input} {...tied} />);
}

export function SelectField({ id, label, hint, error, ...select }: ComponentPropsWithRef<"select"> & Labelled) {
  const { tied, frame } = useFrame(id, { label, hint, error });
  return frame(<select {...select} {...tied} />);
}

/** The form's submit button: disabled, with a spinner, while `busy`. */
export function SubmitButton(props: Omit<ComponentProps<typeof Button>, "type">) {
  return <Button {...props} type="submit" />;
}
