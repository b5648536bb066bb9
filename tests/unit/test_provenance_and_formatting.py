import pytest

from decision_tools.formatting import escape_markdown, format_mass, format_share
from decision_tools.provenance import join_sources, weakest


def test_weakest_label_wins():
    assert weakest(["high", "medium"]) == "medium"
    assert weakest(["medium", "illustrative", "low"]) == "illustrative"
    assert weakest(["low", "derived"]) == "derived"
    assert weakest(["high"]) == "high"


def test_weakest_rejects_unknown_and_empty():
    with pytest.raises(ValueError, match="Unknown confidence label 'sure'"):
        weakest(["high", "sure"])
    with pytest.raises(ValueError, match="No confidence labels"):
        weakest([])


def test_join_sources_unions_and_sorts():
    assert join_sources(["B;A", "A", " C ; B"]) == "A;B;C"


@pytest.mark.parametrize("kg, text", [
    (0, "0 kg"), (1234.5, "1.23 t"), (148456.2, "148 t"), (12.0, "12.0 kg"), (0.0045, "4.50 g"),
    (2.5e6, "2.50 kt"), (-5.2, "-5.20 kg"),
])
def test_format_mass(kg, text):
    assert format_mass(kg) == text


def test_format_share_is_percent_on_screen_only():
    assert format_share(0.253) == "25.3 %"


def test_escape_markdown_neutralises_links_and_html():
    escaped = escape_markdown("[click](http://evil)<script>")
    assert "[" not in escaped.replace("\\[", "") and "<" not in escaped.replace("\\<", "")
    assert len(escape_markdown("x" * 500)) <= 60


def test_readable_levers_name_products_materials_and_sources():
    import pandas as pd

    from decision_tools.labels import readable_levers

    catalogue = pd.DataFrame({"products": ["laptop;phone", "laptop"], "materials": ["all", "Co;Xx"], "source_id": ["A;B", "B"]})
    table = readable_levers(catalogue, {"laptop": "Laptop", "phone": "Smartphone"}, {"Co": "Cobalt"},
                            {"A": "EC 2023", "B": "JRC 2020"})
    assert table["products"].tolist() == ["Laptop, Smartphone", "Laptop"]
    assert table["materials"].tolist() == ["all", "Cobalt, Xx"]  # an unknown id is kept as it is
    assert table["sources"].tolist() == ["EC 2023; JRC 2020", "JRC 2020"]
