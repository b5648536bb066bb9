"""The commands for accounts and the symbiosis hub: users, match."""

from __future__ import annotations

import argparse
import json

from .common import UsageError, open_for_reading, selection


def cmd_users(args: argparse.Namespace) -> int:
    from .. import accounts

    _, generated = accounts.ensure_credentials()
    if generated:
        print(f"Created {accounts.credentials_path()} with an account 'admin'; its password, shown only now: {generated}")
    try:
        if args.action != "list" and not args.username:
            raise ValueError(f"'users {args.action}' needs a username.")
        if args.action == "list":
            for user in accounts.list_users():
                print(f"{user['username']:<20} {','.join(user['roles']):<12} {user['name']} <{user['email']}>")
        elif args.action == "add":
            import getpass

            password = args.password or getpass.getpass(f"Password for {args.username}: ")
            accounts.add_user(args.username, args.name or args.username, args.email or "", password, args.role)
            print(f"Added {args.username} as {args.role}.")
        elif args.action == "remove":
            accounts.remove_user(args.username)
            print(f"Removed {args.username}.")
        elif args.action == "set-role":
            accounts.set_role(args.username, args.role)
            print(f"{args.username} is now {args.role}.")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return 0


def cmd_match(args: argparse.Namespace) -> int:
    from .. import symbiosis

    with open_for_reading(args) as store:
        version, city, material = selection(store, args)
        tables = store.input_tables(version)
    candidates = symbiosis.match_candidates(tables, city, material)
    matches = [{
        "offer_id": r["offer_id"], "need_id": r["need_id"], "material": r["material"], "from": r["from_org"],
        "to": r["to_org"], "exchanged_kg_per_year": round(r["exchanged_kg"], 6), "distance_km": round(r["distance_km"], 3),
        "transport_eur_per_year": round(r["transport_eur_per_year"], 2), "score": round(r["score"], 6),
        "breakdown": symbiosis.breakdown(r),
    } for _, r in candidates.iterrows()]
    if args.format == "json":
        print(json.dumps({"city": city, "material": material, "dataset_version": version, "matches": matches}, indent=2))
    else:
        print(f"{city}: {len(matches)} candidate match(es), best first (dataset version {version})")
        for m in matches:
            print(f"  {m['score']:.3f}  {m['material']:<3} {m['from']} -> {m['to']}  {m['exchanged_kg_per_year']:,.3f} kg/yr, "
                  f"{m['distance_km']:,.0f} km")
    return 0
