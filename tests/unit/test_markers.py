"""The unit/app/e2e markers come from a test's folder (tests/conftest.py), so `pytest -m unit` works."""

from tests.conftest import TESTS_DIR, folder_marker


def test_a_test_is_marked_by_its_folder_only(request):
    assert request.node.get_closest_marker("unit") is not None
    assert request.node.get_closest_marker("app") is None and request.node.get_closest_marker("e2e") is None


def test_folder_marker_maps_each_test_folder_and_nothing_else():
    assert folder_marker(TESTS_DIR / "unit" / "test_cli.py") == "unit"
    assert folder_marker(TESTS_DIR / "app" / "test_pages.py") == "app"
    assert folder_marker(TESTS_DIR / "e2e" / "test_browser.py") == "e2e"
    assert folder_marker(TESTS_DIR / "conftest.py") is None
    assert folder_marker(TESTS_DIR.parent / "bench" / "test_unit.py") is None


def test_the_markers_are_registered(pytestconfig):
    registered = {line.split(":")[0].strip() for line in pytestconfig.getini("markers")}
    assert {"unit", "app", "e2e"} <= registered
