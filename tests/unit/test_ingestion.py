"""The project data is valid, and broken data is rejected with every problem named."""

import pandas as pd
import pytest

from decision_tools import geography
from decision_tools.ingestion import read_project_tables
from decision_tools.validation_report import DataValidationError
from tests.conftest import PROJECT_DIR, write_small_data


def test_project_data_is_valid_and_complete():
    tables = read_project_tables(PROJECT_DIR / "data")
    required_materials = {"Co", "Li", "C", "Ni", "Mn", "Nd", "Pr", "Dy", "Tb", "Ga", "Ge", "In", "Ta", "W", "Pd", "Pt", "Rh", "Ag", "Cu"}
    assert required_materials <= set(tables["materials"]["symbol"])
    required_products = {"smartphone", "laptop", "ev_battery", "ev_traction_motor", "catalytic_converter", "pv_module",
                         "led_lamp", "desktop_hdd", "wind_turbine"}
    assert required_products <= set(tables["products"]["product"])
    assert set(tables["cities"]["city"]) == {"Helsinki", "Espoo", "Lappeenranta", "Delft", "Leiden", "Ghent", "Krakow"}
    assert {"Helsinki", "Ghent"} <= set(tables["districts"]["city"])
    for name, frame in tables.items():
        if "confidence" in frame.columns:
            assert frame["confidence"].notna().all(), name
            assert frame["source_id"].notna().all(), name
    cited = {source for name, frame in tables.items() if "confidence" in frame.columns
             for value in frame["source_id"] for source in value.split(";")}
    cited |= set(geography.world_outlines()["source_id"].split(";"))  # the maps' country outlines (data/geo)
    assert set(tables["sources"]["source_id"]) - cited == set(), "every listed source is cited by some row"


def _break(tmp_path, table: str, edit) -> str:
    data_dir = write_small_data(tmp_path / "data")
    frame = pd.read_csv(data_dir / f"{table}.csv", dtype=str, keep_default_na=False)
    edit(frame).to_csv(data_dir / f"{table}.csv", index=False)
    with pytest.raises(DataValidationError) as caught:
        read_project_tables(data_dir)
    return str(caught.value)


def set_cells(*changes):
    """An edit that writes (row index, column, value) changes into a table."""
    def edit(frame):
        for row, column, value in changes:
            frame.loc[row, column] = value
        return frame
    return edit


def test_negative_mass_names_row_and_column(tmp_path):
    message = _break(tmp_path, "product_content", set_cells((2, "grams_per_unit", "-3")))
    assert "product_content.csv, row 4, column 'grams_per_unit': value '-3': must be at least 0" in message


def test_bad_confidence_label_is_found_before_cross_table_rules(tmp_path):
    message = _break(tmp_path, "product_content", set_cells((0, "material", "Xx"), (1, "confidence", "certain")))
    assert "row 3, column 'confidence': value 'certain'" in message
    # Cross-table rules (the unknown material) run once every file is well-formed.
    assert "1 problem(s)" in message


def test_unknown_material_code(tmp_path):
    message = _break(tmp_path, "product_content", set_cells((0, "material", "Xx")))
    assert "product_content.csv, row 2, column 'material': value 'Xx': unknown material" in message


def test_missing_column_and_share_out_of_range(tmp_path):
    message = _break(tmp_path, "eol_routing", lambda f: f.drop(columns=["collection_rate"]))
    assert "missing column(s) collection_rate" in message
    message = _break(tmp_path / "second", "eol_routing", set_cells((0, "export_reuse_share", "1.5")))
    assert "column 'export_reuse_share': value '1.5': must be at most 1" in message


def test_duplicate_key(tmp_path):
    message = _break(tmp_path, "materials", lambda f: pd.concat([f, f.iloc[[0]]], ignore_index=True))
    assert "duplicate key (symbol=Co): appears earlier in the file" in message


def test_unlisted_source(tmp_path):
    message = _break(tmp_path, "materials", set_cells((1, "source_id", "EC_CRM_2023;NOWHERE")))
    assert "materials.csv, row 3, column 'source_id': value 'NOWHERE': not listed in sources.csv" in message


def test_broken_file_is_reported_not_raised_raw(tmp_path):
    data_dir = write_small_data(tmp_path / "data")
    (data_dir / "cities.csv").write_bytes(b"\xff\xfe\x00garbage\x00\n\x01,\x02")
    with pytest.raises(DataValidationError, match="cities.csv"):
        read_project_tables(data_dir)


def test_a_city_without_an_ownership_figure_in_its_chain_does_not_count_that_product_and_says_so(tmp_path):
    # Smartphone figures for the Netherlands only: Ghent (BEL) has none in its city, country or EU rows. The model used
    # to stop with a TypeError; now Ghent's model counts no smartphone, and the Overview's table of figures says so.
    from decision_tools import model_inputs

    data_dir = write_small_data(tmp_path / "data")
    frame = pd.read_csv(data_dir / "ownership.csv", dtype=str, keep_default_na=False)
    frame.loc[frame["product"] == "smartphone", "geography"] = "NLD"
    frame.to_csv(data_dir / "ownership.csv", index=False)
    tables = read_project_tables(data_dir)
    regions = model_inputs.regions_of(tables["cities"], tables["districts"])
    units, provenance = model_inputs.target_stock_units(tables, regions)
    phone = list(tables["products"]["product"]).index("smartphone")
    ghent, delft = (regions["city"] == "Ghent").to_numpy(), (regions["city"] == "Delft").to_numpy()
    assert units[:, ghent, phone].max() == 0 and units[:, delft, phone].max() > 0
    ghent_rows = provenance[(provenance["g"] == phone) & provenance["r"].isin(regions.index[ghent])]
    assert set(ghent_rows["confidence"]) == {"illustrative"} and set(ghent_rows["source_id"]) == {""}
    listed = model_inputs.ownership_geographies(tables["ownership"], tables["products"], "Ghent", "BEL")
    assert listed.set_index("product").at["smartphone", "level"] == model_inputs.NO_OWNERSHIP_FIGURE
