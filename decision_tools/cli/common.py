"""What every command of ``python -m decision_tools`` shares: the error line, the usage error, opening the
database for reading (a copy when the dashboard holds it), and the city, material and year asked for."""

from __future__ import annotations

import argparse
import sys

from .. import storage


def fail(message: str, code: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


class UsageError(Exception):
    """A wrong argument: said in one line, exit code 2."""


def open_for_reading(args: argparse.Namespace, *, read_only: bool = True) -> storage.Store:
    """The database for a command; a reading one works beside the running dashboard, which holds the
    file: it then reads a private copy taken now, and says so on stderr. Writing is never redirected."""
    store = storage.Store.open(args.db, read_only=read_only, copy_when_busy=read_only)
    if store.copied_from is not None:
        print(f"note: {store.copied_from} is held by another process (probably the running dashboard), so this reads "
              "a copy of it taken just now. A publish from here is handed to the running dashboard, which publishes it.", file=sys.stderr)
    return store


def selection(store: storage.Store, args: argparse.Namespace) -> tuple[int, str, str | None]:
    """The current version and the city and material asked for (case-insensitive), checked against the
    data; raises UsageError naming the valid choices."""
    version = store.current_version()
    cities = list(store.cities(version)["city"])
    materials = list(store.materials(version)["symbol"])
    city = {c.lower(): c for c in cities}.get(args.city.lower())
    if city is None:
        raise UsageError(f"unknown city '{args.city}'; choose one of: {', '.join(cities)}")
    material = None
    if args.material is not None:
        material = {m.lower(): m for m in materials}.get(args.material.lower())
        if material is None:
            raise UsageError(f"unknown material '{args.material}'; choose one of: {', '.join(materials)}")
    if getattr(args, "year", None) is not None:
        first, last = store.year_range(version)
        if not first <= args.year <= last:
            raise UsageError(f"year {args.year} is outside the modelled {first}-{last}")
    return version, city, material


def critical(tables) -> list[str]:
    from ..indicators import critical_materials

    return list(critical_materials(tables["materials"]))
