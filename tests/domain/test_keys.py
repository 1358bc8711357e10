"""Source keys: the key a source gets from its name when none is given."""

from __future__ import annotations

import unicodedata

import pytest

from crm_web.domain.keys import CYRILLIC, FALLBACK_KEY, KEY_RE, MAX_KEY, key_from_name, numbered_key


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Сайт салона", "sait-salona"),
        ("Щука", "shchuka"),
        ("Объявления Авито", "obiavleniia-avito"),
        ("Сайт салона e982", "sait-salona-e982"),
        ("Жёлтый чай, Хабаровск", "zheltyi-chai-khabarovsk"),
        ("Цветы «Юла» & Эхо", "tsvety-iula-ekho"),
        ("Подъезд, Мышь", "podezd-mysh"),
        ("Site form", "site-form"),
        ("VK: лид-формы (2024)", "vk-lid-formy-2024"),
        ("Café Ёлка", "cafe-elka"),
        ("Київ ґанок", "kiiv-ganok"),
        ("  --Call__centre--  ", "call-centre"),
        ("UPPER Case ЗАГЛАВНЫЕ", "upper-case-zaglavnye"),
        ("東京 shop", "shop"),
    ],
)
def test_a_name_is_transliterated_whole(name, key):
    assert key_from_name(name) == key
    assert KEY_RE.match(key)


@pytest.mark.parametrize("name", ["", "   ", "!!! ???", "東京", "ъьЪЬ", "—"])
def test_a_name_with_nothing_to_keep_gets_the_fallback(name):
    assert key_from_name(name) == FALLBACK_KEY


def test_a_decomposed_letter_reads_like_the_composed_one():
    assert key_from_name(unicodedata.normalize("NFD", "Йогурт Ёж")) == "iogurt-ezh"


def test_a_long_name_is_cut_to_the_limit_without_a_trailing_dash():
    key = key_from_name("Щ" * 15 + " " + "a" * 10)  # 60 letters of щ, then "-a..."
    assert len(key) <= MAX_KEY
    assert key == "shch" * 15 + "-aaa"
    assert KEY_RE.match(key_from_name("щ" * 100))
    assert key_from_name("a" * 64 + " b") == "a" * 64


def test_every_cyrillic_letter_of_russian_has_an_entry():
    russian = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
    assert set(russian) <= set(CYRILLIC)
    assert key_from_name(russian) == "abvgdeezhziiklmnoprstufkhtschshshchyeiuia"


@pytest.mark.parametrize(
    ("base", "number", "key"),
    [
        ("sait-salona", 2, "sait-salona-2"),
        ("source", 3, "source-3"),
        ("a" * 64, 2, "a" * 62 + "-2"),
        ("a" * 61 + "-bb", 10, "a" * 61 + "-10"),
        ("a" * 61 + "-bb", 2, "a" * 61 + "-2"),
    ],
)
def test_a_taken_key_gets_a_number_within_the_limit(base, number, key):
    assert numbered_key(base, number) == key
    assert KEY_RE.match(key)
