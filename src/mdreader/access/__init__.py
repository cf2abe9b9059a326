"""Who is calling, and what they are to a document or workspace.

``identity``: an access token (a session's, a personal access token's, or an outside
identity provider's) → the ``Principal`` behind it → the ``Caller`` the guards see.
``roles``: the caller's role in a workspace, or in a document's or file's workspace, read by
the one query every guard asks (REST routes, comments, share links, the fast paths and the
collaboration WebSocket), with the rules every one of them applies (trashed documents and
tokens bound to another workspace see nothing). ``address``: the client's address, for rate
limits, sign-in throttles, sessions and logs.

This package knows no HTTP framework: ``mdreader.api.deps`` turns it into route guards.
"""
