"""Many readers while a researcher publishes: no errors, and every read sees one version whole."""

import threading
import time

from decision_tools import storage, uploads


def test_readers_see_the_old_or_the_new_version_whole_during_a_publish(small_db, tmp_path):
    db = tmp_path / "busy.duckdb"
    db.write_bytes(small_db.read_bytes())
    store = storage.Store.open(db, read_only=False)
    seen, errors, stop = [], [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                version = store.current_version()
                chain = store.chain(version, "Ghent", 2030, "Co")
                figures = store.headline(version, "Ghent", 2030, "Co")
                seen.append((version, round(figures["in_use_stock"].kg, 9), round(float(chain["kg"].sum()), 9)))
            except Exception as exc:  # noqa: BLE001 - any error fails the test below
                errors.append(repr(exc))

    def wait_for_a_read_of(version):  # instead of a fixed sleep: as soon as a reader has seen it (or failed)
        deadline = time.monotonic() + 120
        while not errors and not any(seen_version == version for seen_version, _, _ in seen) and time.monotonic() < deadline:
            time.sleep(0.01)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_for_a_read_of(1)
        check = uploads.check_upload("composition", b"product,material,grams_per_unit,source_id,confidence,basis\n"
                                     b"smartphone,Co,4,SCRREEN,medium,measured\n", "c.csv", store.input_tables(1))
        store.publish(check.tables, "During reads", "", "rita")
        wait_for_a_read_of(2)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == []
    by_version = {}
    for version, stock, total in seen:
        by_version.setdefault(version, set()).add((stock, total))
    assert set(by_version) == {1, 2}
    assert all(len(values) == 1 for values in by_version.values())  # each version read whole, always the same
    assert by_version[1] != by_version[2]
    store.close()
