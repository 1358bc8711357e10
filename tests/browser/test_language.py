"""The language switcher in a real browser: the page changes language and stays so (issue 6, criterion 2)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow


def test_switching_language_changes_the_page(factory, new_page):
    staff = factory.staff("supervisor", email="boss@example.com")
    page = new_page()
    # The login page in English (the browser asks for en-US); switch it to Russian before signing in.
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("button", name="RU").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.get_by_role("button", name="Войти")).to_be_visible()
    # The choice is kept: sign in with the Russian labels.
    page.get_by_label("Эл. почта").fill(staff.email)
    page.get_by_label("Пароль").fill("password-123")
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("heading", name="Обзор", level=1)).to_be_visible()
    # On the queue: switch back to English from the header, and stay on the queue.
    page.get_by_role("link", name=re.compile("^Очередь")).click()
    expect(page.get_by_text("Очередь пуста: у каждого обращения есть оператор.")).to_be_visible()
    page.locator("header").get_by_role("button", name="EN").click()
    expect(page).to_have_url(re.compile(r"/queue$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_text("The queue is empty: every contact has an operator.")).to_be_visible()
    expect(page.locator("header").get_by_role("button", name="EN")).to_have_attribute("aria-pressed", "true")


def test_stored_choice_follows_the_user_to_another_browser(factory, new_page, sign_in):
    staff = factory.staff("supervisor", email="boss@example.com")
    first = new_page()
    sign_in(first, staff.email)
    first.locator("header").get_by_role("button", name="RU").click()
    expect(first.get_by_role("heading", name="Обзор", level=1)).to_be_visible()
    # A second browser (no cookie, English Accept-Language) signs in: Russian after sign-in.
    second = new_page(viewport={"width": 390, "height": 844})
    second.goto("/login")
    second.get_by_label("Email").fill(staff.email)
    second.get_by_label("Password").fill("password-123")
    second.get_by_role("button", name="Sign in").click()
    expect(second.locator("html")).to_have_attribute("lang", "ru")
    expect(second.get_by_role("heading", name="Обзор", level=1)).to_be_visible()


def test_weight_shares_are_written_in_the_pages_language_while_typing(factory, new_page, sign_in):
    anna, boris = factory.operator("Anna"), factory.operator("Boris")
    source = factory.source("Site", weights={anna: "1"})
    staff = factory.staff("supervisor", email="boss@example.com")
    page = new_page()
    sign_in(page, staff.email)
    page.locator("header").get_by_role("button", name="RU").click()
    expect(page.get_by_role("heading", name="Обзор", level=1)).to_be_visible()
    page.goto(f"/sources/{source.id}/weights")
    anna_share = page.locator(f"[data-share-for='weight-{anna.id}']")
    expect(page.locator(f"#weight-{anna.id}")).to_have_value("1,00")  # the weight as Russian writes it
    expect(anna_share).to_have_text("100,0\xa0%")  # the server's share
    page.locator(f"#weight-{boris.id}").press_sequentially("3")
    expect(anna_share).to_have_text("25,0\xa0%")  # the script's, in the same words
    page.locator(f"#weight-{boris.id}").press_sequentially(",5")  # a decimal comma is a weight too
    expect(anna_share).to_have_text("22,2\xa0%")
