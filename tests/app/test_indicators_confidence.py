"""The recycled-content card's confidence on the indicators page (issue 18): the weakest label of the inputs
its number comes from, not a fixed "medium"."""

import re

from decision_tools import storage, uncertainty
from decision_tools.indicators import INDICATORS
from decision_tools.provenance import weakest
from tests.app.conftest import open_page


def card_confidence(at, key: str) -> str:
    caption = next(c.value for c in at.caption if INDICATORS[key].explanation in c.value)
    return re.search(r"confidence \*\*(\w+)\*\*", caption).group(1)


def test_recycled_content_shows_the_confidence_of_its_inputs(app, small_db):
    with storage.Store.open(small_db) as store:
        tables = store.input_tables(1)
    materials = tables["materials"].set_index("symbol")
    critical = list(materials.index[materials["critical_2023"].astype(bool)])
    one = open_page(app, "pages/indicators.py", city="Ghent", year="2030", material="Co")
    assert not one.exception
    # One material: its EU end-of-life recycling input rate alone (the materials table's label for it).
    assert card_confidence(one, "recycled_content") == materials.at["Co", "confidence"]

    every = app(city="Ghent", year="2030", material="Co", all_crms="true").run()
    every.switch_page("pages/indicators.py").run()
    assert not every.exception
    sim = uncertainty.simulate(tables, "Ghent", critical, samples=2)
    expected = weakest([*materials.loc[list(sim.materials), "confidence"], sim.confidence["stock"]])
    # Several materials: averaged by the material in new products, so the city's stock counts too.
    assert card_confidence(every, "recycled_content") == expected
    assert card_confidence(every, "urban_mine_per_inhabitant") == sim.confidence["stock"]
