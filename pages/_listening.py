"""Streamlit glue of the listening tests: the database cache, researcher sign-in, and the page gate.

The decisions are in ``core.listening.roles`` (who reaches which page) and
``core.listening.researcher`` (password hash, backoff, one-time links); this
module only reads the request (query string, session, server settings) and
draws the sign-in form.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from core.errors import TagspaceError
from core.listening.access import AccessDenied
from core.listening.db import open_db
from core.listening.researcher import (SIGN_IN_PARAM, SignInLinks, SignInThrottle, announce_sign_in_link,
                                       researcher_credential, sign_in)
from core.listening.roles import explorer_sign_in_required, page_allowed, sign_in_setting
from core.views.text import code_span
from pages._common import open_workspace, show_error, workspace_root

#: Session-state keys: signed in as a researcher; this browser session opened a rater link.
RESEARCHER = "_tagspace_researcher"
RATER_SESSION = "_tagspace_rater_session"
#: Page files by kind (see core.listening.roles); every other page is an explorer page.
PAGE_KINDS = {"listening_design.py": "researcher", "listening_rate.py": "rater"}


# ------------------------------------------------------------------ database
@st.cache_resource(show_spinner=False)
def _open_listening_db(root: str):
    return open_db(open_workspace(root))


def listening_db(ws):
    """The workspace's listening database (one connection pool per process)."""
    return _open_listening_db(str(ws.root))


# ---------------------------------------------------------- researcher state
@st.cache_resource(show_spinner=False)
def _throttle() -> SignInThrottle:
    return SignInThrottle()


@st.cache_resource(show_spinner=False)
def _links() -> SignInLinks:
    return SignInLinks()


def _clients() -> list[str]:
    """Backoff keys of this visitor: the browser session and, when known, the IP address."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    keys = [f"session:{ctx.session_id if ctx else 'none'}"]
    ip = getattr(st.context, "ip_address", None)
    if ip:
        keys.append(f"ip:{ip}")
    return keys


def _credential(ws):
    return researcher_credential(ws, st.secrets)


def _local_base_url() -> str:
    address = st.get_option("browser.serverAddress") or "localhost"
    return f"http://{address}:{st.get_option('server.port')}"


def signed_in() -> bool:
    """Whether this browser session signed in as a researcher."""
    return bool(st.session_state.get(RESEARCHER))


def researcher_sign_in(ws) -> bool:
    """The researcher sign-in form; True once this session is signed in."""
    if signed_in():
        return True
    try:
        credential = _credential(ws)
    except TagspaceError as err:
        show_error(err)
        return False
    if credential is None:
        _announce_link(ws)
        st.info("No researcher password is set. Open the one-time sign-in link printed in the terminal "
                "that runs the app, or set a password with "
                + code_span(f"python -m core listening set-password --workspace {ws.root}") + ".")
        return False
    with st.form("login"):
        given = st.text_input("Researcher password", type="password", max_chars=1024)
        if st.form_submit_button("Sign in"):
            try:
                sign_in(given, credential, _throttle(), _clients())
            except AccessDenied as err:
                show_error(err)
                return False
            st.session_state[RESEARCHER] = True
            st.rerun()
    return False


# ---------------------------------------------------------------- page gate
@dataclass(frozen=True)
class VisitorAccess:
    """What this visitor may reach (see :func:`core.listening.roles.page_allowed`)."""

    rater_link: bool
    sign_in_required: bool
    signed_in: bool

    def allows(self, page_file: str) -> bool:
        kind = PAGE_KINDS.get(Path(page_file).name, "explorer")
        return page_allowed(kind, rater_link=self.rater_link, sign_in_required=self.sign_in_required,
                            signed_in=self.signed_in)


def visitor_access() -> VisitorAccess:
    """This visitor's access, from the URL, the session and the server's bind address."""
    try:
        required = explorer_sign_in_required(st.get_option("server.address"), sign_in_setting(st.secrets))
    except TagspaceError as err:  # a mistyped setting: fail closed, and say why
        show_error(err)
        required = True
    return VisitorAccess(rater_link="rater" in st.query_params or bool(st.session_state.get(RATER_SESSION)),
                         sign_in_required=required, signed_in=signed_in())


def _announce_link(ws) -> None:
    """Print a one-time sign-in link in the server's terminal when no password is set (once per link)."""
    try:
        credential = _credential(ws)
    except TagspaceError:  # a broken credential file: the sign-in form says so
        return
    announce_sign_in_link(_links(), credential, _local_base_url(), lambda text: print(text, flush=True))


def handle_sign_in_link() -> None:
    """Sign this session in with a one-time link (``?signin=TOKEN``; the token leaves the URL either way),
    and print a new link in the terminal when no password is set and none is open."""
    try:
        _announce_link(open_workspace(str(workspace_root())))
    except TagspaceError:  # no workspace yet: the pages say so
        pass
    token = st.query_params.get(SIGN_IN_PARAM)
    if token is None:
        return
    st.query_params.pop(SIGN_IN_PARAM, None)
    try:
        _throttle().check(_clients())
    except AccessDenied as err:
        show_error(err)
        return
    if _links().redeem(token):
        _throttle().succeeded(_clients())
        st.session_state[RESEARCHER] = True
    else:
        _throttle().failed(_clients())
        st.error("This sign-in link was already used or is not valid. Without a password, a new one is printed "
                 "in the terminal that runs the app.")


def mark_rater_session() -> None:
    """From now on this browser session reaches the rater page only."""
    st.session_state[RATER_SESSION] = True


def stop_unless_allowed(page_file: str | None) -> None:
    """Stop a page this visitor may not see, saying where to sign in."""
    access = visitor_access()
    if page_file is None or access.allows(page_file):
        return
    if access.rater_link:
        st.error("This link opens a listening test only.")
    else:
        st.warning("This server is reachable from the network: sign in as a researcher on the "
                   "Listening tests page to explore the catalog.")
    st.stop()

