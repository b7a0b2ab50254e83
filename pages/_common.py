"""Streamlit glue shared by the pages: the workspace, cached heavy objects, error display.

Only Streamlit wiring lives here; every computation is in ``core``.
"""

from __future__ import annotations

import argparse
import mimetypes
import sys
from pathlib import Path

import streamlit as st

from core.errors import TagspaceError
from core.paths import default_workspace
from core.views.text import MAX_QUERY_CHARS, code_span, escape_markdown
from core.workspace import Workspace


def workspace_root() -> Path:
    """``streamlit run app.py -- --workspace DIR``, else $TAGSPACE_WORKSPACE, else the demo."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--workspace", default=None)
    args, _ = parser.parse_known_args(sys.argv[1:])
    return Path(args.workspace).expanduser() if args.workspace else default_workspace()


@st.cache_resource(show_spinner="Opening workspace…")
def _open_workspace(root: str) -> Workspace:
    return Workspace.open(root)


APP_RAN = "_tagspace_app_ran"
WANTED_PAGE = "_tagspace_wanted_page"


def _ensure_app_navigation(page_file: str | None) -> None:
    """Hand a page run outside ``app.py`` over to it, then come back to the same view.

    The first visit to a sub-path of a freshly started server runs the page file alone
    (Streamlit's older ``pages/`` mechanism), without the app's navigation or settings.
    """
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    # only when app.py is the entry point (AppTest may run a page file as its own entry point)
    if st.session_state.get(APP_RAN) or not page_file or ctx is None or Path(ctx.main_script_path).name != "app.py":
        return
    st.session_state[WANTED_PAGE] = (f"pages/{Path(page_file).name}", st.query_params.to_dict())
    st.switch_page("app.py")


def _researcher_gate(page_file: str | None) -> None:
    """Stop a page this visitor may not reach: rater links, researcher sign-in (``pages/_listening.py``)."""
    from pages._listening import stop_unless_allowed

    stop_unless_allowed(page_file)


def workspace() -> Workspace:
    """The workspace the app was started on; stops the page with a readable error if absent."""
    page_file = sys._getframe(1).f_globals.get("__file__")
    _ensure_app_navigation(page_file)
    _researcher_gate(page_file)
    from pages._build import wait_for_build

    wait_for_build(workspace_root(), Path(page_file).stem if page_file else "")  # a build still running
    try:
        return _open_workspace(str(workspace_root()))
    except TagspaceError as err:
        show_error(err)
        st.stop()


def show_error(err: Exception, hint: str | None = None) -> None:
    """Show a core error as a message with what to do — never a traceback.

    The message is shown as plain text: errors quote what a visitor typed or the URL held.
    """
    st.error(escape_markdown(err) + (f"\n\n{escape_markdown(hint)}" if hint else ""))


# ---------------------------------------------------------------- heavy objects
@st.cache_resource(show_spinner="Loading model and index…")
def _engine(root: str, model_name: str):
    from core.engine.engine import Engine

    return Engine.load(Workspace.open(root), model_name)


def engine(model_name: str):
    """The retrieval engine (model, embeddings, index) for one model, loaded once per process."""
    ws = workspace()
    return _engine(str(ws.root), model_name)


@st.cache_resource(show_spinner="Loading word vectors…")
def _word_vectors(root: str, name: str):
    from core.words import load_word_vectors

    return load_word_vectors(Workspace.open(root), name)


def word_vectors(name: str):
    """A workspace word embedding (memory-mapped), loaded once per process."""
    return _word_vectors(str(workspace().root), name)


# ------------------------------------------------------------------- URL state
def url_value(key: str, default: str | None = None) -> str | None:
    """A value from the URL's query string (so views can be shared and reopened)."""
    return st.query_params.get(key, default)


def url_text(key: str, default: str = "") -> str:
    """Query text from the URL, cut to the length the text inputs accept (:data:`MAX_QUERY_CHARS`)."""
    return str(url_value(key, default))[:MAX_QUERY_CHARS]


def set_url(**values) -> None:
    """Write values into the URL; None removes a key."""
    for key, value in values.items():
        if value is None or value == "":
            st.query_params.pop(key, None)
        elif st.query_params.get(key) != str(value):
            st.query_params[key] = str(value)


def model_picker(label: str = "Model", require=None, key: str = "model") -> str | None:
    """Select box over the workspace's models (filtered by ``require(config)``), kept in the URL."""
    ws = workspace()
    names = [n for n in ws.model_names() if require is None or require(ws.model_config(n))]
    if not names:
        st.warning("No suitable trained model in this workspace. Train one with `python -m core train`.")
        return None
    wanted = url_value(key)
    index = names.index(wanted) if wanted in names else 0
    choice = st.selectbox(label, names, index=index, key=f"pick_{key}")
    set_url(**{key: choice})
    return choice


# -------------------------------------------------------------------- playback
def player(track_id: str, window_s: float | None = 3.0, label: str | None = None, full: bool = False,
           key: str = "") -> None:
    """One audio player: a ``window_s`` excerpt cut server-side (the full clip on demand), or the full clip
    (``full``, or ``window_s`` None: a model without an input window).

    The full clip is read only once the visitor turns on its "Full clip" toggle, never on every
    rerun; ``key`` tells apart the toggles of a track shown in several places on one page.
    """
    from core.audio import audio_duration
    from core.views.playback import excerpt_window

    ws = workspace()
    try:
        path = ws.audio_path(track_id)
        if full or window_s is None:
            st.audio(str(path))
            return
        start, end = excerpt_window(audio_duration(path), window_s)
        st.audio(_excerpt(str(path), start, end), format="audio/wav")
        st.caption(f"{escape_markdown(label) + ' · ' if label else ''}excerpt {start:.2f}-{end:.2f} s")
        if st.toggle("Full clip", key=f"full_clip:{key}:{track_id}"):
            st.audio(str(path), format=mimetypes.guess_type(path.name)[0] or "audio/wav")
    except TagspaceError as err:
        st.warning(f"cannot play {code_span(track_id)}: {escape_markdown(err)}")


def result_table(frame, window_s: float | None, key: str, id_column: str = "id", titles: dict | None = None,
                 column_config: dict | None = None, max_players: int = 5) -> list[str]:
    """A result list as one table; select rows to get a player for each (at most ``max_players``).

    Returns the selected ids (in table order), so a page can act on them too.
    """
    event = st.dataframe(frame, hide_index=True, width="stretch", column_config=column_config,
                         on_select="rerun", selection_mode="multi-row", key=f"results_{key}")
    rows = sorted(event.selection.rows) if event is not None else []
    ids = [str(frame.iloc[r][id_column]) for r in rows if r < len(frame)]
    if not ids:
        st.caption("Select rows (tick the box at a row's start) to play them.")
    for tid in ids[:max_players]:
        player(tid, window_s, label=(titles or {}).get(tid, tid), key=f"row_{key}")
    if len(ids) > max_players:
        st.caption(f"Players for the first {max_players} of {len(ids)} selected rows.")
    return ids


@st.cache_data(show_spinner=False, max_entries=512)
def _excerpt(path: str, start: float, end: float) -> bytes:
    from core.audio import excerpt_bytes

    return excerpt_bytes(path, start, end)


def clip_upload(label: str = "Audio clip (wav, flac, ogg, mp3)", key: str = "upload",
                preview: bool = False) -> tuple[bytes | None, str | None]:
    """An upload box for one audio clip, checked by type and size; (content, file name) or (None, None).

    Decoding (channels, sample rate and duration checked from the header first) happens in the
    engine, once per clip: its embedding is cached by content hash.
    """
    from core.audio import AUDIO_EXTENSIONS
    from core.views.uploads import check_upload

    upload = st.file_uploader(label, type=[ext.lstrip(".") for ext in AUDIO_EXTENSIONS], key=key)
    if upload is None:
        return None, None
    try:
        check_upload(upload.name, upload.size)
    except TagspaceError as err:
        show_error(err)
        return None, None
    data = upload.getvalue()
    if preview:
        st.audio(data, format=upload.type or "audio/wav")
    return data, upload.name


def picked_engine(label: str = "Model", require=None):
    """Model picker plus its loaded engine and playback window; stops the page with a message if none.

    Returns
    -------
    (model name, Engine, excerpt seconds)
        The seconds are the model's ``input_seconds`` (None: play whole clips).
    """
    name = model_picker(label, require=require)
    if name is None:
        st.stop()
    try:
        eng = engine(name)
    except TagspaceError as err:
        show_error(err)
        st.stop()
    return name, eng, eng.model.input_seconds if eng.model is not None else None
