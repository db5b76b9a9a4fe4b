"""Invitation codes: random, easy to read aloud and type on a phone, stored only as a hash.

The alphabet leaves out the characters people confuse (0/O, 1/I/L) and U; 15 characters of it
carry log2(30^15) = 73.6 bits of entropy. Codes are shown as three groups of five
("K7QXM-3PW9D-HT4RC"); input is forgiving about case, spaces and dashes.
"""

import hashlib
import math
import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 15
GROUP = 5
ENTROPY_BITS = LENGTH * math.log2(len(ALPHABET))
SEPARATORS = re.compile(r"[\s\-_.]+")


def new_code():
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[start : start + GROUP] for start in range(0, LENGTH, GROUP))


def normalise(code):
    """The canonical form of what a person typed: upper case, no separators."""
    return SEPARATORS.sub("", code).upper()


def code_hash(code):
    """What the database keeps. A fast hash is enough: the codes are random, not chosen by people,
    and 73 bits cannot be searched by brute force before they expire."""
    return hashlib.sha256(normalise(code).encode()).hexdigest()
