// Account settings: name, password, two-factor sign-in (with a QR code), sessions, theme.
import { ok } from "../api/client";
import { useEffect, useState } from "react";
import { Link } from "react-router";
import QRCode from "qrcode";
import type { NotificationSettings, Session, TotpEnrol, User } from "../api/types";
import { useAuth } from "../auth";
import { Field, SubmitButton } from "../components/forms";
import { Button, ErrorText, Notice, formatDate, messageOf, useAction, useLoad } from "../components/ui";
import { applyTheme, loadTheme } from "../lib/theme";
import type { ThemeChoice } from "../lib/theme";
import { lastWorkspace } from "../workspace";
import { AuditSection } from "./AuditSection";
import { TokensSection } from "./TokensSection";

export function AccountPage() {
  const { user } = useAuth();
  const back = lastWorkspace();
  if (!user) return null;
  return (
    <div className="page narrow account-page">
      <Link to={back ? `/w/${back}` : "/"} className="back-link">← Back to your documents</Link>
      <h1>Account settings</h1>
      <ProfileSection user={user} />
      <AppearanceSection />
      <NotificationSection />
      <PasswordSection />
      <MfaSection user={user} />
      <SessionsSection />
      <TokensSection />
      <AuditSection title="Account activity" />
    </div>
  );
}

function ProfileSection({ user }: { user: User }) {
  const { api, setUser } = useAuth();
  const [name, setName] = useState(user.name);
  const [saved, setSaved] = useState(false);
  const [sent, setSent] = useState<string | null>(null);
  const { busy, error, submit } = useAction();
  const save = submit(async () => {
    setUser(await ok(api.http.PATCH("/api/auth/me", { body: { name } })));
    setSaved(true);
  });
  return (
    <section className="panel">
      <h2>Profile</h2>
      <form className="stack" onSubmit={save}>
        <Field label="Name" value={name} onChange={(e) => { setName(e.target.value); setSaved(false); }} required />
        <p className="muted small">
          {user.email} · {user.email_verified ? "verified" : "not verified yet"}{" "}
          {!user.email_verified ? (
            <button
              type="button"
              className="link-btn"
              onClick={() => ok(api.http.POST("/api/auth/verify-email/resend")).then(() => setSent("A new link is on its way."), (e) => setSent(messageOf(e)))}
            >
              send the link again
            </button>
          ) : null}
          {sent ? ` ${sent}` : null}
        </p>
        <ErrorText error={error} />
        <SubmitButton busy={busy}>{saved ? "Saved" : "Save"}</SubmitButton>
      </form>
    </section>
  );
}

const EMAILS: { key: keyof NotificationSettings; label: string }[] = [
  { key: "email_mentions", label: "When someone mentions me (at once)" },
  { key: "email_replies", label: "Replies in my threads (in a digest)" },
  { key: "email_comments", label: "Comments on documents I follow (in a digest)" },
];

function NotificationSection() {
  const { api } = useAuth();
  const settings = useLoad(() => ok(api.http.GET("/api/notifications/settings")), [api]);
  const { error, run } = useAction();
  const prefs = settings.data;
  const toggle = (key: keyof NotificationSettings, value: boolean) =>
    run(async () => settings.setData(await ok(api.http.PUT("/api/notifications/settings", { body: { [key]: value } }))));
  return (
    <section className="panel" data-testid="notification-settings">
      <h2>E-mail notifications</h2>
      <ErrorText error={error ?? settings.error} />
      {prefs
        ? EMAILS.map(({ key, label }) => (
            <label key={key} className="row">
              <input type="checkbox" checked={prefs[key]} onChange={(e) => void toggle(key, e.target.checked)} /> {label}
            </label>
          ))
        : null}
    </section>
  );
}

function AppearanceSection() {
  const [theme, setTheme] = useState<ThemeChoice>(loadTheme);
  const choose = (t: ThemeChoice) => {
    setTheme(t);
    applyTheme(t);
    window.dispatchEvent(new Event("mdreader-theme"));
  };
  return (
    <section className="panel">
      <h2>Appearance</h2>
      <div className="segmented" role="radiogroup" aria-label="Theme">
        {(["light", "dark", "system"] as ThemeChoice[]).map((t) => (
          <button key={t} role="radio" aria-checked={theme === t} className={theme === t ? "on" : ""} onClick={() => choose(t)}>
            {t === "system" ? "System" : t === "dark" ? "Dark" : "Light"}
          </button>
        ))}
      </div>
    </section>
  );
}

function PasswordSection() {
  const { api } = useAuth();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [done, setDone] = useState(false);
  const { busy, error, submit } = useAction();
  const change = submit(async () => {
    setDone(false);
    await ok(api.http.POST("/api/auth/password-change", { body: { current_password: current, new_password: next } }));
    setCurrent("");
    setNext("");
    setDone(true);
  });
  return (
    <section className="panel">
      <h2>Password</h2>
      <form className="stack" onSubmit={change}>
        <Field label="Current password" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} required />
        <Field label="New password" type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} required />
        {done ? <Notice>Your password is changed; your other sessions were signed out.</Notice> : null}
        <ErrorText error={error} />
        <SubmitButton busy={busy}>Change password</SubmitButton>
      </form>
    </section>
  );
}

function MfaSection({ user }: { user: User }) {
  const { api, setUser } = useAuth();
  const [enrol, setEnrol] = useState<TotpEnrol | null>(null);
  const [qr, setQr] = useState<string | null>(null);
  const [code, setCode] = useState("");
  const { busy, error, run, submit } = useAction();
  const [disabling, setDisabling] = useState(false);

  useEffect(() => {
    if (!enrol) return setQr(null);
    QRCode.toString(enrol.otpauth_uri, { type: "svg", margin: 1, width: 200 })
      .then(setQr)
      .catch(() => setQr(null));
  }, [enrol]);

  const start = () => run(async () => setEnrol(await ok(api.http.POST("/api/auth/mfa/totp"))));

  const confirm = submit(async () => {
    setUser(await ok(api.http.POST("/api/auth/mfa/totp/confirm", { body: { code: code.replace(/\s/g, "") } })));
    setEnrol(null);
    setCode("");
  });

  const disable = submit(async () => {
    await ok(api.http.DELETE("/api/auth/mfa/totp", { body: { code: code.replace(/\s/g, "") } }));
    setUser({ ...user, mfa_enabled: false });
    setDisabling(false);
    setCode("");
  });

  return (
    <section className="panel">
      <h2>Two-factor sign-in</h2>
      {user.mfa_enabled ? (
        disabling ? (
          <form className="stack" onSubmit={disable}>
            <Field label="Code from your authenticator app" inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} required />
            <ErrorText error={error} />
            <div className="row">
              <SubmitButton variant="danger" busy={busy}>Turn off</SubmitButton>
              <Button type="button" variant="ghost" onClick={() => setDisabling(false)}>Cancel</Button>
            </div>
          </form>
        ) : (
          <div className="row">
            <Notice>On: signing in asks for a code from your authenticator app.</Notice>
            <Button onClick={() => setDisabling(true)}>Turn off…</Button>
          </div>
        )
      ) : enrol ? (
        <form className="stack" onSubmit={confirm}>
          <p>Scan this code with an authenticator app, then enter the 6-digit code it shows.</p>
          {qr ? <div className="qr" data-testid="mfa-qr" dangerouslySetInnerHTML={{ __html: qr }} /> : null}
          <p className="muted small">
            Or type this key: <code className="secret">{enrol.secret}</code>
          </p>
          <Field label="Code" inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} required />
          <ErrorText error={error} />
          <div className="row">
            <SubmitButton variant="primary" busy={busy}>Turn on</SubmitButton>
            <Button type="button" variant="ghost" onClick={() => setEnrol(null)}>Cancel</Button>
          </div>
        </form>
      ) : (
        <div className="stack">
          <p className="muted">Ask for a code from an authenticator app as well as your password.</p>
          <ErrorText error={error} />
          <Button onClick={() => void start()} busy={busy}>Set up</Button>
        </div>
      )}
    </section>
  );
}

function SessionsSection() {
  const { api } = useAuth();
  const sessions = useLoad(() => ok(api.http.GET("/api/auth/sessions")), [api]);
  const { error, run } = useAction();
  const revoke = (s: Session) =>
    run(async () => {
      await ok(api.http.DELETE("/api/auth/sessions/{session_id}", { params: { path: { session_id: s.id } } }));
      await sessions.reload();
    });
  return (
    <section className="panel">
      <h2>Sessions</h2>
      <ErrorText error={error ?? sessions.error} />
      <ul className="list">
        {(sessions.data ?? []).map((s) => (
          <li key={s.id} className="list-row">
            <span className="grow">
              <strong>{describeDevice(s.device)}</strong> {s.current ? <span className="role-tag">this device</span> : null}
              <br />
              <span className="muted small">
                {s.ip} · last seen {formatDate(s.last_seen_at)} · since {formatDate(s.created_at)}
              </span>
            </span>
            {!s.current ? <Button variant="ghost" onClick={() => void revoke(s)}>Sign out</Button> : null}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** A short name for a user agent string. */
export function describeDevice(ua: string): string {
  const browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /Chrom(e|ium)\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : null;
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Mac OS X/.test(ua) ? "macOS" : /Windows/.test(ua) ? "Windows" : /Linux/.test(ua) ? "Linux" : null;
  if (browser && os) return `${browser} on ${os}`;
  return ua.length > 60 ? `${ua.slice(0, 60)}…` : ua || "Unknown device";
}
