"""Check-digit algorithms used by the recognizers and by the format-preserving pseudonyms."""

from __future__ import annotations

from datetime import date

# ISO 7064 MOD 11-2 weights for the first 17 digits of a Chinese resident identity number (GB 11643-1999).
_CN_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CN_ID_CHECK = "10X98765432"

# First two digits of a resident identity number: the province-level division (GB/T 2260).
CN_PROVINCE_CODES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61,
     62, 63, 64, 65, 71, 81, 82}
)  # fmt: skip


def digits_only(text: str) -> str:
    """The decimal digits of ``text`` in order (separators dropped)."""
    return "".join(ch for ch in text if ch.isdigit())


def luhn_valid(number: str) -> bool:
    """Whether a digit string passes the Luhn (mod 10) check used by payment cards."""
    if not number.isdigit() or len(number) < 2:
        return False
    return luhn_sum(number) % 10 == 0


def luhn_sum(number: str) -> int:
    """The Luhn sum of a complete number (its check digit included)."""
    total = 0
    for position, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        if position % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total


def luhn_check_digit(payload: str) -> str:
    """The check digit that makes ``payload + digit`` Luhn-valid."""
    return str((10 - luhn_sum(payload + "0") % 10) % 10)


def cn_id_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character (``0``-``9`` or ``X``) of the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("a resident identity number has 17 digits before its check character")
    total = sum(int(d) * w for d, w in zip(first17, _CN_ID_WEIGHTS, strict=True))
    return _CN_ID_CHECK[total % 11]


def cn_id_birth_date(number: str) -> date | None:
    """The birth date encoded in digits 7-14 of an 18-character resident identity number, or ``None``."""
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def cn_resident_id_valid(number: str, today: date | None = None) -> bool:
    """Whether an 18-character string is a well-formed Chinese resident identity number.

    The province code must exist, digits 7-14 must be a real date between 1900-01-01 and today, and the last
    character must be the ISO 7064 MOD 11-2 check character of the first 17 digits.
    """
    if len(number) != 18 or not number[:17].isdigit():
        return False
    if int(number[:2]) not in CN_PROVINCE_CODES:
        return False
    born = cn_id_birth_date(number)
    if born is None or born < date(1900, 1, 1) or born > (today or date.today()):
        return False
    return cn_id_check_char(number[:17]) == number[17].upper()
