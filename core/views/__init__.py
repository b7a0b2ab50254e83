"""Pure functions behind the pages: figures, tables and URL state, without Streamlit."""
