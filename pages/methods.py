"""Methods and sources: every formula in use (decision_tools/methods.md) and every source in the
current dataset version, with the confidence labels of the rows that cite it."""

from pathlib import Path

import pandas as pd
import streamlit as st

import ui
import decision_tools
from decision_tools import glossary, storage, symbiosis, validation
from decision_tools.formatting import escape_markdown
from decision_tools.provenance import CONFIDENCE_LABELS, CONFIDENCE_MEANING, factor_range_text

ctx = ui.context()
st.title("Methods and sources")
st.markdown(
    "Every number in the dashboard comes from the formulas below and the sources listed at the end, each "
    f"with a confidence label. You are looking at dataset version {ctx.version_id}."
)
ui.how_to_read("methods")

# One heading per term with its own anchor, so that /methods#hibernating-stock opens at the term; every
# glossary link on the other pages points here.
st.header("Glossary", anchor="glossary")
st.markdown("Jump to: " + " · ".join(f"[{term.name}](#{term.anchor})" for term in glossary.TERMS.values()))
for term in glossary.TERMS.values():
    st.subheader(term.name, anchor=term.anchor)
    st.markdown(term.definition)
    where = [f"Methods: {term.methods}" if term.methods else "", f"Source: {term.source}" if term.source else ""]
    if any(where):
        st.caption(" · ".join(w for w in where if w))

methods_text = (Path(decision_tools.__file__).parent / "methods.md").read_text(encoding="utf-8")
st.markdown(methods_text, unsafe_allow_html=False)

st.subheader("The labels and their spreads")
labels = pd.DataFrame({
    "label": list(CONFIDENCE_LABELS),
    "meaning": [CONFIDENCE_MEANING[c] for c in CONFIDENCE_LABELS],
    "5-95 % range of the Monte Carlo factor": [factor_range_text(c) for c in CONFIDENCE_LABELS],
})
st.dataframe(labels, hide_index=True, width="stretch")
ui.download_button(labels, "confidence_labels", "dl_labels")

st.subheader("Sources", anchor="sources")  # ui.METHODS_SOURCES_LINK points here
sources = ui.sources(ctx.version_id)
shown = sources.rename(columns={
    "source_id": "id", "confidence_labels": "confidence of citing rows", "used_in": "used in tables",
    "rows_citing": "rows citing it",
})
st.dataframe(shown, hide_index=True, width="stretch", column_config={"url": st.column_config.LinkColumn("url")})
ui.download_button(shown, f"sources_v{ctx.version_id}", "dl_sources")

st.subheader("How these numbers compare")


@ui.per_dataset(st.cache_data, show_spinner="Comparing the model with published figures ...", max_entries=8)
def external_comparison(version_id: int) -> pd.DataFrame:
    return validation.validation_table(ui.store(), version_id)


st.markdown(
    "Each published figure below (EU, national or European statistics and studies) is set next to the same "
    "quantity computed from this dataset version's model results, for the same geography and year. "
    + validation.VERDICT_RULE
)
comparison = external_comparison(ctx.version_id)
if comparison.empty:
    st.info("This dataset version holds no published figures to compare with.")
else:
    counts = comparison["verdict"].value_counts()
    st.caption(" · ".join(f"{n} {verdict}" for verdict, n in counts.items()) + f" of {len(comparison)} figures. "
               "Shares are shown in percent; scope says whether the model counts all of what the figure counts.")
    st.dataframe(validation.for_display(comparison), hide_index=True, width="stretch",
                 column_config={"ratio": st.column_config.NumberColumn(format="%.2f"),
                                "published value": st.column_config.NumberColumn(format="%.4g"),
                                "model value": st.column_config.NumberColumn(format="%.4g"),
                                "year": st.column_config.NumberColumn(format="%d")})
    ui.download_button(comparison, f"external_comparison_v{ctx.version_id}", "dl_external_comparison")

st.subheader("The data behind the model")
st.caption("Each table as stored in this dataset version, with the source and confidence of every row.")
# One table at a time, picked by name: drawing all 24 (in collapsed expanders) made this page about a third slower.
# A bound selectbox puts the text it shows into the link, so the options are the names as read (?methods_table=Offers).
table_names = {n.replace("_", " ").capitalize(): n for n in storage.INPUT_TABLES if n != "sources"}
# The bound widget drops an unknown value from the link and reruns at once: the notice is kept until a table is picked.
asked = st.query_params.get("methods_table")
if asked is not None and asked not in table_names:
    st.session_state["_methods_table_notice"] = (f"The link asked for a table '{escape_markdown(asked, 40)}' that this "
                                                 "dataset version does not have; showing the first.")
if notice := st.session_state.get("_methods_table_notice"):
    st.warning(notice, icon="⚠️")
name = table_names[st.selectbox("Table", list(table_names), key="methods_table", bind="query-params",
                                on_change=lambda: st.session_state.pop("_methods_table_notice", None),
                                help=f"{len(table_names)} input tables; each download holds the whole table.")]
# The hub's privacy rules hold here too: hidden locations and quantities stay hidden (symbiosis.input_table_as_seen).
# Whom the viewer acts for is read only for the two tables the rules touch (two queries otherwise spent on every run).
my_organisations = ui.store().owned_organisations(ctx.actor)["org_id"] if name in symbiosis.PRIVATE_TABLES else ()
table = symbiosis.input_table_as_seen(name, ui.input_tables(ctx.version_id), my_organisations)
st.dataframe(table, hide_index=True, width="stretch")
ui.download_button(table, f"{name}_v{ctx.version_id}", f"dl_{name}")
