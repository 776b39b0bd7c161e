"""Fake values for the ``pseudonym`` operator: a per-thread Faker pool and keyed, reproducible generators.

Everything here is seeded from an HMAC of the value under the project's pseudonym key, so the same value gives the
same fake in every row and run. Faker is imported the first time a thread asks for :data:`fakers` ``.fake``.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import threading
from datetime import date, timedelta
from typing import Any


class FakerPool(threading.local):
    """One Faker per thread (Faker's random state is per instance and not thread-safe)."""

    def __init__(self) -> None:
        from faker import Faker

        self.fake = Faker("en_US")


fakers = FakerPool()


def seed(key: bytes, *parts: str) -> int:
    message = "\x1f".join(parts).encode("utf-8")
    return int.from_bytes(hmac.new(key, message, hashlib.sha256).digest()[:8], "big")


def match_case(original: str, fake: str) -> str:
    if original.isupper() and len(original) > 1:
        return fake.upper()
    if original.islower():
        return fake.lower()
    return fake


def replace_digits(text: str, rng: random.Random, luhn: bool = False) -> str:
    """Same layout, other digits (the first digit stays non-zero); with ``luhn`` the last digit is a check digit."""
    from workbench.core.pii.recognizers.checksums import luhn_check_digit

    digit_positions = [i for i, ch in enumerate(text) if ch.isdigit()]
    chars = list(text)
    for n, i in enumerate(digit_positions):
        chars[i] = str(rng.randint(1, 9) if n == 0 else rng.randint(0, 9))
    if luhn and len(digit_positions) >= 2:
        payload = "".join(chars[i] for i in digit_positions[:-1])
        chars[digit_positions[-1]] = luhn_check_digit(payload)
    return "".join(chars)


def replace_alnum(text: str, rng: random.Random) -> str:
    out = []
    for ch in text:
        if ch.isdigit():
            out.append(str(rng.randint(0, 9)))
        elif ch.isalpha() and ch.isascii():
            letter = chr(rng.randint(0, 25) + 65)
            out.append(letter if ch.isupper() else letter.lower())
        else:
            out.append(ch)
    return "".join(out)


def fake_cn_resident_id(text: str, rng: random.Random) -> str:
    from workbench.core.pii.recognizers.checksums import CN_PROVINCE_CODES, cn_id_check_char

    province = rng.choice(sorted(CN_PROVINCE_CODES - {71, 81, 82}))
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 60))
    first17 = f"{province:02d}{rng.randint(1, 99):02d}{rng.randint(1, 99):02d}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    return first17 + cn_id_check_char(first17)


def fake_person(text: str, key: bytes, fake: Any) -> str:
    """A fake name with as many words as the original; each word maps on its own, so "Anna" and "Anna Berg"
    get the same fake first name."""
    from workbench.core.pii.recognizers.gazetteers import gazetteers

    words = text.split()
    if not words:
        return text
    names = gazetteers()
    out = []
    for position, word in enumerate(words):
        bare = word.strip(".,")
        if len(bare) <= 1:  # an initial stays an initial
            fake.seed_instance(seed(key, "PERSON-initial", bare.upper()))
            out.append(fake.random_uppercase_letter() + word[len(bare) :] if bare else word)
            continue
        canonical = bare.title() if bare.isupper() else bare
        is_last = position == len(words) - 1 and len(words) > 1
        if len(words) == 1:
            is_last = canonical in names.last_names and canonical not in names.first_names
        fake.seed_instance(seed(key, "PERSON-last" if is_last else "PERSON-first", canonical.casefold()))
        if is_last:
            new = fake.last_name()
        elif canonical in names.female_first_names:
            new = fake.first_name_female()
        else:
            new = fake.first_name_male() if canonical in names.first_names else fake.first_name()
        out.append(match_case(bare, new))
    return " ".join(out)
