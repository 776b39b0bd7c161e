"""Dates read from text in common layouts, and written back in the same layout (for date shifts and
generalization)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")  # fmt: skip
_MONTH_INDEX = {m.lower(): i + 1 for i, m in enumerate(_MONTHS)} | {m[:3].lower(): i + 1 for i, m in enumerate(_MONTHS)}
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})((?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?)$")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_DOT_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_MONTH_DAY_YEAR = re.compile(r"^([A-Za-z]{3,9})\.? (\d{1,2})(?:st|nd|rd|th)?,? (\d{4})$")
_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)? ([A-Za-z]{3,9})\.?,? (\d{4})$")
_MONTH_YEAR = re.compile(r"^([A-Za-z]{3,9})\.? (\d{4})$")


@dataclass(frozen=True, slots=True)
class ParsedDate:
    """A date read from text, remembering its layout so that a changed date is written the same way.

    ``style`` is one of ``iso``, ``us`` (03/14/2024), ``dot`` (14.03.2024), ``mdy`` (March 14, 2024), ``dmy``
    (14 March 2024) and ``my`` (March 2024).
    """

    value: date
    style: str
    suffix: str = ""  # an ISO time part, kept as it is
    short_month: bool = False
    padded: bool = True

    @property
    def has_day(self) -> bool:
        return self.style != "my"

    def format(self, d: date) -> str:
        """``d`` in this date's layout."""
        month = _month_name(d.month, self.short_month)
        if self.style == "iso":
            return d.isoformat() + self.suffix
        if self.style == "us":
            return f"{d.month:02d}/{d.day:02d}/{d.year}" if self.padded else f"{d.month}/{d.day}/{d.year}"
        if self.style == "dot":
            return f"{d.day:02d}.{d.month:02d}.{d.year}"
        if self.style == "mdy":
            return f"{month} {d.day}, {d.year}"
        if self.style == "dmy":
            return f"{d.day} {month} {d.year}"
        return f"{month} {d.year}"


def parse_date(text: str) -> ParsedDate | None:
    """Read a date in a common layout (ISO, 03/14/2024, 14.03.2024, March 14, 2024, 14 March 2024, March 2024).

    Returns ``None`` for anything else (relative dates, times alone, ambiguous text).
    """
    s = text.strip()
    try:
        if m := _ISO_DATE.match(s):
            return ParsedDate(date(int(m[1]), int(m[2]), int(m[3])), "iso", suffix=m.group(4))
        if m := _US_DATE.match(s):
            return ParsedDate(date(int(m[3]), int(m[1]), int(m[2])), "us", padded=len(m[1]) == 2)
        if m := _DOT_DATE.match(s):
            return ParsedDate(date(int(m[3]), int(m[2]), int(m[1])), "dot")
        if (m := _MONTH_DAY_YEAR.match(s)) and m[1].lower() in _MONTH_INDEX:
            return ParsedDate(date(int(m[3]), _MONTH_INDEX[m[1].lower()], int(m[2])), "mdy", short_month=len(m[1]) == 3)
        if (m := _DAY_MONTH_YEAR.match(s)) and m[2].lower() in _MONTH_INDEX:
            return ParsedDate(date(int(m[3]), _MONTH_INDEX[m[2].lower()], int(m[1])), "dmy", short_month=len(m[2]) == 3)
        if (m := _MONTH_YEAR.match(s)) and m[1].lower() in _MONTH_INDEX:
            return ParsedDate(date(int(m[2]), _MONTH_INDEX[m[1].lower()], 1), "my", short_month=len(m[1]) == 3)
    except ValueError:  # 2024-02-30 and the like
        return None
    return None


def _month_name(month: int, short: bool) -> str:
    name = _MONTHS[month - 1]
    return name[:3] if short else name
