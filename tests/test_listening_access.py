"""Researcher access and roles: scrypt hash, set-password, backoff (fake clock), one-time links, the page gate."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import stat

import pytest
from streamlit import config as st_config

from core.cli import main as cli_main
from core.errors import DataError, ParameterError
from core.listening.access import AccessDenied, create_raters
from core.listening.db import open_db
from core.listening.design import StudyDesign, create_test
from core.listening.researcher import (MIN_PASSWORD_LENGTH, SignInLinks, SignInThrottle, announce_sign_in_link,
                                       credential_path, hash_password, load_password_hash, researcher_credential,
                                       sign_in, verify_password)
from core.listening.roles import explorer_sign_in_required, is_loopback, page_allowed, sign_in_setting

PASSWORD = "a long pass phrase"


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------- roles
def test_loopback_addresses():
    for address in ("localhost", "127.0.0.1", "127.3.2.1", "::1", "[::1]", "LOCALHOST"):
        assert is_loopback(address), address
    for address in (None, "", "0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "lab.example.org"):
        assert not is_loopback(address), address


def test_explorer_sign_in_setting(monkeypatch):
    monkeypatch.delenv("TAGSPACE_EXPLORER_SIGN_IN", raising=False)
    assert sign_in_setting({}) == "auto"
    assert explorer_sign_in_required("0.0.0.0") and explorer_sign_in_required(None)
    assert not explorer_sign_in_required("localhost") and not explorer_sign_in_required("127.0.0.1")
    assert explorer_sign_in_required("localhost", "on") and not explorer_sign_in_required("0.0.0.0", "off")
    monkeypatch.setenv("TAGSPACE_EXPLORER_SIGN_IN", "OFF")
    assert sign_in_setting({}) == "off" and sign_in_setting({"explorer_sign_in": "on"}) == "on"
    monkeypatch.setenv("TAGSPACE_EXPLORER_SIGN_IN", "maybe")
    with pytest.raises(ParameterError, match="auto"):
        sign_in_setting({})


def test_page_access_rules():
    kinds = {"home": "explorer", "similar": "explorer", "design": "researcher", "rate": "rater"}

    def reachable(**visitor):
        return [page for page, kind in kinds.items() if page_allowed(kind, **visitor)]

    # a rater link reaches its test only, signed in or not, gate or not
    for required in (True, False):
        for signed in (True, False):
            assert reachable(rater_link=True, sign_in_required=required, signed_in=signed) == ["rate"]
    assert reachable(rater_link=False, sign_in_required=True, signed_in=False) == ["design", "rate"]
    assert reachable(rater_link=False, sign_in_required=True, signed_in=True) == list(kinds)
    assert reachable(rater_link=False, sign_in_required=False, signed_in=False) == list(kinds)
    with pytest.raises(ParameterError):
        page_allowed("admin", rater_link=False, sign_in_required=False, signed_in=True)


# ------------------------------------------------------------- password
def test_hash_is_salted_scrypt_with_its_parameters_and_no_password():
    one, two = hash_password(PASSWORD), hash_password(PASSWORD)
    assert one["salt"] != two["salt"] and one["hash"] != two["hash"]
    assert PASSWORD not in json.dumps(one)
    reference = hashlib.scrypt(PASSWORD.encode(), salt=base64.b64decode(one["salt"]), n=one["n"], r=one["r"],
                               p=one["p"], dklen=one["dklen"])
    assert base64.b64decode(one["hash"]) == reference
    assert one["algorithm"] == "scrypt" and one["n"] >= 2**14
    assert verify_password(PASSWORD, one) and verify_password(PASSWORD, two)
    assert not verify_password(PASSWORD + " ", one) and not verify_password("", one)


def test_forged_credentials_are_refused(listening_ws):
    good = hash_password(PASSWORD)
    for bad in ({**good, "n": 2**30}, {**good, "n": 1000}, {**good, "r": True}, {**good, "algorithm": "md5"},
                {**good, "salt": "***"}, {**good, "dklen": 16}):
        with pytest.raises(DataError):
            verify_password(PASSWORD, bad)
    path = credential_path(listening_ws)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format_version": 1, **good, "n": 2**30}))
    with pytest.raises(DataError, match="researcher.json"):
        load_password_hash(listening_ws)


def test_set_password_command_stores_only_the_hash(listening_ws, monkeypatch, capsys):
    monkeypatch.delenv("TAGSPACE_RESEARCHER_PASSWORD", raising=False)
    root = str(listening_ws.root)
    assert researcher_credential(listening_ws, {}) is None
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli_main(["listening", "set-password", "--workspace", root]) == 2
    assert f"at least {MIN_PASSWORD_LENGTH} characters" in capsys.readouterr().err
    assert not credential_path(listening_ws).exists()
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli_main(["listening", "set-password", "--workspace", root]) == 0
    assert "scrypt hash" in capsys.readouterr().out
    path = credential_path(listening_ws)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert PASSWORD not in path.read_text()
    stored = researcher_credential(listening_ws, {})
    assert verify_password(PASSWORD, stored)
    # the stored hash wins over a plain-text password in the environment
    monkeypatch.setenv("TAGSPACE_RESEARCHER_PASSWORD", "another long password")
    assert researcher_credential(listening_ws, {}) == stored


def test_plain_text_password_is_hashed_on_first_use(listening_ws, monkeypatch):
    monkeypatch.setenv("TAGSPACE_RESEARCHER_PASSWORD", "environment pass")
    credential = researcher_credential(listening_ws, {})
    assert "environment pass" not in json.dumps(credential) and verify_password("environment pass", credential)
    assert researcher_credential(listening_ws, {}) is credential  # hashed once per process
    secret = researcher_credential(listening_ws, {"listening_password": "secret wins here"})
    assert verify_password("secret wins here", secret)
    monkeypatch.setenv("TAGSPACE_RESEARCHER_PASSWORD", "short")
    with pytest.raises(ParameterError, match="at least"):
        researcher_credential(listening_ws, {})


# -------------------------------------------------------------- backoff
def test_backoff_per_client_doubles_after_free_attempts():
    clock = FakeClock()
    throttle = SignInThrottle(clock=clock, free_attempts=3, base_delay_s=1.0, max_delay_s=8.0, global_free=100)
    me, other = ["session:me", "ip:10.0.0.1"], ["session:other", "ip:10.0.0.2"]
    for _ in range(2):
        throttle.failed(me)
    assert throttle.wait_s(me) == 0  # free attempts
    throttle.failed(me)
    assert throttle.wait_s(me) == 1.0
    with pytest.raises(AccessDenied, match="try again in 1 s"):
        throttle.check(me)
    assert throttle.wait_s(other) == 0  # another client is not slowed down
    assert throttle.wait_s(["session:new", "ip:10.0.0.1"]) == 1.0  # a new session from the same address is
    clock.now += 1.0
    throttle.check(me)
    waits = []
    for _ in range(5):
        throttle.failed(me)
        waits.append(throttle.wait_s(me))
    assert waits == [2.0, 4.0, 8.0, 8.0, 8.0]  # doubling, capped
    clock.now += 8.0
    throttle.succeeded(me)
    throttle.failed(me)
    assert throttle.wait_s(me) == 0  # a success starts the count again


def test_global_backoff_stops_attackers_who_rotate_sessions():
    clock = FakeClock()
    throttle = SignInThrottle(clock=clock, free_attempts=3, global_free=10, global_window_s=600.0,
                              base_delay_s=1.0, global_max_delay_s=60.0)
    for i in range(9):
        throttle.failed([f"session:{i}", f"ip:10.0.{i}.1"])
    assert throttle.wait_s(["session:fresh"]) == 0
    throttle.failed(["session:9", "ip:10.0.9.1"])
    assert throttle.wait_s(["session:fresh"]) == 1.0
    for i in range(10, 20):
        throttle.failed([f"session:{i}"])
    assert throttle.wait_s(["session:fresh"]) == 60.0  # capped
    clock.now += 601.0  # failures older than the window no longer count
    assert throttle.wait_s(["session:fresh"]) == 0


def test_sign_in_checks_the_wait_before_the_password():
    clock = FakeClock()
    throttle = SignInThrottle(clock=clock, free_attempts=1, base_delay_s=5.0)
    credential = hash_password(PASSWORD)
    client = ["session:x"]
    with pytest.raises(AccessDenied, match="wrong password"):
        sign_in("guess", credential, throttle, client)
    with pytest.raises(AccessDenied, match="try again in 5 s"):
        sign_in(PASSWORD, credential, throttle, client)  # even the right password waits
    clock.now += 5.0
    sign_in(PASSWORD, credential, throttle, client)
    with pytest.raises(AccessDenied, match="no researcher password is configured"):
        sign_in(PASSWORD, None, throttle, client)


# ------------------------------------------------------- one-time links
def test_one_time_links_are_single_use_and_expire():
    clock = FakeClock()
    links = SignInLinks(clock=clock, ttl_s=60.0)
    token = links.issue_unless_open()
    assert len(token) >= 40 and links.issue_unless_open() is None  # one open link at a time
    assert not links.redeem(token + "x") and not links.redeem("") and not links.redeem("y" * 10_000)
    assert links.redeem(token) and not links.redeem(token)
    late = links.issue_unless_open()
    assert late != token
    clock.now += 61.0
    assert not links.redeem(late)
    assert links.issue_unless_open() is not None  # an expired link no longer blocks a new one


def test_the_link_is_announced_once_and_only_without_a_password():
    links, printed = SignInLinks(), []
    assert announce_sign_in_link(links, hash_password(PASSWORD), "http://localhost:8501", printed.append) is None
    first = announce_sign_in_link(links, None, "http://localhost:8501", printed.append)
    assert first.startswith("http://localhost:8501/?signin=")
    assert announce_sign_in_link(links, None, "http://localhost:8501", printed.append) is None  # still open
    assert len(printed) == 1 and first in printed[0]
    assert links.redeem(first.split("signin=")[1])
    second = announce_sign_in_link(links, None, "http://localhost:8501", printed.append)
    assert second != first and len(printed) == 2  # a new token after the first was used, never the same twice


# ------------------------------------------------------------ the app
@pytest.fixture
def served_on(monkeypatch):
    """Set Streamlit's server.address for an AppTest run (restored afterwards)."""
    before = st_config.get_option("server.address")

    def serve(address):
        st_config.set_option("server.address", address)

    yield serve
    st_config.set_option("server.address", before)


def _app(path, ws, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("TAGSPACE_WORKSPACE", str(ws.root))
    monkeypatch.delenv("TAGSPACE_LISTENING_DB", raising=False)
    monkeypatch.delenv("TAGSPACE_EXPLORER_SIGN_IN", raising=False)
    return AppTest.from_file(path, default_timeout=60)


def test_network_server_gates_explorer_pages(listening_ws, monkeypatch, served_on):
    monkeypatch.setenv("TAGSPACE_RESEARCHER_PASSWORD", PASSWORD)
    served_on("0.0.0.0")
    home = _app("../pages/home.py", listening_ws, monkeypatch)
    home.run()
    assert not home.exception and "sign in as a researcher" in home.warning[0].value
    assert not home.metric and not home.dataframe  # nothing of the catalog
    app = _app("../app.py", listening_ws, monkeypatch)
    app.run()
    assert not app.exception and [t.value for t in app.title] == ["Listening tests"]  # the sign-in page only
    assert not app.tabs
    app.text_input[0].input(PASSWORD)
    app.button[0].click().run()
    assert not app.exception and [t.label for t in app.tabs] == ["Design", "Rater links", "Report"]
    app.switch_page("pages/home.py").run()
    assert not app.exception and [t.value for t in app.title] == ["Tagspace"] and app.metric
    served_on("127.0.0.1")
    home = _app("../pages/home.py", listening_ws, monkeypatch)
    home.run()
    assert not home.exception and home.metric  # a local server needs no sign-in
    assert not any("sign in" in w.value for w in home.warning)


def test_rater_link_reaches_only_its_test(listening_ws, monkeypatch, served_on):
    served_on("127.0.0.1")
    db = open_db(listening_ws)
    test_id = create_test(db, listening_ws, StudyDesign(name="r", n_trials=2, dimensions=("genre",), n_catch=0,
                                                       repeat_fraction=0))
    (_, token), = create_raters(db, test_id, 1)
    app = _app("../app.py", listening_ws, monkeypatch)
    app.query_params.update({"test": test_id, "rater": token})
    app.run()
    assert not app.exception and [t.value for t in app.title] == ["Listening test"]
    app.query_params.pop("rater")
    app.query_params.pop("test")
    app.run()  # the same browser session without the link: still the rater page only
    assert [t.value for t in app.title] == ["Listening test"]
    app.switch_page("pages/home.py")
    app.run()  # forced onto an explorer page: the page itself stops
    assert [e.value for e in app.error] == ["This link opens a listening test only."] and not app.metric
    home = _app("../pages/home.py", listening_ws, monkeypatch)
    home.session_state["_tagspace_rater_session"] = True
    home.run()
    assert "listening test only" in home.error[0].value and not home.metric
    db.dispose()


def test_fresh_app_without_password_prints_a_one_time_link(listening_ws, monkeypatch, served_on, capsys):
    from pages._listening import _links

    _links.clear()  # a fresh app process: no link issued yet (earlier tests ran app.py in this process)
    monkeypatch.delenv("TAGSPACE_RESEARCHER_PASSWORD", raising=False)
    served_on("127.0.0.1")
    app = _app("../app.py", listening_ws, monkeypatch)
    app.run()  # the first visit, to Home: the link is printed at once, as Jupyter does
    links = re.findall(r"http://localhost:\d+/\?signin=(\S+)", capsys.readouterr().out)
    assert not app.exception and len(links) == 1
    app = _app("../app.py", listening_ws, monkeypatch)
    app.switch_page("pages/listening_design.py").run()
    assert not app.exception and "one-time sign-in link" in app.info[0].value and not app.tabs
    assert "signin=" not in capsys.readouterr().out  # printed once while it is unused
    visitor = _app("../app.py", listening_ws, monkeypatch)
    visitor.query_params["signin"] = links[0]
    visitor.switch_page("pages/listening_design.py")
    visitor.run()
    assert not visitor.exception and [t.label for t in visitor.tabs] == ["Design", "Rater links", "Report"]
    assert "signin" not in visitor.query_params  # the token leaves the URL
    again = _app("../app.py", listening_ws, monkeypatch)
    again.query_params["signin"] = links[0]
    again.switch_page("pages/listening_design.py")
    again.run()
    assert "already used" in again.error[0].value and not again.tabs
    assert links[0] not in capsys.readouterr().out  # never printed twice
