from crm_web.api.serializers import intake_body
from crm_web.domain.identifiers import parse_contact_input
from crm_web.models import Operator
from crm_web.services.intake import register_contact


def test_intake_assigns_and_counts_load(app, factory, session):
    anna = factory.operator("Anna", max_load=1)
    source = factory.source(weights={anna: 1})
    rng = app.extensions["crm_rng"]
    first = register_contact(session, source, parse_contact_input({"phone": "+79991234567"}, "RU"), rng)
    second = register_contact(session, source, parse_contact_input({"phone": "89991234567"}, "RU"), rng)
    assert intake_body(first)["operator_available"] is True
    assert intake_body(first)["contact"]["operator"] == {"id": anna.id, "name": "Anna"}
    assert intake_body(second)["operator_available"] is False
    assert intake_body(second)["lead"] == {"id": intake_body(first)["lead"]["id"], "created": False}
    assert session.get(Operator, anna.id).active_load == 1
