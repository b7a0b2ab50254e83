"""Tagspace: explore, hear and judge multimodal music embeddings.

Run with ``streamlit run app.py [-- --workspace DIR]`` (or ``make run``).
Pages are listed here with ``st.navigation``; each file in ``pages/`` holds
widgets and layout only, all logic lives in ``core``.
"""

import streamlit as st

from pages._listening import handle_sign_in_link, visitor_access

st.set_page_config(page_title="Tagspace", layout="wide")
st.session_state["_tagspace_app_ran"] = True  # see pages/_common.py: _ensure_app_navigation
# Researcher gate (core.listening.roles): a rater link reaches its test only; when the server listens
# beyond localhost, explorer pages wait for the researcher sign-in; with no password set, a one-time
# sign-in link is printed in this terminal.
handle_sign_in_link()
access = visitor_access()

PAGES = {
    "Explore": [
        st.Page("pages/home.py", title="Home", url_path="home", default=True),
        st.Page("pages/map.py", title="Map", url_path="map"),
        st.Page("pages/words.py", title="Words", url_path="words"),
        st.Page("pages/similar.py", title="Similar", url_path="similar"),
        st.Page("pages/search.py", title="Search", url_path="search"),
        st.Page("pages/compare.py", title="Compare", url_path="compare"),
        st.Page("pages/results.py", title="Results", url_path="results"),
    ],
    "Listening tests": [
        st.Page("pages/listening_design.py", title="Design and report", url_path="listening"),
        st.Page("pages/listening_rate.py", title="Rater page", url_path="rate"),
    ],
}

if access.rater_link:
    # A rater's link (the root URL with ?test=..&rater=..) opens the rater page alone, with no
    # navigation. It is the root URL because the first visit to a sub-path of a freshly started
    # server shows "Page not found" (Streamlit issues 8860/9992); the root always resolves.
    page = st.navigation([st.Page("pages/listening_rate.py", title="Listening test", default=True)],
                         position="hidden")
elif not access.allows("pages/home.py"):
    page = st.navigation([st.Page("pages/listening_design.py", title="Sign in", default=True)], position="hidden")
else:
    # The built-in sidebar navigation is off (.streamlit/config.toml): before any session has run
    # this script, Streamlit would list the files of pages/ instead of these sections.
    page = st.navigation(PAGES, position="hidden")
    with st.sidebar:
        for section, pages in PAGES.items():
            st.caption(section.upper())
            for p in pages:
                st.page_link(p)
wanted = st.session_state.get("_tagspace_wanted_page")
if wanted and access.allows(wanted[0]):  # a deep link that reached a page before this script had run
    del st.session_state["_tagspace_wanted_page"]
    st.switch_page(wanted[0], query_params=wanted[1])
page.run()
