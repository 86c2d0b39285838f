"""Registration's HTTP API, called by the gateway with the caller's bearer token."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from contracts.dimensions import EmploymentStatus, Gender, Track
from contracts.errors import NotFound
from kit.auth import Principal, Role
from kit.mongo import Document, Session
from kit.service import caller, runtime_of
from services.registration import domain
from services.registration.store import RegistrationStore

router = APIRouter()
Caller = Annotated[Principal, Depends(caller)]


class ConsentIn(BaseModel):
    programme_follow_up: bool
    share_with_partners: bool
    contact_for_surveys: bool


class EnrolmentIn(BaseModel):
    association_id: str
    district_id: str
    first_name: str = Field(max_length=200)
    last_name: str = Field(max_length=200)
    birth_year: int | None = None
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=320)
    gender: Gender
    tracks: list[Track]
    employment_status: EmploymentStatus | None = None
    consent: ConsentIn


def store_of(request: Request) -> RegistrationStore:
    store: RegistrationStore = request.app.state.store
    return store


Store = Annotated[RegistrationStore, Depends(store_of)]


@router.post("/beneficiaries", status_code=201)
async def enrol_beneficiary(body: EnrolmentIn, who: Caller, store: Store, request: Request) -> Any:
    who.require(Role.COORDINATOR, Role.ASSOCIATION)
    who.require_association(body.association_id)
    beneficiary = domain.enrol(
        domain.EnrolmentRequest(
            association_id=body.association_id,
            district_id=body.district_id,
            personal=domain.PersonalData(body.first_name, body.last_name, body.phone, body.email),
            birth_year=body.birth_year,
            gender=body.gender,
            tracks=tuple(body.tracks),
            employment_status=body.employment_status,
            consent=domain.Consent(**body.consent.model_dump()),
        ),
        await store.reference(),
        beneficiary_id=uuid4(),
        now=datetime.now(UTC),
    )

    async def write(session: Session) -> None:
        await store.add_beneficiary(session, beneficiary)

    await runtime_of(request).transact(write)
    return await _readable(store, str(beneficiary.id), who)


@router.get("/beneficiaries/{beneficiary_id}")
async def get_beneficiary(beneficiary_id: str, who: Caller, store: Store) -> Any:
    who.require(Role.COORDINATOR, Role.ASSOCIATION)
    return await _readable(store, beneficiary_id, who)


async def _readable(store: RegistrationStore, beneficiary_id: str, who: Principal) -> Document:
    document = await store.beneficiary(beneficiary_id)
    if document is None:
        raise NotFound(f"no beneficiary {beneficiary_id}")
    # Another association's beneficiary is reported as absent, not as forbidden.
    if who.role is Role.ASSOCIATION and document["association_id"] != who.association_id:
        raise NotFound(f"no beneficiary {beneficiary_id}")
    return {"id": document.pop("_id"), **document}


@router.get("/districts")
async def list_districts(who: Caller, store: Store) -> list[dict[str, Any]]:
    reference = await store.reference()
    return [vars(district) for district in reference.districts.values()]


@router.get("/associations")
async def list_associations(who: Caller, store: Store) -> list[dict[str, Any]]:
    reference = await store.reference()
    return [
        {"id": a.id, "name": a.name, "districts": list(a.districts)}
        for a in reference.associations.values()
    ]
