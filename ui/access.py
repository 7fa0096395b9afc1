"""Who may use the app: anyone on this computer; over a network only with a password or Streamlit's login."""

from __future__ import annotations

import datetime as dt
import hmac
import os
import uuid

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from ui import guess_limit

PASSWORD_ENV = "FINETUNE_PASSWORD"
LOCAL_ADDRESSES = {"localhost", "127.0.0.1", "::1"}
KEY = "access_granted"  # this module owns these session_state keys
SESSION_KEY = "access_session"


def _secret(name: str):
    try:
        return st.secrets.get(name)
    except (StreamlitSecretNotFoundError, FileNotFoundError):
        return None


def required_password() -> str | None:
    """The app password: $FINETUNE_PASSWORD, else `password` in .streamlit/secrets.toml; None when unset."""
    return os.environ.get(PASSWORD_ENV) or _secret("password") or None


def serving_on_network() -> bool:
    """Whether the server listens beyond this computer (server.address is not a loopback address)."""
    address = st.get_option("server.address") or ""
    return address not in LOCAL_ADDRESSES


def _login_with_oidc() -> None:
    """Streamlit's OpenID Connect login, used when an [auth] section is configured in secrets.toml."""
    if not st.user.is_logged_in:
        st.title("FineTune Studio")
        st.button("Log in", type="primary", on_click=st.login)
        st.stop()


def require_access() -> None:
    """Stop the page unless the visitor may use the app; call before any page renders.

    On localhost no password is needed unless one is set. On a network, the OIDC login is used when
    configured, else the password; with neither, the app refuses to serve at all.
    """
    if serving_on_network() and _secret("auth"):
        _login_with_oidc()
        return
    password = required_password()
    if password is None:
        if serving_on_network():
            st.error(f"This app is served on the network ({st.get_option('server.address')}) without a password.")
            st.info(f"Set the {PASSWORD_ENV} environment variable (or `password` in .streamlit/secrets.toml) "
                    "and restart, or serve on localhost.")
            st.stop()
        return
    if st.session_state.get(KEY):
        return
    st.title("FineTune Studio")
    _password_form(password)
    st.stop()


def _guess_keys() -> list[str]:
    """Who a guess is counted against: this browser session and the client's address (shared by its sessions)."""
    session = st.session_state.setdefault(SESSION_KEY, uuid.uuid4().hex)
    address = st.context.ip_address  # None on localhost (and not a string under AppTest)
    return [f"session:{session}", f"client:{address if isinstance(address, str) else 'local'}"]


def _locked_message(until: float) -> None:
    at = dt.datetime.fromtimestamp(until).strftime("%H:%M:%S")
    st.error(f"Too many wrong passwords. Try again at {at} (in {max(1, round(until - guess_limit.clock()))} s).")


def _password_form(password: str) -> None:
    """The login form; wrong guesses lock the session and the client for longer and longer."""
    keys = _guess_keys()
    until = guess_limit.locked_until(keys)
    if until:
        _locked_message(until)  # no form, and no comparison, until the lock ends
        return
    with st.form("login"):
        typed = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Enter", type="primary")
    if not submitted:
        return
    # compare_digest takes the same time however much of the guess is right: no timing side channel
    if hmac.compare_digest(typed.encode(), password.encode()):
        guess_limit.clear(keys)
        st.session_state[KEY] = True
        st.rerun()
    until = guess_limit.record_failure(keys)
    if until:
        _locked_message(until)
    else:
        st.error("Wrong password.")
