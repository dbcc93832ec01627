"""The verifiable draw of a draw session (README, "Fair access: the draw").

Weighted sampling without replacement by Efraimidis-Spirakis keys, with the randomness taken from a
secret seed that is committed to before anyone enters (its SHA-256 is public from the start) and
published after the draw, so that anyone can recompute the order (``tools/draw_recompute.py``):

    u   = (first 8 bytes of HMAC-SHA256(key=seed, msg=entry_ref), big-endian, + 0.5) / 2**64
    key = ln(u) / weight                     (the log of u ** (1 / weight): larger draws first)
    order: key descending, entry_ref ascending on a tie

The seed is 64 hexadecimal characters; the HMAC key is those characters' ASCII bytes, and
``seed_sha256`` is the SHA-256 of the same bytes. Walking the order, each entry whose party fits the
seats still free is confirmed; every other entry is waitlisted in drawn order.
"""

import hashlib
import hmac
import math
import secrets
from collections.abc import Iterable

ALGORITHM = "efraimidis-spirakis/hmac-sha256/v1"


def new_seed() -> str:
    return secrets.token_hex(32)


def seed_sha256(seed: str) -> str:
    return hashlib.sha256(seed.encode("ascii")).hexdigest()


def entry_key(seed: str, entry_ref: str, weight: int) -> float:
    digest = hmac.new(seed.encode("ascii"), entry_ref.encode("ascii"), hashlib.sha256).digest()
    u = (int.from_bytes(digest[:8], "big") + 0.5) / 2**64
    return math.log(u) / weight


def drawn_order(seed: str, entries: Iterable[tuple[str, int]]) -> list[str]:
    """The entry references of ``(entry_ref, weight)`` pairs in drawn order."""
    keyed = [(-entry_key(seed, ref, weight), ref) for ref, weight in entries]
    keyed.sort()
    return [ref for _, ref in keyed]


def new_entry_ref() -> str:
    """A pseudonymous reference, published in the drawn order: it says nothing about the fan."""
    return secrets.token_hex(8)
