"""Streamlit glue shared by the pages: the workspace, cached heavy objects, error display.

Only Streamlit wiring lives here; every computation is in ``core``.
"""

from __future__ import annotations

import argparse
import mimetypes
import sys
import time
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
def open_workspace(root: str) -> Workspace:
    """The workspace at ``root``, opened once per process (raises :class:`TagspaceError` if absent)."""
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


def page_setup(page_file: str) -> Workspace:
    """The first call of every page: app navigation, the visitor's access, then the workspace.

    Parameters
    ----------
    page_file : str
        The page's ``__file__``: a page run outside ``app.py`` is handed over to it, and a
        visitor who may not see this page is stopped with a message.

    Returns
    -------
    Workspace
        The workspace the app was started on; the page stops with a readable error if it is absent.
    """
    _ensure_app_navigation(page_file)
    _researcher_gate(page_file)
    from pages._build import wait_for_build

    wait_for_build(workspace_root(), Path(page_file).stem if page_file else "")  # a build still running
    return workspace()


def workspace() -> Workspace:
    """The workspace the app was started on (opened once per process); stops the page with a readable error
    if absent. Pages call :func:`page_setup` first."""
    try:
        return open_workspace(str(workspace_root()))
    except TagspaceError as err:
        show_error(err)
        st.stop()


#: How long a computed :func:`state_key` is reused (one page run asks many times; its players once each).
STATE_KEY_SECONDS = 0.5
_last_state: tuple[str, float, str] = ("", float("-inf"), "")


def state_key(ws: Workspace) -> str:
    """What the pages' caches are keyed by: changes when a watched workspace file changes
    (:func:`core.views.state.workspace_state`), seen at most :data:`STATE_KEY_SECONDS` later."""
    global _last_state
    from core.views.state import workspace_state

    root, when, key = _last_state
    now = time.monotonic()
    if root != str(ws.root) or now - when > STATE_KEY_SECONDS:
        key = workspace_state(ws)
        _last_state = (str(ws.root), now, key)  # one tuple: threads see the old or the new one, never a mix
    return key


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
    try:
        path = audio_path(track_id)
        if full or window_s is None:
            st.audio(str(path))
            return
        data, start, end = _excerpt(str(path), float(window_s))
        st.audio(data, format="audio/wav")
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


@st.cache_resource(show_spinner=False, max_entries=4)
def _audio_paths(root: str, state: str) -> dict[str, str]:
    """Track id -> audio path (relative to the audio root); shared by all sessions, never changed."""
    tracks = workspace().catalog.tracks
    return dict(zip(tracks["track_id"], tracks["audio_path"]))


def audio_path(track_id: str) -> Path:
    """A track's audio file, never outside the audio root (a dictionary look-up, not a catalog scan per player)."""
    from core.errors import VocabularyError
    from core.paths import confined_path

    ws = workspace()
    rel = _audio_paths(str(ws.root), state_key(ws)).get(str(track_id))
    if rel is None:
        raise VocabularyError(f"unknown track id {track_id!r}")
    return confined_path(ws.audio_root, rel)


@st.cache_data(show_spinner=False, max_entries=512)
def _excerpt(path: str, window_s: float) -> tuple[bytes, float, float]:
    """The WAV excerpt a player shows and its window: the file's header is read once, not on every rerun."""
    from core.audio import audio_duration, excerpt_bytes
    from core.views.playback import excerpt_window

    start, end = excerpt_window(audio_duration(path), window_s)
    return excerpt_bytes(path, start, end), start, end


def result_rows(hits, window_s: float | None, key: str, titles: dict[str, str] | None = None,
                numbered: bool = False) -> None:
    """One row per hit: title, id and score beside the hit's player.

    ``titles`` maps track ids to titles (hits without one show their id only); ``numbered``
    puts the rank in front; ``key`` tells apart the players of several lists on one page.
    """
    for rank, hit in enumerate(hits, start=1):
        c1, c2 = st.columns([2, 3])
        if titles is None:
            c1.write(f"{code_span(hit.id)} · {hit.score:.3f}")
        else:
            title = escape_markdown(titles.get(hit.id, hit.id))
            c1.markdown(f"{f'{rank}. ' if numbered else ''}**{title}** · {code_span(hit.id)} · "
                        f"{'' if numbered else 'score '}{hit.score:.3f}")
        with c2:
            player(hit.id, window_s, key=key)


def _kept(key: str) -> str:
    return f"_kept_{key}"


def _keep_upload(key: str) -> None:
    """``on_change`` of an upload box: remember its clip (a checked one), or forget it when the box is cleared.

    The clip must outlive its box: a closed tab or the other choice of a radio removes the box,
    and Streamlit drops the file with it.
    """
    from core.views.uploads import check_upload

    upload = st.session_state.get(key)
    st.session_state.pop(_kept(key), None)
    if upload is not None:
        try:
            check_upload(upload.name, upload.size)
        except TagspaceError:
            return  # the box shows why on this rerun
        st.session_state[_kept(key)] = (upload.getvalue(), upload.name)


def _forget(key: str) -> None:
    st.session_state.pop(_kept(key), None)


def clip_upload(label: str = "Audio clip (wav, flac, ogg, mp3)", key: str = "upload",
                preview: bool = False) -> tuple[bytes | None, str | None]:
    """An upload box for one audio clip, checked by type and size; (content, file name) or (None, None).

    The clip is kept for the session: when the box comes back empty after it was gone (another
    tab or source was chosen), the clip uploaded before is used, with a button to forget it.
    Decoding (channels, sample rate and duration checked from the header first) happens in the
    engine, once per clip: its embedding is cached by content hash.
    """
    from core.audio import AUDIO_EXTENSIONS
    from core.views.uploads import check_upload

    upload = st.file_uploader(label, type=[ext.lstrip(".") for ext in AUDIO_EXTENSIONS], key=key,
                              on_change=_keep_upload, args=(key,))
    if upload is None:
        if _kept(key) not in st.session_state:
            return None, None
        data, name = st.session_state[_kept(key)]
        st.caption(f"Using {code_span(name)}, uploaded before; drop another clip above to replace it.")
        st.button("Forget this clip", key=f"{key}_forget", on_click=_forget, args=(key,))
    else:
        try:
            check_upload(upload.name, upload.size)
        except TagspaceError as err:
            show_error(err)
            return None, None
        data, name = upload.getvalue(), upload.name
    if preview:
        st.audio(data, format=(upload.type if upload else None) or mimetypes.guess_type(name)[0] or "audio/wav")
    return data, name


def has_text_side(config: dict) -> bool:
    """Whether a model (its ``config.json``) maps text into its space: its recorded capabilities, else
    asked of the model's class (configs written before capabilities were recorded)."""
    from core.families import model_class

    if "capabilities" in config:
        return "text" in config["capabilities"]
    try:
        return bool(model_class(config.get("family", "")).has_text)
    except TagspaceError:  # a family this version does not know: not offered
        return False


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


# ---------------------------------------------------------------- tracks
@st.cache_resource(show_spinner=False, max_entries=4)
def _track_titles(root: str, state: str) -> dict[str, str]:
    """Shared by all sessions and never changed (a resource: not copied on every call, unlike cached data)."""
    tracks = workspace().catalog.tracks
    return dict(zip(tracks["track_id"], tracks["title"]))


def track_titles() -> dict[str, str]:
    """Track id -> title of the workspace's catalog, built once per catalog (not on every rerun)."""
    ws = workspace()
    return _track_titles(str(ws.root), state_key(ws))


def titles_of(ids, titles: dict[str, str]) -> list:
    """The title of each id (None for an unknown id), by dictionary look-up.

    Not ``Series.map(titles)``: that turns the whole catalog's titles into a Series on every
    rerun (0.1 s at 200,000 tracks) to look up ten results.
    """
    return [titles.get(t) for t in ids]


def track_picker(label: str, key: str, default: str | None = None, search_label: str | None = None) -> str | None:
    """Search the catalog by title, artist or id and pick one track (None when nothing matches).

    The search box has key ``q_<key>``, the select box ``sel_<key>``.
    """
    from core.engine.queries import search_tracks

    query = st.text_input(search_label or f"{label}: search title, artist or id", key=f"q_{key}",
                          max_chars=MAX_QUERY_CHARS)
    try:
        found = search_tracks(workspace().catalog, query, limit=200)
    except TagspaceError as err:
        show_error(err)
        return None
    if found.empty:
        st.caption("no track matches")
        return None
    ids = found["track_id"].tolist()
    names = dict(zip(found["track_id"], found["title"]))
    index = ids.index(default) if default in ids else 0
    return st.selectbox(label, ids, index=index, key=f"sel_{key}", format_func=lambda t: f"{names[t]} · {t}")


def track_or_clip(label: str, picker_label: str, key: str, default: str | None = None,
                  upload_label: str = "Audio clip (wav, flac, ogg, mp3)", preview: bool = False,
                  no_upload: str | None = None) -> tuple[str | bytes | None, str | None]:
    """A query that is a catalog track or an uploaded clip, chosen with a radio labelled ``label``.

    Returns
    -------
    (track id, None), (clip bytes, file name), or (None, None) when nothing is chosen yet.
        The picker's widgets have keys ``q_<key>``/``sel_<key>``, the radio ``src_<key>``, the
        upload box ``<key>_upload``. ``no_upload``: why this model takes no audio (uploads are
        then not offered, and the reason is shown).
    """
    options = ["Catalog track"] if no_upload else ["Catalog track", "Upload a clip"]
    kept = st.session_state.get(_kept(f"src_{key}"))  # the choice outlives the radio (a closed tab drops it)
    source = st.radio(label, options, index=options.index(kept) if kept in options else 0,
                      horizontal=True, key=f"src_{key}")
    st.session_state[_kept(f"src_{key}")] = source
    if no_upload:
        st.caption(f"Uploads are off: {escape_markdown(no_upload)}.")
    if source == "Catalog track":
        return track_picker(picker_label, key, default=default), None
    return clip_upload(upload_label, key=f"{key}_upload", preview=preview)
