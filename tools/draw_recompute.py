#!/usr/bin/env python3
"""Recompute a draw's order from what the session publishes, with nothing but Python's standard
library, and say whether it agrees (README, "Fair access: the draw").

    python3 tools/draw_recompute.py https://aperture.example/api/sessions/42/draw/order/
    python3 tools/draw_recompute.py order.json          # the same document, saved

Exit status 0 when the published order is the recomputed one, 1 otherwise.
"""

import hashlib
import hmac
import json
import math
import sys
import urllib.request


def entry_key(seed: str, entry_ref: str, weight: int) -> float:
    digest = hmac.new(seed.encode("ascii"), entry_ref.encode("ascii"), hashlib.sha256).digest()
    u = (int.from_bytes(digest[:8], "big") + 0.5) / 2**64
    return math.log(u) / weight


def recompute(published: dict) -> list[str]:
    entries = [(e["entry_ref"], e["weight"]) for e in published["order"]]
    keyed = sorted((-entry_key(published["seed"], ref, weight), ref) for ref, weight in entries)
    return [ref for _, ref in keyed]


def load(source: str) -> dict:
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=30) as response:  # noqa: S310 - the user's URL
            return json.load(response)
    with open(source, encoding="utf-8") as file:
        return json.load(file)


def main(argv: list[str]) -> int:
    published = load(argv[1])
    if hashlib.sha256(published["seed"].encode("ascii")).hexdigest() != published.get("seed_sha256"):
        print("the seed does not match the SHA-256 published before the draw")
        return 1
    ours = recompute(published)
    theirs = [e["entry_ref"] for e in published["order"]]
    print(f"{len(ours)} entries, algorithm {published['algorithm']}")
    print("the published order is the recomputed one" if ours == theirs else "the orders DIFFER")
    return 0 if ours == theirs else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
