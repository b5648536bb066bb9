"""UrbanSymbiosis dashboard: page config, the shared city / year / material pickers (kept in the
URL), and navigation. Run with `make run`."""

from __future__ import annotations

import streamlit as st

import ui
from decision_tools import storage
from decision_tools.views import Selection, resolve_selection

st.set_page_config(page_title="UrbanSymbiosis", page_icon=":material/recycling:", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/location_city:", default=True),
    st.Page("pages/indicators.py", title="Circularity indicators", icon=":material/donut_large:"),
    st.Page("pages/policy.py", title="Policy intervention points", icon=":material/tune:"),
    st.Page("pages/exposure.py", title="Supply chain exposure", icon=":material/public:"),
    st.Page("pages/methods.py", title="Methods and sources", icon=":material/menu_book:"),
]
navigation = st.navigation(PAGES)  # called on every run, so Streamlit never falls back to pages/ discovery

try:
    version_id = ui.store().current_version()
except storage.StoreError as exc:
    st.error(f"The dashboard cannot open its database. {exc}")
    st.info("On the machine that serves the dashboard, `make run` rebuilds the demo database when it is missing.")
    st.stop()

cities = list(ui.reference_table(version_id, "cities")["city"])
materials = ui.reference_table(version_id, "materials")
first_year, last_year = ui.year_range(version_id)

# Check the raw URL before the widgets read it: bound widgets silently drop values they cannot
# use (falling back to the same constant defaults), and a person who followed a link deserves to know.
symbols = list(materials["symbol"])
_, notices = resolve_selection(st.query_params.to_dict(), cities, symbols, (first_year, last_year))
default = resolve_selection({}, cities, symbols, (first_year, last_year))[0]

material_names = dict(zip(materials["symbol"], materials["name"]))
with st.sidebar:
    st.markdown("### UrbanSymbiosis")
    st.caption("Critical raw materials in the city: where they sit, where they are lost, what a city can do.")
    # Widgets bound to the URL: the link always holds the view. Defaults stay constant (see views.py).
    city = st.selectbox("City", cities, index=cities.index(default.city), key="city", bind="query-params")
    year = st.slider("Year", first_year, last_year, value=default.year, key="year", bind="query-params")
    # No format_func: a bound selectbox writes the formatted option into the URL, and links say material=Co.
    material = st.selectbox("Material (symbol)", symbols, index=symbols.index(default.material), key="material",
                            bind="query-params")
    st.caption(material_names[material])
    st.caption(f"Dataset version {version_id}")

for notice in notices:
    st.warning(notice, icon="⚠️")

st.session_state["context"] = ui.Context(version_id, Selection(city=city, year=int(year), material=material))
navigation.run()
