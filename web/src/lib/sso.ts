// What the app's core needs of single sign-on (signing out at the provider too), apart from
// the sign-in pages (pages/SsoPages.tsx), which load only when shown.

/** The provider the current session came from (its logout URL), if any. */
export const SSO_KEY = "mdreader.sso.logout";

/** After the local sign-out: sign out at the provider too, when the session came from one. */
export function ssoSignOut(where: { assign: (url: string) => void } = window.location): boolean {
  const url = window.localStorage.getItem(SSO_KEY);
  if (!url) return false;
  window.localStorage.removeItem(SSO_KEY);
  where.assign(url);
  return true;
}
