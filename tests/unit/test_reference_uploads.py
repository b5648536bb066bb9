"""Reference data by upload (issue 15, item 4): sources, countries, many cities with their districts at
once, and a collection rate for one city. Hand-made tables; relations, not the demo data's totals."""

import pytest

from decision_tools import storage, uploads

SOURCES = "source_id,citation,publisher,year,url,note\n"
COUNTRIES = "country_iso3,name,lat,lon,wgi_pv_norm,source_id,confidence,note\n"
CITY = "city,country_iso3,district,population,households,lat,lon,source_id,confidence,note\n"
ROUTING = ("geography,product,from_year,hibernation_share,export_reuse_share,collection_rate,source_id,confidence,"
           "basis\n")


def check(kind, text, current):
    return uploads.check_upload(kind, text.encode("utf-8"), "upload.csv", current)


def test_a_source_can_be_added_and_a_listed_one_is_corrected_not_duplicated(current):
    listed = current["sources"]["source_id"].iloc[0]
    text = SOURCES + ("STATFI_TEST_2024,\"Statistics Finland, table 11ra: population by municipality\",Statistics Finland,"
                      "2024,https://stat.fi/,test row\n"
                      f"{listed},\"a corrected citation\",Corrected publisher,2020,,\n")
    result = check("sources", text, current)
    assert result.report.ok, result.report.problems
    sources = result.tables["sources"]
    assert len(sources) == len(current["sources"]) + 1  # one added, the listed one replaced
    assert (sources["source_id"] == listed).sum() == 1
    assert sources.set_index("source_id").at[listed, "citation"] == "a corrected citation"
    assert result.changes.set_index("table").loc["sources", ["added", "changed", "removed"]].tolist() == [1, 1, 0]
    assert result.affected_cities == []  # citations do not move any number


def test_a_new_source_can_then_be_cited(current):
    added = check("sources", SOURCES + "STATFI_TEST_2024,Statistics Finland table,Statistics Finland,2024,,\n", current)
    row = CITY + "Tampere,FIN,,250000,125000,61.5,23.76,STATFI_TEST_2024,high,\n"
    assert "unknown source id" in " ".join(check("city", row, current).report.problems)
    cited = check("city", row, added.tables)
    assert cited.report.ok, cited.report.problems


def test_a_city_in_a_country_the_data_does_not_know_needs_that_country_first(current):
    city = CITY + "Luxembourg,LUX,,134697,60000,49.61,6.13,PROJECT_ASSUMPTION,low,\n"
    refused = check("city", city, current)
    assert any("row 2, column 'country_iso3': value 'LUX': unknown country iso3" in p for p in refused.report.problems)
    country = check("countries", COUNTRIES + "LUX,Luxembourg,49.8,6.1,,PROJECT_ASSUMPTION,illustrative,test\n", current)
    assert country.report.ok, country.report.problems
    assert country.affected_cities == []
    assert len(country.tables["countries"]) == len(current["countries"]) + 1
    accepted = check("city", city, country.tables)
    assert accepted.report.ok, accepted.report.problems
    assert accepted.affected_cities == ["Luxembourg"]


def test_a_listed_country_is_corrected_not_duplicated(current):
    fin = current["countries"].set_index("country_iso3").loc["FIN"]
    result = check("countries", COUNTRIES + f"FIN,Suomi Finland,{fin['lat']},{fin['lon']},,PROJECT_ASSUMPTION,low,\n", current)
    assert result.report.ok, result.report.problems
    assert len(result.tables["countries"]) == len(current["countries"])
    assert result.tables["countries"].set_index("country_iso3").at["FIN", "name"] == "Suomi Finland"


def test_a_new_dutch_city_is_accepted_like_delft(current):
    # Delft is Dutch but NLD was not among the (supplying) countries: a new Dutch city was refused.
    assert "NLD" in set(current["cities"]["country_iso3"])
    result = check("city", CITY + "Leiden,NLD,,125000,62000,52.16,4.49,PROJECT_ASSUMPTION,low,\n", current)
    assert result.report.ok, result.report.problems


def test_three_cities_with_their_districts_in_one_file(current):
    text = CITY + (
        "Tampere,FIN,,250000,125000,61.50,23.76,PROJECT_ASSUMPTION,medium,\n"
        "Tampere,FIN,Centre,150000,,61.50,23.76,PROJECT_ASSUMPTION,low,\n"
        "Tampere,FIN,East,100000,,61.50,23.90,PROJECT_ASSUMPTION,low,\n"
        "Leiden,NLD,,120000,60000,52.16,4.49,PROJECT_ASSUMPTION,low,\n"
        "Turku,FIN,,200000,110000,60.45,22.27,PROJECT_ASSUMPTION,low,\n"
        "Turku,FIN,Keskusta,120000,,60.45,22.27,PROJECT_ASSUMPTION,low,\n"
        "Leiden,NLD,Binnenstad,120000,,52.16,4.49,PROJECT_ASSUMPTION,low,\n"  # districts may come in any order
        "Turku,FIN,Itä,80000,,60.45,22.40,PROJECT_ASSUMPTION,low,\n"
    )
    result = check("city", text, current)
    assert result.report.ok, result.report.problems
    assert sorted(result.affected_cities) == ["Leiden", "Tampere", "Turku"]
    cities, districts = result.tables["cities"], result.tables["districts"]
    assert len(cities) == len(current["cities"]) + 3
    new = districts[districts["city"].isin(["Tampere", "Leiden", "Turku"])]
    assert new.groupby("city")["district"].apply(sorted).to_dict() == {
        "Leiden": ["Binnenstad"], "Tampere": ["Centre", "East"], "Turku": ["Itä", "Keskusta"]}
    assert len(districts) == len(current["districts"]) + 5
    changes = result.changes.set_index("table")
    assert changes.at["cities", "added"] == 3 and changes.at["districts", "added"] == 5


def test_many_cities_problems_name_the_row(current):
    text = CITY + (
        "Tampere,FIN,,250000,125000,61.5,23.76,PROJECT_ASSUMPTION,medium,\n"
        "Tampere,FIN,Centre,250000,,61.5,23.76,PROJECT_ASSUMPTION,low,\n"
        "Turku,FIN,Keskusta,200000,,60.45,22.27,PROJECT_ASSUMPTION,low,\n"  # Turku has no row of its own
    )
    problems = check("city", text, current).report.problems
    assert any("row 4, column 'city': value 'Turku': a district row must name a city that has its own row" in p
               for p in problems), problems
    only_districts = check("city", CITY + "Turku,FIN,Keskusta,200000,,60.45,22.27,PROJECT_ASSUMPTION,low,\n", current)
    assert any("give every city a row of its own without a district" in p for p in only_districts.report.problems)
    twice = check("city", CITY + "Turku,FIN,,200000,1,60.45,22.27,PROJECT_ASSUMPTION,low,\n"
                             "Turku,FIN,,200000,1,60.45,22.27,PROJECT_ASSUMPTION,low,\n", current)
    assert any("row 3: duplicate key (city=Turku)" in p for p in twice.report.problems), twice.report.problems


def test_a_collection_rate_for_ghent_changes_ghent_only(small_db, tmp_path):
    db = tmp_path / "writable.duckdb"
    db.write_bytes(small_db.read_bytes())
    with storage.Store.open(db, read_only=False) as store:
        routing = store.table("eol_routing", 1)
        assert not ((routing["geography"] == "Ghent") & (routing["product"] == "smartphone")).any()
        result = uploads.check_upload("collection_rates", (ROUTING + "Ghent,smartphone,1980,0.2,0.05,0.9,PROJECT_ASSUMPTION,"
                                                           "low,test: a city's own rate\n").encode(), "r.csv",
                                      store.input_tables(1))
        assert result.report.ok, result.report.problems
        assert result.affected_cities == ["Ghent"]
        version = store.publish(result.tables, "Ghent phone collection", "", "rita")
        before = {c: store.headline(1, c, 2030, "Co")["separately_collected"].kg for c in ("Ghent", "Delft")}
        after = {c: store.headline(version, c, 2030, "Co")["separately_collected"].kg for c in ("Ghent", "Delft")}
    assert after["Ghent"] > before["Ghent"]  # 90 % of Ghent's phones collected instead of Belgium's rate
    assert after["Delft"] == pytest.approx(before["Delft"], rel=1e-12)  # the same, up to rounding in the last digit
