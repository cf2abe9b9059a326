import { Navigate, Route, Routes, useLocation } from "react-router";
import { Suspense, lazy, useEffect, useState } from "react";
import type { ComponentType, ReactNode } from "react";
import { authProviders, useAuth } from "./auth";
import type { AuthProviders } from "./lib/cognito";
import { Button, Spinner } from "./components/ui";
import { WorkspaceLayout } from "./pages/WorkspaceLayout";
import { WorkspaceHome } from "./pages/WorkspaceHome";
import { DocumentRedirect } from "./features/links/DocumentRedirect";

// Each page loads when it is first shown: the editor (CodeMirror, Yjs), the account page (QR
// codes), the sign-in and sign-up pages, and the workspace's other pages; the workspace's frame
// (tree, search) comes with the app.
const page = <K extends string>(load: () => Promise<Record<K, ComponentType>>, name: K) =>
  lazy(() => load().then((m) => ({ default: m[name] })));
const DocumentPage = page(() => import("./pages/DocumentPage"), "DocumentPage");
const AccountPage = page(() => import("./pages/AccountPage"), "AccountPage");
const HomePage = page(() => import("./pages/HomePage"), "HomePage");
const MembersPage = page(() => import("./pages/MembersPage"), "MembersPage");
const TrashPage = page(() => import("./pages/TrashPage"), "TrashPage");
const WorkspaceSettingsPage = page(() => import("./pages/WorkspaceSettingsPage"), "WorkspaceSettingsPage");
const SignInPage = lazy(() => import("./pages/AuthPages").then((m) => ({ default: m.SignInPage })));
const SignUpPage = page(() => import("./pages/AuthPages"), "SignUpPage");
const VerifyEmailPage = page(() => import("./pages/AuthPages"), "VerifyEmailPage");
const ForgotPasswordPage = page(() => import("./pages/AuthPages"), "ForgotPasswordPage");
const ResetPasswordPage = page(() => import("./pages/AuthPages"), "ResetPasswordPage");
const AcceptInvitePage = page(() => import("./pages/AuthPages"), "AcceptInvitePage");

const CognitoSignInPage = lazy(() => import("./pages/CognitoPages").then((m) => ({ default: m.CognitoSignInPage })));
const SsoCallbackPage = lazy(() => import("./pages/SsoPages").then((m) => ({ default: m.SsoCallbackPage })));
const CognitoCallbackPage = lazy(() => import("./pages/CognitoPages").then((m) => ({ default: m.CognitoCallbackPage })));

function Lazy({ children }: { children: ReactNode }) {
  return <Suspense fallback={<Spinner />}>{children}</Suspense>;
}

function RequireAuth({ children }: { children: ReactNode }) {
  const { user, loading, error, reload } = useAuth();
  const location = useLocation();
  if (loading) return <Spinner />;
  if (error && !user) {
    return (
      <div className="center-page">
        <p>{error}</p>
        <Button onClick={() => void reload()}>Try again</Button>
      </div>
    );
  }
  if (!user) {
    const next = location.pathname === "/" ? "" : `?next=${encodeURIComponent(location.pathname + location.search)}`;
    return <Navigate to={`/signin${next}`} replace />;
  }
  return <>{children}</>;
}

/** The sign-in MDReader offers: its own form, or a Cognito user pool's hosted UI. */
function useProviders(): AuthProviders | null {
  const [providers, setProviders] = useState<AuthProviders | null>(null);
  useEffect(() => {
    authProviders().then(setProviders, () =>
      setProviders({ provider: "local", cognito: null, password: true, oidc: [], password_rule: "" }),
    );
  }, []);
  return providers;
}

function SignInRoute() {
  const providers = useProviders();
  if (!providers) return <Spinner />;
  return <Lazy>{providers.cognito ? <CognitoSignInPage config={providers.cognito} /> : <SignInPage providers={providers} />}</Lazy>;
}

function SsoRoute() {
  const providers = useProviders();
  if (!providers) return <Spinner label="Signing in…" />;
  return <Lazy><SsoCallbackPage providers={providers.oidc ?? []} /></Lazy>;
}

function CallbackRoute() {
  const providers = useProviders();
  if (!providers) return <Spinner />;
  if (!providers.cognito) return <Navigate to="/signin" replace />;
  return <Lazy><CognitoCallbackPage config={providers.cognito} /></Lazy>;
}

export function App() {
  return (
    <Routes>
      <Route path="/signin" element={<SignInRoute />} />
      <Route path="/auth/callback" element={<CallbackRoute />} />
      <Route path="/auth/sso" element={<SsoRoute />} />
      <Route path="/signup" element={<Lazy><SignUpPage /></Lazy>} />
      <Route path="/verify-email" element={<Lazy><VerifyEmailPage /></Lazy>} />
      <Route path="/forgot-password" element={<Lazy><ForgotPasswordPage /></Lazy>} />
      <Route path="/reset-password" element={<Lazy><ResetPasswordPage /></Lazy>} />
      <Route path="/invite" element={<Lazy><AcceptInvitePage /></Lazy>} />
      <Route path="/" element={<RequireAuth><Lazy><HomePage /></Lazy></RequireAuth>} />
      <Route path="/d/:did" element={<RequireAuth><DocumentRedirect /></RequireAuth>} />
      <Route path="/settings" element={<RequireAuth><Lazy><AccountPage /></Lazy></RequireAuth>} />
      <Route path="/w/:wid" element={<RequireAuth><WorkspaceLayout /></RequireAuth>}>
        <Route index element={<WorkspaceHome />} />
        <Route path="d/:did" element={<Lazy><DocumentPage /></Lazy>} />
        <Route path="members" element={<Lazy><MembersPage /></Lazy>} />
        <Route path="trash" element={<Lazy><TrashPage /></Lazy>} />
        <Route path="settings" element={<Lazy><WorkspaceSettingsPage /></Lazy>} />
      </Route>
      <Route path="*" element={<Navigate to="/" replace />} />
    </Routes>
  );
}
