"""Compare: two models side by side — linked maps, one query in both, metric differences, disagreements.

Widgets and layout only: the logic is in ``core.compare``. Each view is a fragment,
so a selection, a query or a filter reruns only its own part of the page.
"""

import json

import streamlit as st

from core.compare.capabilities import engine_capabilities, shared_query_kinds
from core.compare.export import csv_bytes, m3u_playlist, track_table
from core.compare.maps import linked_map_figure, linked_map_trace_ids, shared_track_points
from core.compare.metrics import difference_figure, metric_difference_table, tag_difference_table
from core.compare.neighbourhoods import cache_key, cached_comparison
from core.compare.rankings import compare_query
from core.compare.triplets import aligned_vectors, as_design_triplets, most_disagreeing, opposite_triplets
from core.engine.projection import load_projection
from core.engine.queries import search_tracks
from core.errors import TagspaceError
from core.fileio import file_hash
from core.views.map import COLOR_BY, map_points, selected_ids, split_selection
from core.views.playback import window_caption
from core.views.text import MAX_QUERY_CHARS, escape_markdown
from pages._common import (clip_upload, engine, page_setup, player, result_table, set_url, show_error, titles_of,
                           track_titles, url_text, url_value)

VIEWS = {"maps": "Linked maps", "query": "One query, two lists", "metrics": "Metric differences",
         "disagree": "Disagreements"}
QUERY_LABELS = {"track": "Catalog track", "audio": "Upload a clip", "text": "Tag or text"}
MAX_POINTS = 20_000  # per map; both maps show the same sample
SELECTION = "compare_selection"  # session key: (chart key, track ids) of the latest map selection
MAX_ANCHORS = 200  # the most-disagreeing tracks searched for opposite-judgement triplets


# ------------------------------------------------------------------ caches
@st.cache_data(show_spinner=False)
def _projection_frame(root: str, model_name: str, key: str):
    """A model's cached map as a frame (``key``, the map file's name, busts this cache when it changes)."""
    from core.workspace import Workspace

    return load_projection(Workspace.open(root), "model", model_name).frame()


@st.cache_resource(show_spinner="Comparing every track's neighbours…", max_entries=8)
def _comparison(cache_dir: str, key: str, _eng_a, _eng_b, k: int):
    """Neighbourhoods of both models and their vectors in its track order (``key``: both embeddings'
    source keys, as for the disk cache)."""
    result = cached_comparison(_eng_a, _eng_b, k, cache_dir)
    return result, aligned_vectors(_eng_a, result.track_ids), aligned_vectors(_eng_b, result.track_ids)


@st.cache_data(show_spinner="Resampling the evaluation…", max_entries=16)
def _metric_tables(path: str, a: str, b: str, evaluation_hash: str, categories: dict):
    return metric_difference_table(path, a, b), tag_difference_table(path, a, b, categories)


def comparison(ws, eng_a, eng_b, k: int):
    key = json.dumps(cache_key(eng_a, eng_b, k), sort_keys=True)
    return _comparison(str(ws.cache_dir / "compare"), key, eng_a, eng_b, k)


def window_of(eng) -> float | None:
    """Seconds of the excerpts to play for a model (its input length; None: whole clips)."""
    return getattr(eng.model, "input_seconds", None) if eng.model is not None else None


def _exports(ws, frame, name: str, key: str) -> None:
    c1, c2 = st.columns(2)
    c1.download_button("CSV (ids, titles, tags, scores)", csv_bytes(frame), f"{name}.csv", "text/csv",
                        key=f"csv_{key}")
    c2.download_button("M3U playlist of the audio files", m3u_playlist(ws, frame).encode(), f"{name}.m3u",
                       "audio/x-mpegurl", key=f"m3u_{key}")


# ------------------------------------------------------------------- views
def _on_map_select(chart_key: str) -> None:
    ids, _ = split_selection(selected_ids(st.session_state.get(chart_key),
                                          st.session_state.get(f"{chart_key}_trace_ids")))
    if ids:  # a redrawn map reports no selection: keep the last one until a new one or Clear
        st.session_state[SELECTION] = (chart_key, ids)


@st.fragment
def maps_view(ws, a: str, b: str, window) -> None:
    try:
        frames = {}
        for name in (a, b):
            projection = load_projection(ws, "model", name)
            frames[name] = _projection_frame(str(ws.root), name, projection.path.name)
    except TagspaceError as err:
        show_error(err)
        return
    color_default = url_value("color", "genre")
    color_by = st.selectbox("Colour tracks by", COLOR_BY,
                            index=COLOR_BY.index(color_default) if color_default in COLOR_BY else 0)
    set_url(color=color_by)
    points_a, points_b = shared_track_points(map_points(frames[a], ws.catalog, color_by),
                                             map_points(frames[b], ws.catalog, color_by), MAX_POINTS)
    source, selected = st.session_state.get(SELECTION, (None, []))
    left, right = st.columns(2)
    for col, name, points, key, label in ((left, a, points_a, "compare_map_a", "A"),
                                          (right, b, points_b, "compare_map_b", "B")):
        with col:
            # a selection names points by (trace, index): the ids of what is drawn now
            st.session_state[f"{key}_trace_ids"] = linked_map_trace_ids(points, selected)
            st.plotly_chart(linked_map_figure(points, color_by, selected, f"{label}: {name}"),
                            on_select=lambda k=key: _on_map_select(k), selection_mode=("points", "box", "lasso"),
                            key=key)
    st.caption(f"{len(points_a):,} tracks on both maps. Drag a box or lasso on either map: the same tracks are "
               "ringed on both.")
    if not selected:
        return
    where = {"compare_map_a": "map A", "compare_map_b": "map B"}.get(source, "a map")
    st.subheader(f"{len(selected)} track(s) selected on {where}")
    if st.button("Clear selection", key="clear_selection"):
        st.session_state.pop(SELECTION, None)
        st.rerun(scope="fragment")
    frame = track_table(ws.catalog, selected)
    result_table(frame, window, "selection", id_column="track_id", titles=track_titles())
    _exports(ws, frame, "selection", "selection")


def _query_input(ws, kind: str):
    if kind == "track":
        needle = st.text_input("Search title, artist or id", key="compare_track_search", max_chars=MAX_QUERY_CHARS)
        try:
            found = search_tracks(ws.catalog, needle, limit=200)
        except TagspaceError as err:
            show_error(err)
            return None, None
        if found.empty:
            st.caption("no track matches")
            return None, None
        ids, names = found["track_id"].tolist(), dict(zip(found["track_id"], found["title"]))
        wanted = url_value("track")
        track = st.selectbox("Query track", ids, index=ids.index(wanted) if wanted in ids else 0,
                             format_func=lambda t: f"{names[t]} · {t}", key="compare_track")
        set_url(track=track)
        return track, None
    if kind == "audio":
        return clip_upload(key="compare_upload", preview=True)
    text = st.text_input("Tag or free text", value=url_text("q"), key="compare_text", max_chars=MAX_QUERY_CHARS)
    set_url(q=text)
    return (text if text.strip() else None), None


@st.fragment
def query_view(ws, a: str, b: str, eng_a, eng_b, k: int) -> None:
    window = window_of(eng_a)
    kinds = shared_query_kinds(eng_a, eng_b)
    missing = [QUERY_LABELS[q] for q in QUERY_LABELS if q not in kinds]
    wanted = url_value("qk", "track")
    kind = st.radio("Query", kinds, index=kinds.index(wanted) if wanted in kinds else 0, horizontal=True,
                    format_func=QUERY_LABELS.get, key="compare_query_kind")
    set_url(qk=kind)
    if missing:
        caps = "; ".join(f"{name}: {', '.join(sorted(engine_capabilities(eng))) or 'catalog tracks only'}"
                         for name, eng in ((a, eng_a), (b, eng_b)))
        st.caption(escape_markdown(f"Not offered: {', '.join(missing)} (both models must be able to). "
                                   f"Capabilities: {caps}."))
    query, filename = _query_input(ws, kind)
    if query is None:
        return
    if kind == "track":
        player(query, window, label="query", key="compare_query")
    try:
        result = compare_query(eng_a, eng_b, kind, query, k, filename=filename)
    except TagspaceError as err:
        show_error(err)
        return
    m1, m2, m3 = st.columns(3)
    m1.metric(f"Overlap (Jaccard@{k})", f"{result.jaccard:.2f}")
    m2.metric("Rank correlation (Spearman)", f"{result.spearman:.2f}")
    m3.metric("Returned by one model only", f"{len(result.only_a)} A · {len(result.only_b)} B")
    titles = track_titles()
    for col, side, name, eng in zip(st.columns(2), ("a", "b"), (a, b), (eng_a, eng_b)):
        with col:
            st.markdown(f"**{'A' if side == 'a' else 'B'}: {escape_markdown(name)}**")
            frame = result.frame(side)
            frame.insert(2, "title", titles_of(frame["id"], titles))
            frame["only_here"] = frame["only_here"].map({True: f"only {side.upper()}", False: "both"})
            frame = frame[["rank", "id", "title", "only_here", "score", "rank_other"]]
            result_table(frame, window_of(eng), f"query_{side}", titles=titles,
                         column_config={"score": st.column_config.NumberColumn("score", format="%.3f"),
                                        "rank_other": st.column_config.NumberColumn("rank in other"),
                                        "only_here": st.column_config.TextColumn("returned by")})
    st.caption(f"Tracks marked 'only A' / 'only B' are in one model's top {k} alone. "
               f"A: {window_caption(window_of(eng_a))} B: {window_caption(window_of(eng_b))}")


@st.fragment
def metrics_view(ws, a: str, b: str) -> None:
    path = ws.evaluation_path
    if not path.is_file():
        st.info("No evaluation yet: run `python -m core evaluate`.")
        return
    try:
        metrics, tags = _metric_tables(str(path), a, b, file_hash([path]), ws.catalog.tag_categories())
    except TagspaceError as err:
        show_error(err)
        return
    groups = ["all", *sorted(metrics["group"].unique())]
    group = st.selectbox("Category", groups, key="compare_metric_group")
    shown = metrics if group == "all" else metrics[metrics["group"] == group]
    number = st.column_config.NumberColumn(format="%.3f")
    config = {c: number for c in ("a_value", "b_value", "difference", "low", "high")}
    st.caption("A - B with the paired 95% bootstrap interval [low, high] (the evaluation's own resamples); "
               "not distinguishable when the interval covers 0.")
    chart, table = st.columns(2)
    chart.plotly_chart(difference_figure(shown, title=f"{a} - {b}"), key="compare_metric_chart")
    table.dataframe(shown, hide_index=True, width="stretch", column_config=config)
    if len(tags):
        st.subheader("Per tag (ROC-AUC)")
        tag_group = tags if group in ("all", "overall") else tags[tags["group"] == group]
        chart, table = st.columns(2)
        chart.plotly_chart(difference_figure(tag_group, "tag", f"{a} - {b}, per tag"), key="compare_tag_chart")
        table.dataframe(tag_group, hide_index=True, width="stretch", column_config=config)
    else:
        st.caption("No per-tag comparison: it needs two models with a text side.")


def _create_test_form(ws, a: str, b: str, chosen) -> None:
    from core.listening.access import app_base_url, create_raters, rater_link
    from core.listening.design import StudyDesign, create_test
    from pages._listening import listening_db, researcher_sign_in

    st.subheader("Listening test from these triplets")
    if not researcher_sign_in(ws):
        return
    with st.form("compare_listening"):
        name = st.text_input("Test name", f"{a} vs {b}", max_chars=200)
        c1, c2, c3, c4 = st.columns(4)
        n_raters = c1.number_input("Rater links", 1, 500, 5)
        n_catch = c2.number_input("Catch trials", 0, 50, 2)
        repeats = c3.slider("Repeats (sides swapped)", 0.0, 0.5, 0.1, 0.05)
        clip = c4.number_input("Clip length (s)", 0.5, 30.0, 3.0, 0.5)
        submitted = st.form_submit_button(f"Create a listening test from {len(chosen)} triplet(s)", type="primary")
    if not submitted:
        return
    design = StudyDesign(name=name, source="disagreement", models=(a, b), triplets=tuple(as_design_triplets(chosen)),
                         n_trials=len(chosen), n_catch=int(n_catch), repeat_fraction=float(repeats),
                         clip_seconds=float(clip))
    try:
        db = listening_db(ws)
        with st.spinner("Building trials…"):
            test_id = create_test(db, ws, design)
        links = create_raters(db, test_id, int(n_raters))
    except TagspaceError as err:
        show_error(err)
        return
    st.success(f"Created listening test {test_id} with {len(chosen)} disagreement trials. Its report (Listening "
               "tests page) says how often listeners side with A and with B.")
    base = app_base_url(st.context.url)
    st.dataframe([{"rater": rid, "link": rater_link(base, test_id, token)} for rid, token in links],
                 hide_index=True, width="stretch")
    st.caption("Copy the links now: only a hash of each token is stored.")


@st.fragment
def disagreement_view(ws, a: str, b: str, eng_a, eng_b, k: int, window) -> None:
    try:
        result, vectors_a, vectors_b = comparison(ws, eng_a, eng_b, k)
    except TagspaceError as err:
        show_error(err)
        return
    catalog = ws.catalog
    wanted = [t for t in (url_value("tags") or "").split(",") if t in set(catalog.tags())]
    tags = st.multiselect("Only tracks with any of these tags", catalog.tags(), default=wanted, key="compare_tags")
    set_url(tags=",".join(tags) or None)
    order = most_disagreeing(result)
    if tags:
        allowed = set(catalog.track_tags.loc[catalog.track_tags["tag"].isin(tags), "track_id"])
        order = [r for r in order if result.track_ids[r] in allowed]
    n_show = st.slider("Tracks listed", 5, 200, 25, key="compare_n_tracks")
    rows = order[:n_show]
    st.caption(f"Mean neighbour overlap (Jaccard@{k}) over {len(result.track_ids):,} tracks: "
               f"{result.jaccard.mean():.3f}. Listed: the tracks whose {k} nearest neighbours differ most.")
    ids = result.ids(rows)
    frame = track_table(catalog, ids, {"disagreement": result.disagreement[rows].round(3),
                                       f"jaccard@{k}": result.jaccard[rows].round(3)})
    result_table(frame, window, "disagree", id_column="track_id", titles=track_titles())
    _exports(ws, frame, f"disagreement-{a}-{b}", "disagree")

    st.subheader("Triplets with opposite judgements")
    st.caption("Anchor, x, y: A puts the anchor nearer x (one of its neighbours B lacks), B nearer y. "
               "Strength: the product of both standardised margins. Select rows to choose triplets.")
    anchors = order[:MAX_ANCHORS]
    triplets = opposite_triplets(result, vectors_a, vectors_b, anchors).head(200)
    if triplets.empty:
        st.info("The two models make no opposite judgements among these tracks' neighbours.")
        return
    titles = track_titles()
    shown = triplets.assign(**{side: titles_of(triplets[f"{side}_id"], titles) for side in ("anchor", "x", "y")})
    event = st.dataframe(shown[["anchor", "x", "y", "margin_a", "margin_b", "strength", "anchor_id", "x_id", "y_id"]],
                         hide_index=True, width="stretch", on_select="rerun", selection_mode="multi-row",
                         key="compare_triplets",
                         column_config={c: st.column_config.NumberColumn(format="%.3f")
                                        for c in ("margin_a", "margin_b", "strength")})
    picked = sorted(event.selection.rows) if event is not None else []
    chosen = triplets.iloc[picked] if picked else triplets.head(10)
    st.caption(f"{'Chosen' if picked else 'None selected: the 10 strongest'}: {len(chosen)} triplet(s).")
    if picked:
        first = chosen.iloc[0]
        for col, (label, tid) in zip(st.columns(3), (("anchor", first["anchor_id"]), ("x (A's pick)", first["x_id"]),
                                                     ("y (B's pick)", first["y_id"]))):
            with col:
                player(tid, window, label=label, key="triplet")
    _exports(ws, track_table(catalog, list(dict.fromkeys([*chosen["anchor_id"], *chosen["x_id"], *chosen["y_id"]]))),
             f"triplets-{a}-{b}", "triplets")
    _create_test_form(ws, a, b, chosen)


# -------------------------------------------------------------------- page
ws = page_setup(__file__)
st.title("Compare two models")
names = ws.model_names()
if len(names) < 2:
    st.warning("Comparing needs two models in this workspace. Train one with `python -m core train`.")
    st.stop()
c1, c2, c3 = st.columns([2, 2, 1])
picked = {}
for col, key, default in ((c1, "a", names[0]), (c2, "b", names[1])):
    wanted = url_value(key, default)
    picked[key] = col.selectbox(f"Model {key.upper()}", names, index=names.index(wanted) if wanted in names else 0,
                                key=f"compare_{key}")
    set_url(**{key: picked[key]})
a, b = picked["a"], picked["b"]
try:
    k_default = min(max(int(url_value("k", "10")), 1), 50)
except ValueError:
    k_default = 10
k = c3.number_input("k", 1, 50, k_default, help="neighbours compared, and results per list", key="compare_k")
set_url(k=int(k))
if a == b:
    st.info("Pick two different models.")
    st.stop()
try:
    eng_a, eng_b = engine(a), engine(b)
except TagspaceError as err:
    show_error(err)
    st.stop()
window = window_of(eng_a)  # excerpts of tracks shown for both models: A's input length
view_default = url_value("view", "maps")
view = st.radio("View", list(VIEWS), index=list(VIEWS).index(view_default) if view_default in VIEWS else 0,
                horizontal=True, format_func=VIEWS.get, key="compare_view")
set_url(view=view)
if view == "maps":
    maps_view(ws, a, b, window)
elif view == "query":
    query_view(ws, a, b, eng_a, eng_b, int(k))
elif view == "metrics":
    metrics_view(ws, a, b)
else:
    disagreement_view(ws, a, b, eng_a, eng_b, int(k), window)
