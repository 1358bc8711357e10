"""/api/v1/sources/<id>/distribution: the weight table of a source."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.helpers import assert_error

from .helpers import OUT_OF_RANGE_IDS, Api, as_json, intake, rules_of

D = Decimal


@pytest.fixture
def ops(factory):
    return {
        "anna": factory.operator("Anna", max_load=100),
        "boris": factory.operator("Boris", max_load=100),
        "vera": factory.operator("Vera", max_load=100),
    }


@pytest.fixture
def site(factory, ops):
    """A source whose table is Anna 1.00, Boris 3.00."""
    return factory.source("Site", key="site", weights={ops["anna"]: "1", ops["boris"]: "3"})


def put(api, source_id, rules):
    return api.put(f"/sources/{source_id}/distribution", {"rules": rules})


def test_get_lists_rules_with_string_weights_and_shares(api, factory, ops, site):
    body = as_json(api.get(f"/sources/{site.id}/distribution"))
    assert set(body) == {"rules"}
    rules = sorted(body["rules"], key=lambda r: r["operator_id"])
    assert [(r["operator_id"], r["weight"], r["share"]) for r in rules] == [
        (ops["anna"].id, "1.00", 0.25),
        (ops["boris"].id, "3.00", 0.75),
    ]


def test_get_of_a_source_without_rules_is_empty(api, factory):
    source = factory.source("Empty")
    assert as_json(api.get(f"/sources/{source.id}/distribution")) == {"rules": []}


def test_get_and_put_of_a_missing_source_are_404(api, factory, ops, site):
    before = factory.counts()
    assert_error(api.get(f"/sources/{site.id + 1}/distribution"), 404, "not_found")
    assert_error(put(api, site.id + 1, [{"operator_id": ops["anna"].id, "weight": "1"}]), 404)
    assert_error(put(api, site.id + 1, "not even a list"), 404)
    assert factory.counts() == before


def test_operator_role_may_read_the_table(client, factory, ops, site):
    user = Api(client, factory.staff("operator", operator_id=ops["anna"].id))
    assert len(as_json(user.get(f"/sources/{site.id}/distribution"))["rules"]) == 2


def test_put_replaces_the_whole_table(app, api, ops, site):
    anna, vera = ops["anna"].id, ops["vera"].id
    body = as_json(put(api, site.id, [
        {"operator_id": vera, "weight": "10.5"},
        {"operator_id": anna, "weight": 31.5},
    ]))
    rules = {r["operator_id"]: r for r in body["rules"]}
    assert set(rules) == {anna, vera}  # Boris's rule is gone
    assert rules[vera]["weight"] == "10.50"
    assert rules[anna]["weight"] == "31.50"
    assert rules[vera]["share"] == pytest.approx(0.25)
    assert rules[anna]["share"] == pytest.approx(0.75)
    for rule in body["rules"]:
        assert {"operator_id", "weight", "share"} <= set(rule)
        assert isinstance(rule["share"], float | int) and 0 <= rule["share"] <= 1
    assert rules_of(app, site.id) == {anna: D("31.50"), vera: D("10.50")}
    # GET shows the same table.
    got = as_json(api.get(f"/sources/{site.id}/distribution"))
    assert sorted(got["rules"], key=lambda r: r["operator_id"]) == sorted(
        body["rules"], key=lambda r: r["operator_id"]
    )


def test_shares_are_fractions_of_the_total(api, ops, site):
    rules = [{"operator_id": op.id, "weight": "1"} for op in ops.values()]
    body = as_json(put(api, site.id, rules))
    shares = [rule["share"] for rule in body["rules"]]
    assert shares == [pytest.approx(1 / 3, abs=1e-6)] * 3
    assert sum(shares) == pytest.approx(1, abs=1e-5)
    assert all(rule["weight"] == "1.00" for rule in body["rules"])


def test_put_an_empty_table_removes_every_rule(app, api, site):
    assert as_json(put(api, site.id, [])) == {"rules": []}
    assert rules_of(app, site.id) == {}


VALID_WEIGHTS = [
    ("10.5", "10.50"),
    (10.5, "10.50"),
    ("10.50", "10.50"),
    (" 7 ", "7.00"),
    (7, "7.00"),
    (100.0, "100.00"),
    ("0.01", "0.01"),
    (0.01, "0.01"),
    ("999.99", "999.99"),
    (999.99, "999.99"),
]


def test_weights_travel_as_strings_or_numbers_and_come_back_with_two_decimals(app, api, ops, site):
    for weight, stored in VALID_WEIGHTS:
        response = put(api, site.id, [{"operator_id": ops["anna"].id, "weight": weight}])
        assert response.status_code == 200, (weight, response.get_json())
        rule = response.get_json()["rules"][0]
        assert (rule["weight"], rule["share"]) == (stored, 1), weight
        assert rules_of(app, site.id) == {ops["anna"].id: D(stored)}, weight


INVALID_WEIGHTS = [
    True, False, None, "NaN", "nan", "sNaN", "Infinity", "-Infinity", "1.001", 1.001, "0.005",
    0, "0", "0.00", 0.0, -1, "-0.5", 1000, "1000", "999.991", 1e400, "", "  ", "ten", "10,5",
    "1/2", [1], {"value": 1}, 0.30000000000000004, "1e-3", "0x10",
]


def test_invalid_weights_are_422_and_the_old_table_is_kept(app, api, factory, ops, site):
    before_rules = rules_of(app, site.id)
    before = factory.counts()
    for weight in INVALID_WEIGHTS:
        rules = [
            {"operator_id": ops["vera"].id, "weight": "5"},
            {"operator_id": ops["anna"].id, "weight": weight},
        ]
        response = put(api, site.id, rules)
        assert response.status_code == 422, (weight, response.get_json())
        error = assert_error(response, 422, "validation_error")
        assert "rules[1].weight" in error["fields"], (weight, error)
        assert rules_of(app, site.id) == before_rules, weight
    assert factory.counts() == before


def test_weights_that_are_not_plain_decimal_strings_are_422(app, api, ops, site):
    before = rules_of(app, site.id)
    for weight in ("1_0", "\u0661\u0660", "\uff11\uff10", "1e2"):
        response = put(api, site.id, [{"operator_id": ops["anna"].id, "weight": weight}])
        assert response.status_code == 422, (weight, response.get_json())
        assert rules_of(app, site.id) == before


def test_a_missing_weight_is_422(app, api, ops, site):
    before = rules_of(app, site.id)
    assert_error(put(api, site.id, [{"operator_id": ops["anna"].id}]), 422)
    assert rules_of(app, site.id) == before


def test_unknown_operator_is_422_and_the_old_table_is_kept(app, api, factory, ops, site):
    before = rules_of(app, site.id)
    vera = ops["vera"].id
    rules = [{"operator_id": vera, "weight": "1"}, {"operator_id": vera + 100, "weight": "2"}]
    error = assert_error(put(api, site.id, rules), 422)
    assert error["fields"]
    assert rules_of(app, site.id) == before


def test_a_deleted_operator_is_unknown(app, api, ops, site):
    as_json(api.delete(f"/operators/{ops['vera'].id}"))
    before = rules_of(app, site.id)
    assert_error(put(api, site.id, [{"operator_id": ops["vera"].id, "weight": "1"}]), 422)
    assert rules_of(app, site.id) == before


def test_a_repeated_operator_is_422_and_the_old_table_is_kept(app, api, ops, site):
    before = rules_of(app, site.id)
    rules = [
        {"operator_id": ops["vera"].id, "weight": "1"},
        {"operator_id": ops["vera"].id, "weight": "2"},
    ]
    assert_error(put(api, site.id, rules), 422)
    assert rules_of(app, site.id) == before


MALFORMED_TABLES = [
    {},
    {"rules": None},
    {"rules": {"1": "2"}},
    {"rules": "1:2"},
    {"rules": [1]},
    {"rules": [[1, "2"]]},
    {"rules": [{"weight": "2"}]},
    {"rules": [{"operator_id": "OP", "weight": "2"}]},
    {"rules": [{"operator_id": True, "weight": "2"}]},
    {"rules": [{"operator_id": None, "weight": "2"}]},
    {"rules": [{"operator_id": 1.5, "weight": "2"}]},
]


def test_a_malformed_table_is_422_and_the_old_table_is_kept(app, api, factory, ops, site):
    before = rules_of(app, site.id)
    for body in MALFORMED_TABLES:
        response = api.put(f"/sources/{site.id}/distribution", body)
        assert response.status_code == 422, (body, response.get_json())
        assert_error(response, 422)
        assert rules_of(app, site.id) == before, body


def test_an_operator_id_out_of_range_is_422(app, api, ops, site):
    before = rules_of(app, site.id)
    for bad in OUT_OF_RANGE_IDS:
        error = assert_error(put(api, site.id, [{"operator_id": bad, "weight": "1"}]), 422)
        assert error["fields"], bad
        assert rules_of(app, site.id) == before, bad


def test_operator_role_may_not_change_the_table(app, client, factory, ops, site):
    user = Api(client, factory.staff("operator", operator_id=ops["anna"].id))
    before = rules_of(app, site.id)
    assert_error(put(user, site.id, [{"operator_id": ops["anna"].id, "weight": "999"}]), 403, "forbidden")
    assert_error(put(user, site.id, []), 403)
    assert rules_of(app, site.id) == before


def test_new_contacts_follow_the_current_table(api, factory, ops, site):
    anna, boris, vera = ops["anna"].id, ops["boris"].id, ops["vera"].id
    as_json(put(api, site.id, [{"operator_id": vera, "weight": "1"}]))
    got = {intake(api, site.id, external_id=f"a{i}")["contact"]["operator"]["id"] for i in range(5)}
    assert got == {vera}
    as_json(put(api, site.id, [{"operator_id": anna, "weight": "2"}, {"operator_id": boris, "weight": "2"}]))
    got = [intake(api, site.id, external_id=f"b{i}")["contact"]["operator"]["id"] for i in range(40)]
    assert set(got) == {anna, boris}


def test_an_inactive_operator_may_be_in_the_table_but_gets_nothing(api, factory, ops, site):
    as_json(api.patch(f"/operators/{ops['anna'].id}", {"is_active": False}))
    rules = [{"operator_id": ops["anna"].id, "weight": "99"}, {"operator_id": ops["boris"].id, "weight": "1"}]
    body = as_json(put(api, site.id, rules))
    assert len(body["rules"]) == 2
    got = {intake(api, site.id, external_id=f"c{i}")["contact"]["operator"]["id"] for i in range(5)}
    assert got == {ops["boris"].id}
