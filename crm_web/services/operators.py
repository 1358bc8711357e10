"""Operators: create, change, delete (their active contacts return to the queue)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import ConfigDict, Field, StrictBool
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..domain.errors import Conflict, NotFound
from ..domain.messages import N_
from ..models import Contact, Distribution, Operator, Source, User, utcnow
from .assignment import lock_operator
from .audit import record
from .drain import mark_capacity_freed
from .editing import add_audited, update_audited
from .pagination import Page, paginate
from .tx import write_transaction
from .validation import InputModel, IntIn, TextOf, check, get_by_id

MAX_LOAD_LIMIT = 10_000
Name = TextOf(120)
MaxLoad = IntIn(0, MAX_LOAD_LIMIT)


class OperatorCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {"name": "Anna", "max_load": 10}})
    name: Name = Field(description="Trimmed; unique among operators (409).")
    is_active: StrictBool = True
    max_load: MaxLoad


class OperatorPatch(InputModel):
    """Only the fields given change; null means unchanged. max_load may go below the current load:
    the operator keeps its contacts and gets no new ones."""

    model_config = ConfigDict(json_schema_extra={"example": {"max_load": 12, "is_active": False}})
    name: Name | None = None
    is_active: StrictBool | None = None
    max_load: MaxLoad | None = None


def _audited(operator: Operator) -> dict:
    return {"name": operator.name, "is_active": operator.is_active, "max_load": operator.max_load}


def list_operators(session: Session, page: int, per_page: int) -> Page:
    query = select(Operator).where(Operator.deleted_at.is_(None)).order_by(Operator.name, Operator.id)
    return paginate(session, query, page, per_page)


def all_operators(session: Session) -> list[Operator]:
    return list(
        session.scalars(
            select(Operator).where(Operator.deleted_at.is_(None)).order_by(Operator.name, Operator.id)
        )
    )


def get_operator(session: Session, operator_id: int) -> Operator:
    operator = get_by_id(session, Operator, operator_id)
    if operator is None or operator.deleted_at is not None:
        raise NotFound(f"Operator {operator_id} not found.")
    return operator


def _parse(data: Mapping, partial: bool) -> dict:
    if partial:
        return check(OperatorPatch, data).model_dump(exclude_none=True)
    return check(OperatorCreate, data).model_dump()


def _name_taken(session: Session, name: str, exclude_id: int | None = None) -> bool:
    query = select(Operator.id).where(Operator.name == name, Operator.deleted_at.is_(None))
    if exclude_id is not None:
        query = query.where(Operator.id != exclude_id)
    return session.scalar(query) is not None


def _duplicate_name(name: str) -> Conflict:
    return Conflict(N_("An operator named %(name)r already exists.", name=name), "duplicate_name")


def _name_won_meanwhile() -> Conflict:
    """A concurrent save took the name between our check and our flush."""
    return Conflict(N_("An operator with this name already exists."), "duplicate_name")


def create_operator(session: Session, data: Mapping) -> Operator:
    values = _parse(data, partial=False)
    values.setdefault("is_active", True)
    with write_transaction(session):
        if _name_taken(session, values["name"]):
            raise _duplicate_name(values["name"])
        operator = Operator(**values, active_load=0, created_at=utcnow())
        add_audited(session, operator, _audited, "operator.created", "operator", _name_won_meanwhile())
    return operator


def update_operator(session: Session, operator_id: int, data: Mapping) -> Operator:
    values = _parse(data, partial=True)
    with write_transaction(session):
        operator = get_operator(session, operator_id)
        if "name" in values and _name_taken(session, values["name"], operator_id):
            raise _duplicate_name(values["name"])
        # Lowering max_load below the current load is allowed: the operator
        # keeps its contacts and simply gets no new ones until below it.
        diff = update_audited(
            session, operator, values, _audited, "operator.updated", "operator", _name_won_meanwhile()
        )
        more_room = diff["after"].get("max_load", 0) > diff["before"].get("max_load", 0)
        if diff["after"].get("is_active") or more_room:
            mark_capacity_freed(session)  # activated or given more room: the queue may move
    return operator


def delete_operator(session: Session, operator_id: int) -> int:
    """Delete the operator; return how many active contacts went back to the queue."""
    with write_transaction(session):
        operator = get_operator(session, operator_id)
        lock_operator(session, operator_id)  # no intake may claim it meanwhile
        returned = session.scalars(
            update(Contact)
            .where(Contact.operator_id == operator_id, Contact.is_active.is_(True))
            .values(operator_id=None, assigned_at=None, first_opened_at=None)
            .returning(Contact.id),
            execution_options={"synchronize_session": False},
        ).all()
        session.execute(delete(Distribution).where(Distribution.operator_id == operator_id))
        before = _audited(operator)
        # Kept as a tombstone so closed contacts still say who handled them.
        operator.deleted_at = utcnow()
        operator.is_active = False
        operator.active_load = 0
        record(session, "operator.deleted", "operator", operator_id, {
            "before": before, "contacts_returned_to_queue": len(returned),
        })
        # Each contact's own history says why it is back in the queue.
        if returned:
            mark_capacity_freed(session)  # their contacts are queued again
        for contact_id in returned:
            record(session, "contact.returned", "contact", contact_id, {
                "reason": "operator_deleted", "operator_id": operator_id, "operator_name": before["name"],
            })
    return len(returned)


@dataclass(frozen=True)
class OperatorSetup:
    """What an operator has to work with: staff users signing in as them, and weight tables."""

    sign_ins: list[str]  # emails of the users linked to the operator
    weighted: list[Source]  # sources whose weight table has them
    unweighted: list[Source]  # active sources whose table lacks them: nothing from there reaches them

    @property
    def complete(self) -> bool:
        return bool(self.sign_ins) and not self.unweighted


def operator_setup(session: Session, operator_id: int) -> OperatorSetup:
    emails = session.scalars(select(User.email).where(User.operator_id == operator_id).order_by(User.email))
    weighted_ids = set(session.scalars(
        select(Distribution.source_id).where(Distribution.operator_id == operator_id)
    ))
    sources = session.scalars(select(Source).order_by(Source.name, Source.id)).all()
    return OperatorSetup(
        sign_ins=list(emails),
        weighted=[source for source in sources if source.id in weighted_ids],
        unweighted=[source for source in sources if source.id not in weighted_ids and source.is_active],
    )
