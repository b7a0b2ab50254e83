"""Tagspace: explore, hear and judge multimodal music embeddings.

Run with ``streamlit run app.py [-- --workspace DIR]`` (or ``make run``).
Pages are listed here with ``st.navigation``; each file in ``pages/`` holds
widgets and layout only, all logic lives in ``core``.
"""

import streamlit as st

st.set_page_config(page_title="Tagspace", layout="wide")

PAGES = {
    "Explore": [
        st.Page("pages/home.py", title="Home", url_path="home", default=True),
        st.Page("pages/map.py", title="Map", url_path="map"),
        st.Page("pages/words.py", title="Words", url_path="words"),
        st.Page("pages/similar.py", title="Similar", url_path="similar"),
        st.Page("pages/search.py", title="Search", url_path="search"),
        st.Page("pages/results.py", title="Results", url_path="results"),
    ],
    "Listening tests": [
        st.Page("pages/listening_design.py", title="Listening tests", url_path="listening"),
        st.Page("pages/listening_rate.py", title="Rate (rater link)", url_path="rate"),
    ],
}

if "rater" in st.query_params:
    # A rater's link (the root URL with ?test=..&rater=..) opens the rater page alone, with no
    # navigation. It is the root URL because the first visit to a sub-path of a freshly started
    # server shows "Page not found" (Streamlit issues 8860/9992); the root always resolves.
    page = st.navigation([st.Page("pages/listening_rate.py", title="Listening test", default=True)],
                         position="hidden")
else:
    page = st.navigation(PAGES)
page.run()
