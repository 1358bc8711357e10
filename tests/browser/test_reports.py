"""The fairness report in a real browser, over the demo data (issue 6, criterion 2).

The demo data spreads its contacts over the last six days; some were
assigned at intake, some went to the queue. The report must draw its bar
charts (styled by app.css under the strict CSP, no inline styles) and its
tables, on a laptop and on a phone.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.helpers import PASSWORD

pytestmark = pytest.mark.slow


@pytest.fixture
def demo(app):
    from crm_web.core.extensions import db
    from crm_web.demo import load_demo

    with app.app_context():
        load_demo(db.session, password=PASSWORD)
        db.session.remove()


def test_report_draws_its_charts_for_the_demo_data(demo, new_page, sign_in):
    page = new_page()
    refused: list[str] = []
    page.on("console", lambda msg: "Content Security Policy" in msg.text and refused.append(msg.text))
    sign_in(page, "admin@example.com")

    page.locator("header.topbar nav").get_by_role("link", name="Reports").click()
    expect(page).to_have_url(re.compile(r"/reports/distribution$"))
    expect(page.get_by_role("heading", name="Fairness report", level=1)).to_be_visible()
    expect(page.locator(".report-period")).to_contain_text("30 days, UTC")

    # One grouped bar chart per demo source, each an accessible image with its title.
    charts = page.locator("svg.chart-shares")
    expect(charts).to_have_count(3)
    website = page.get_by_role("img", name="Configured and actual shares: Website form")
    expect(website).to_be_visible()
    expect(website.locator("rect.bar.bar-configured")).to_have_count(3)
    expect(website.locator("rect.bar.bar-actual")).to_have_count(3)
    for name in ("Anna Petrova", "Boris Ivanov", "Clara Smirnova"):
        expect(website.locator("g.x-labels text", has_text=name)).to_be_visible()
    # Bars have a drawn size and the colours of app.css (the CSP allows no inline style).
    bar = website.locator("rect.bar.bar-configured").first
    box = bar.bounding_box()
    assert box and box["width"] > 5 and box["height"] > 5
    assert bar.evaluate("el => getComputedStyle(el).fill") == "rgb(144, 164, 174)"
    actual_bars = page.locator("svg.chart-shares rect.bar.bar-actual").all()
    actual_heights = [b.bounding_box()["height"] for b in actual_bars]
    assert sum(1 for h in actual_heights if h > 1) >= 4, actual_heights

    # The demo spreads contacts over six days: the table counts them, some went to the queue.
    article = page.locator("article.report-source", has=page.get_by_role("heading", name="Call centre"))
    expect(article).to_contain_text(
        re.compile(r"\d+ contacts in the period:\s+\d+ assigned automatically, \d+ went to the queue")
    )
    expect(article.locator("table.report-table tbody tr")).to_have_count(2)

    queue_chart = page.get_by_role("img", name="Queue per day")
    expect(queue_chart).to_be_visible()
    expect(queue_chart.locator("rect.bar.bar-waiting").first).to_be_visible()
    # Days on which somebody waited are listed; the quiet ones are counted.
    expect(page.locator("table.queue-days tbody tr").first).to_contain_text(re.compile(r"\d"))
    expect(page.locator(".report-queue")).to_contain_text("with an empty queue and no traffic")
    assert refused == [], refused

    # Filtering by one source keeps its chart only.
    page.get_by_role("combobox", name="Source").select_option(label="Instagram")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"source=\d+"))
    expect(charts).to_have_count(1)
    expect(page.get_by_role("img", name="Configured and actual shares: Instagram")).to_be_visible()


def test_report_fits_a_phone(demo, new_page, sign_in):
    page = new_page({"width": 390, "height": 844})
    sign_in(page, "admin@example.com")
    page.goto("/reports/distribution")
    chart = page.get_by_role("img", name="Configured and actual shares: Website form")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box["width"] <= 390 and box["height"] > 100
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
