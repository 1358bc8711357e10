"""Source keys: what a key may be, and the key a source gets from its name."""

from __future__ import annotations

import re
import unicodedata

MAX_KEY = 64
KEY_RE = re.compile(rf"^[a-z0-9](?:[a-z0-9_-]{{0,{MAX_KEY - 2}}}[a-z0-9])?$")
FALLBACK_KEY = "source"

# Cyrillic to Latin, close to ICAO 9303 (Russian passports) but with ъ dropped like ь,
# and ё, э read as e: what a person would type for the name (Сайт салона -> sait-salona).
CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "iu",
    "я": "ia",
    # Ukrainian and Belarusian letters Russian lacks.
    "і": "i", "ї": "i", "є": "ie", "ґ": "g", "ў": "u",
}
_SEPARATORS = re.compile(r"[^a-z0-9]+")


def _latin(char: str) -> str:
    if char in CYRILLIC:
        return CYRILLIC[char]
    # Accented Latin keeps its letter (é -> e); other scripts have no ASCII part and go.
    return unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()


def key_from_name(name: str) -> str:
    """A key transliterated from the whole name, or FALLBACK_KEY when nothing of it is left."""
    # NFC first: a decomposed й (и + breve) must still find its entry in the table.
    latin = "".join(_latin(char) for char in unicodedata.normalize("NFC", name).lower())
    key = _SEPARATORS.sub("-", latin).strip("-")[:MAX_KEY].strip("-")
    return key or FALLBACK_KEY


def numbered_key(base: str, number: int) -> str:
    """The `number`th candidate for a name whose key is taken: base-2, base-3, ..., within MAX_KEY."""
    suffix = f"-{number}"
    return base[: MAX_KEY - len(suffix)].rstrip("-") + suffix
