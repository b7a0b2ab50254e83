"""Who reaches which page: raters, researchers and everyone else (the decision, without Streamlit).

Pages come in three kinds:

``explorer``
    Home, Map, Words, Similar, Search, Results: the whole catalog's audio and
    rankings that could reveal which candidate of a trial is "right".
``researcher``
    The listening-test designer: it shows its own sign-in form.
``rater``
    The rater page, reached with a rater link.

Rules (:func:`page_allowed`):

- a rater link (the URL carries ``rater=``, or the browser session opened one)
  reaches the rater page and nothing else;
- when the explorer sign-in is required, a visitor who has not signed in as a
  researcher reaches only the researcher page (its sign-in form);
- otherwise every page is reachable.

Whether the explorer sign-in is required is a setting
(:func:`explorer_sign_in_required`): ``on``, ``off`` or ``auto`` (the default),
which requires it whenever the server listens beyond the loopback interface,
i.e. whenever Streamlit's ``server.address`` is not a loopback address (unset
means every interface).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping

from ..errors import ParameterError

#: Environment variable and Streamlit secret holding the setting (``auto``, ``on``, ``off``).
SIGN_IN_ENV = "TAGSPACE_EXPLORER_SIGN_IN"
SIGN_IN_SECRET = "explorer_sign_in"
SIGN_IN_SETTINGS = ("auto", "on", "off")
PAGE_KINDS = ("explorer", "researcher", "rater")
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def is_loopback(address: str | None) -> bool:
    """Whether a server bound to ``address`` is reachable from this machine only.

    ``None`` or ``""`` (Streamlit's default: every interface) and ``0.0.0.0``/``::``
    are not loopback; ``localhost``, ``127.x.x.x`` and ``::1`` are.
    """
    if not address:
        return False
    host = address.strip().strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost: assume it is reachable from outside
        return False


def sign_in_setting(secrets_mapping: Mapping | None = None) -> str:
    """The configured setting: secret ``explorer_sign_in``, else ``$TAGSPACE_EXPLORER_SIGN_IN``, else ``auto``.

    Raises
    ------
    ParameterError
        If the value is not one of ``auto``, ``on``, ``off``.
    """
    value = None
    if secrets_mapping is not None:
        try:
            value = secrets_mapping.get(SIGN_IN_SECRET)
        except (FileNotFoundError, KeyError):  # st.secrets without a secrets.toml
            value = None
    value = str(value or os.environ.get(SIGN_IN_ENV) or "auto").strip().lower()
    if value not in SIGN_IN_SETTINGS:
        raise ParameterError(f"{SIGN_IN_SECRET} / ${SIGN_IN_ENV} must be one of {SIGN_IN_SETTINGS}, got {value!r}")
    return value


def explorer_sign_in_required(server_address: str | None, setting: str = "auto") -> bool:
    """Whether explorer pages need the researcher sign-in.

    Parameters
    ----------
    server_address : str or None
        Streamlit's ``server.address``.
    setting : {'auto', 'on', 'off'}
        ``auto``: required unless ``server_address`` is a loopback address.
    """
    if setting not in SIGN_IN_SETTINGS:
        raise ParameterError(f"explorer sign-in setting must be one of {SIGN_IN_SETTINGS}, got {setting!r}")
    if setting == "auto":
        return not is_loopback(server_address)
    return setting == "on"


def page_allowed(kind: str, *, rater_link: bool, sign_in_required: bool, signed_in: bool) -> bool:
    """Whether a page of ``kind`` may run for this visitor (see the module docstring).

    Parameters
    ----------
    kind : {'explorer', 'researcher', 'rater'}
    rater_link : bool
        The visitor came with a rater link (now or earlier in this browser session).
    sign_in_required : bool
        From :func:`explorer_sign_in_required`.
    signed_in : bool
        The visitor signed in as a researcher.
    """
    if kind not in PAGE_KINDS:
        raise ParameterError(f"unknown page kind {kind!r}; use one of {PAGE_KINDS}")
    if rater_link:
        return kind == "rater"
    if kind == "explorer" and sign_in_required:
        return signed_in
    return True

