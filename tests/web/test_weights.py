"""/sources/<id>/weights: one row per operator, validated weights, live and saved shares."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from markupsafe import escape
from sqlalchemy import select

from crm_web.core.extensions import db
from crm_web.domain.weights import parse_weight
from crm_web.models import Distribution
from crm_web.services.operators import delete_operator
from crm_web.services.sources import replace_distribution


@pytest.fixture
def team(factory):
    """Three operators; a source that sends to Anna (3) and Boris (1)."""
    anna = factory.operator("Anna", max_load=5)
    boris = factory.operator("Boris", max_load=2)
    clara = factory.operator("Clara", is_active=False)
    source = factory.source(name="Website form", key="website-form", weights={anna: "3", boris: "1"})
    return source, anna, boris, clara


@pytest.fixture
def rules(app):
    """The saved table of a source as {operator_id: Decimal}."""

    def read(source_id: int) -> dict[int, Decimal]:
        with app.app_context():
            query = select(Distribution.operator_id, Distribution.weight)
            rows = db.session.execute(query.where(Distribution.source_id == source_id)).all()
            db.session.remove()
        return {op: Decimal(weight) for op, weight in rows}

    return read


def page(response) -> str:
    return response.get_data(as_text=True)


def share_of(html: str, operator_id: int) -> str:
    match = re.search(rf'data-share-for="weight-{operator_id}">([^<]*)<', html)
    assert match, f"no share cell for operator {operator_id}"
    return match.group(1)


def test_anonymous_visitors_are_sent_to_login(client, team):
    source = team[0]
    response = client.get(f"/sources/{source.id}/weights")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_operator_users_get_403_and_nothing_changes(client, sign_in, csrf, rules, team):
    source, anna, boris, clara = team
    sign_in("operator")
    assert client.get(f"/sources/{source.id}/weights").status_code == 403
    response = client.post(
        f"/sources/{source.id}/weights",
        data={f"weight-{anna.id}": "1", f"weight-{clara.id}": "9", "csrf_token": csrf("/")},
    )
    assert response.status_code == 403
    assert rules(source.id) == {anna.id: Decimal("3"), boris.id: Decimal("1")}


def test_a_post_without_csrf_token_is_400_and_changes_nothing(client, sign_in, rules, team):
    source, anna, boris, clara = team
    sign_in()
    response = client.post(
        f"/sources/{source.id}/weights", data={f"weight-{anna.id}": "1", f"weight-{clara.id}": "9"}
    )
    assert response.status_code == 400
    assert rules(source.id) == {anna.id: Decimal("3"), boris.id: Decimal("1")}


def test_unknown_source_is_404(client, sign_in, csrf):
    sign_in()
    assert client.get("/sources/4242/weights").status_code == 404
    assert client.post("/sources/4242/weights", data={"csrf_token": csrf("/")}).status_code == 404


def test_one_row_per_live_operator_with_state_load_weight_and_saved_share(client, sign_in, factory, team):
    source, anna, boris, clara = team
    gone = factory.operator("Gone")
    factory._call(delete_operator, gone.id)
    sign_in()
    html = page(client.get(f"/sources/{source.id}/weights"))
    assert "data-weights" in html
    for op in (anna, boris, clara):
        assert f'name="weight-{op.id}"' in html
        assert f'data-share-for="weight-{op.id}"' in html
    assert f'name="weight-{gone.id}"' not in html and "Gone" not in html
    assert re.search(rf'name="weight-{anna.id}" value="3.00" data-weight', html)
    assert re.search(rf'name="weight-{clara.id}" value="" data-weight', html)
    assert share_of(html, anna.id) == "75.0%"
    assert share_of(html, boris.id) == "25.0%"
    assert share_of(html, clara.id) == "—"
    assert "0 / 5" in html and "0 / 2" in html  # loads against max_load
    assert "paused" in html  # Clara's state
    assert 'name="csrf_token"' in html


def test_saving_replaces_the_whole_table(client, sign_in, csrf, rules, team):
    source, anna, boris, clara = team
    sign_in()
    url = f"/sources/{source.id}/weights"
    response = client.post(
        url,
        data={f"weight-{anna.id}": "10.5", f"weight-{boris.id}": "", f"weight-{clara.id}": " 2,5 ",
              "csrf_token": csrf(url)},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == url
    assert rules(source.id) == {anna.id: Decimal("10.50"), clara.id: Decimal("2.50")}
    html = page(client.get(url))
    assert "Weights of Website form saved." in html
    # Shares after saving come from the saved table.
    assert share_of(html, anna.id) == "80.8%"
    assert share_of(html, clara.id) == "19.2%"
    assert share_of(html, boris.id) == "—"
    assert re.search(rf'name="weight-{clara.id}" value="2.50"', html)


def test_all_weights_empty_removes_every_rule(client, sign_in, csrf, rules, team):
    source = team[0]
    sign_in()
    url = f"/sources/{source.id}/weights"
    response = client.post(url, data={"csrf_token": csrf(url)})
    assert response.status_code == 303
    assert rules(source.id) == {}


def test_fields_of_unknown_operators_are_ignored(client, sign_in, csrf, rules, team):
    source, anna, boris, clara = team
    sign_in()
    url = f"/sources/{source.id}/weights"
    response = client.post(
        url, data={f"weight-{anna.id}": "1", "weight-999999": "5", "csrf_token": csrf(url)}
    )
    assert response.status_code == 303
    assert rules(source.id) == {anna.id: Decimal("1")}


def domain_message(weight: str) -> str:
    """What the domain says about an invalid weight: the page shows exactly that."""
    with pytest.raises(ValueError) as exc:
        parse_weight(weight)
    return str(exc.value)


@pytest.mark.parametrize(
    "weight",
    ["abc", "0", "0.00", "-1", "1000", "999.999", "1.234", "0.001", "NaN", "Infinity", "1e2", "1_5", "10..5"],
)
def test_an_invalid_weight_is_422_shown_next_to_its_field_and_nothing_is_saved(
    client, sign_in, csrf, rules, team, weight
):
    message = escape(domain_message(weight))
    source, anna, boris, clara = team
    sign_in()
    url = f"/sources/{source.id}/weights"
    response = client.post(
        url,
        data={f"weight-{anna.id}": "7", f"weight-{boris.id}": weight, f"weight-{clara.id}": "",
              "csrf_token": csrf(url)},
    )
    assert response.status_code == 422
    html = page(response)
    assert re.search(
        rf'aria-invalid="true" aria-describedby="weight-{boris.id}-error"', html
    ), "the field is not marked invalid"
    assert f'<small id="weight-{boris.id}-error" class="field-error">{message}</small>' in html
    assert "1 weight is invalid; nothing was saved." in html
    # What was typed stays in the form, valid values included.
    assert f'name="weight-{anna.id}" value="7"' in html
    assert rules(source.id) == {anna.id: Decimal("3"), boris.id: Decimal("1")}


def test_several_invalid_weights_each_get_their_error(client, sign_in, csrf, rules, team):
    source, anna, boris, clara = team
    sign_in()
    url = f"/sources/{source.id}/weights"
    response = client.post(
        url,
        data={f"weight-{anna.id}": "x", f"weight-{boris.id}": "1", f"weight-{clara.id}": "1000",
              "csrf_token": csrf(url)},
    )
    assert response.status_code == 422
    html = page(response)
    assert f'id="weight-{anna.id}-error"' in html and f'id="weight-{clara.id}-error"' in html
    assert f'id="weight-{boris.id}-error"' not in html
    assert "2 weights are invalid; nothing was saved." in html
    assert rules(source.id) == {anna.id: Decimal("3"), boris.id: Decimal("1")}


def test_page_without_operators_says_so(client, sign_in, factory):
    source = factory.source(name="Lonely")
    sign_in()
    html = page(client.get(f"/sources/{source.id}/weights"))
    assert "There are no operators yet." in html
    assert 'href="/operators/new"' in html


def test_a_script_in_an_operator_name_is_escaped(client, sign_in, factory):
    evil = factory.operator("<script>alert(1)</script>")
    source = factory.source(name="Site", weights={evil: "1"})
    sign_in()
    for path in (f"/sources/{source.id}/weights", f"/sources/{source.id}"):
        html = page(client.get(path))
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_page_issues_the_same_number_of_queries_for_5_and_50_operators(
    client, sign_in, factory, count_queries
):
    source = factory.source(name="Site")
    sign_in()

    def queries() -> int:
        count, response = count_queries(lambda: client.get(f"/sources/{source.id}/weights"))
        assert response.status_code == 200
        return count

    ops = [factory.operator(f"Op {i:02d}") for i in range(5)]
    factory._call(replace_distribution, source.id, {op.id: "1" for op in ops})
    with_5 = queries()
    ops += [factory.operator(f"Op {i:02d}") for i in range(5, 50)]
    factory._call(replace_distribution, source.id, {op.id: "1" for op in ops})
    assert queries() == with_5
