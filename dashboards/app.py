"""ifs-outcomes dashboard: routes pages with st.navigation; the sidebar filters are shared by every page.

Start it with `make dashboard` or `ifs-outcomes dashboard [--clinical]` (binds to 127.0.0.1). Aggregate mode reads
only published/aggregate.duckdb; clinical mode adds the client-level pages.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run dashboards/app.py` puts dashboards/, not the project, on the path
    sys.path.insert(0, str(ROOT))

from dashboards import data_access, ui  # noqa: E402

PAGES = Path(__file__).resolve().parent / "app_pages"

# The tab icon is a file of the package: a `:material/…:` icon would be fetched from a public font server.
st.set_page_config(
    page_title="IFS outcomes", page_icon=str(Path(__file__).resolve().parent / "static" / "icon.png"), layout="wide"
)

if data_access.clinical_mode():  # the practice's own exact figures: clinical mode only, never the default
    st.sidebar.radio(
        "Figures", ["shareable", "internal"], key=data_access.AUDIENCE_KEY, horizontal=True,
        format_func={"shareable": "Shareable", "internal": "Internal (exact)"}.__getitem__,
        help="Shareable: disclosure-controlled, as published for others. Internal: every number exactly, small "
             "ones included — for the practice's own eyes, not for sharing.",
    )  # fmt: skip
try:
    meta = data_access.publication()
    st.session_state["filters"] = ui.sidebar_filters()
except data_access.PublishedDataMissing as missing:
    st.error(f"No published data yet: {missing}.")
    st.stop()

clinical = data_access.clinical_mode()
if data_access.internal_view():
    st.warning(
        "**Internal view — not for sharing.** Every number is exact, small numbers included (no disclosure "
        "control). Switch *Figures* to *Shareable* before showing this screen to anyone outside the practice.",
        icon=":material/lock:",
    )
st.sidebar.caption(
    f"Data as of **{meta.get('as_of')}** · {'**clinical mode** (client-level pages)' if clinical else 'aggregate mode'}"
    f" · code {meta.get('code_version')}"
)

pages = {
    "Practice outcomes": [
        st.Page(PAGES / "overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page(PAGES / "outcomes.py", title="Outcomes", icon=":material/trending_down:"),
        st.Page(PAGES / "self_leadership.py", title="Self-leadership", icon=":material/self_improvement:"),
        st.Page(PAGES / "ifs_process.py", title="IFS process", icon=":material/route:"),
        st.Page(PAGES / "coaching.py", title="Coaching", icon=":material/flag:"),
        st.Page(PAGES / "helping_professionals.py", title="Helping professionals", icon=":material/groups:"),
        st.Page(PAGES / "data_quality.py", title="Data quality", icon=":material/fact_check:"),
        st.Page(PAGES / "methods.py", title="Methods", icon=":material/menu_book:"),
    ]
}
if clinical:
    pages["Clinical (client-level)"] = [
        st.Page(PAGES / "alerts.py", title="Alerts", icon=":material/notifications:"),
        st.Page(PAGES / "client.py", title="Client", icon=":material/person:"),
    ]
st.navigation(pages).run()
