"""Registration's HTTP API, called by the gateway with the caller's bearer token.

What each route answers is its contract in ``contracts.api.registration`` (the gateway validates
it). Every read or change of a beneficiary record is written to the access log (``kit.audit``:
who, which kind of record, which route; ids only), served with every service's on ``GET
/audit``.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from contracts.api import Page
from contracts.api.registration import (
    AssociationView,
    BeneficiaryBatch,
    BeneficiaryExport,
    BeneficiaryView,
    ConsentChange,
    DistrictView,
    ErasureReceiptView,
    RetentionRun,
)
from contracts.dimensions import EmploymentStatus, Gender, Track
from contracts.errors import Conflict, FieldError, InvalidInput, NotFound
from contracts.registration import ConsentPurpose
from kit.audit import Action, Audit, RecordKind
from kit.audit import as_json as audit_as_json
from kit.auth import Principal, Role
from kit.paging import parse_position
from kit.service import audit_of, caller
from kit.spreadsheet import SheetImportIn, row_result
from services.registration import domain, importer
from services.registration.commands import Registration
from services.registration.domain import Beneficiary, ErasureReason, Status
from services.registration.store import dimensions_as_json
from services.registration.vault import normalise

router = APIRouter()
Caller = Annotated[Principal, Depends(caller)]
Audited = Annotated[Audit, Depends(audit_of)]

NAME = Field(max_length=200)
SHORT = Field(default=None, max_length=200)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class ConsentIn(Strict):
    programme_follow_up: bool
    share_with_partners: bool
    contact_for_surveys: bool


class PersonalIn(Strict):
    first_name: str = NAME
    last_name: str = NAME
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=320)
    street: str | None = SHORT
    postcode: str | None = Field(default=None, max_length=10)
    insee_code: str | None = Field(default=None, max_length=10)

    def personal(self) -> domain.PersonalData:
        return domain.PersonalData(**self.model_dump())


class EnrolmentIn(PersonalIn):
    association_id: str = Field(max_length=100)
    district_id: str = Field(max_length=100)
    birth_year: int | None = None
    gender: Gender
    tracks: list[Track] = Field(max_length=5)
    employment_status: EmploymentStatus | None = None
    qpv_resident: bool = True
    consent: ConsentIn
    enrolled_on: date | None = None
    # The sender's own id for this request (an app's offline queue): the same id again is a
    # no-op that answers the record it created.
    request_id: str | None = Field(default=None, min_length=1, max_length=100)

    def request(self) -> domain.EnrolmentRequest:
        return domain.EnrolmentRequest(
            association_id=self.association_id,
            district_id=self.district_id,
            personal=domain.PersonalData(**self.model_dump(include=set(PersonalIn.model_fields))),
            birth_year=self.birth_year,
            gender=self.gender,
            tracks=tuple(self.tracks),
            employment_status=self.employment_status,
            consent=domain.Consent(**self.consent.model_dump()),
            qpv_resident=self.qpv_resident,
            enrolled_on=self.enrolled_on,
        )


class RectificationIn(Strict):
    """Only the fields sent change; personal fields are sent together (they are one sealed
    record) and default to their current values."""

    first_name: str | None = SHORT
    last_name: str | None = SHORT
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=320)
    street: str | None = SHORT
    postcode: str | None = Field(default=None, max_length=10)
    insee_code: str | None = Field(default=None, max_length=10)
    birth_year: int | None = None
    district_id: str | None = Field(default=None, max_length=100)
    gender: Gender | None = None
    tracks: list[Track] | None = Field(default=None, max_length=5)
    employment_status: EmploymentStatus | None = None
    qpv_resident: bool | None = None

    def change(self, current: Beneficiary) -> domain.Rectification:
        sent = self.model_dump(exclude_unset=True)
        personal_fields = set(PersonalIn.model_fields)
        personal = None
        if personal_fields & set(sent):
            personal = domain.PersonalData(
                **{
                    **asdict(current.personal),
                    **{k: v for k, v in sent.items() if k in personal_fields},
                }
            )
        return domain.Rectification(
            personal=personal,
            birth_year=self.birth_year,
            district_id=self.district_id,
            gender=self.gender,
            tracks=tuple(self.tracks) if self.tracks is not None else None,
            employment_status=self.employment_status,
            qpv_resident=self.qpv_resident,
        )


class ConsentChangeIn(Strict):
    given: bool


class MergeIn(Strict):
    duplicate_id: str = Field(max_length=100)


def registration_of(request: Request) -> Registration:
    registration: Registration = request.app.state.registration
    return registration


Service = Annotated[Registration, Depends(registration_of)]


def view(beneficiary: Beneficiary) -> BeneficiaryView:
    """The record as the gateway shows it (flat, personal fields opened)."""
    return BeneficiaryView.model_validate(
        {
            "id": str(beneficiary.id),
            **asdict(beneficiary.personal),
            "birth_year": beneficiary.birth_year,
            **dimensions_as_json(beneficiary),
            "consent": asdict(beneficiary.consent),
            "enrolled_at": beneficiary.enrolled_at,
            "last_contact_at": beneficiary.last_contact_at or beneficiary.enrolled_at,
            "status": beneficiary.status.value,
        }
    )


async def _visible(
    service: Registration,
    beneficiary_id: str,
    who: Principal,
    audit: Audit,
    action: str,
    record: RecordKind = RecordKind.BENEFICIARY,
) -> Beneficiary:
    """The record if this caller may see it (the access audited); another association's
    record is 'not found'."""
    who.require(Role.COORDINATOR, Role.ASSOCIATION)
    beneficiary = await service.store.get(beneficiary_id)
    if beneficiary is None or (
        who.role is Role.ASSOCIATION and beneficiary.association_id != who.association_id
    ):
        raise NotFound(f"no beneficiary {beneficiary_id}")
    await audit(action, record, [beneficiary_id])
    return beneficiary


@router.post("/beneficiaries", status_code=201)
async def enrol_beneficiary(
    body: EnrolmentIn, who: Caller, service: Service, audit: Audited, dry_run: bool = False
) -> BeneficiaryView:
    who.require(Role.COORDINATOR, Role.ASSOCIATION)
    who.require_association(body.association_id)
    # Kept per association: one association's request id can never answer another's record.
    request_id = f"staff:{body.association_id}:{body.request_id}" if body.request_id else None
    beneficiary = await service.enrol(
        body.request(), who.subject, dry_run=dry_run, request_id=request_id
    )
    if not dry_run:
        await audit("enrol", RecordKind.BENEFICIARY, [str(beneficiary.id)])
    return view(beneficiary)


class BatchIn(Strict):
    ids: list[Annotated[str, Field(max_length=100)]] = Field(max_length=500)


@router.get("/beneficiaries")
async def list_beneficiaries(
    who: Caller,
    service: Service,
    audit: Audited,
    association_id: str | None = None,
    district_id: str | None = None,
    track: Track | None = None,
    status: Annotated[Status | None, Query()] = None,
    after: str | None = None,
    first: int = 50,
) -> Page[BeneficiaryView]:
    """One page of records in enrolment order (``kit.paging``); association staff see their
    own association's. Each record listed is audited."""
    who.require(Role.COORDINATOR, Role.ASSOCIATION)
    if who.role is Role.ASSOCIATION:
        association_id = who.association_id
    if status in (Status.MERGED, Status.ERASED):
        raise InvalidInput(FieldError("status", "accepted: active, withdrawn"))
    page, beneficiaries = await service.store.page(
        association_id,
        district_id,
        track.value if track else None,
        status.value if status else None,
        parse_position(after),
        first,
    )
    await audit(Action.LIST, RecordKind.BENEFICIARY, [str(b.id) for b in beneficiaries])
    return page.answer([view(beneficiary) for beneficiary in beneficiaries])


@router.post("/beneficiaries/batch")
async def beneficiaries_batch(
    body: BatchIn, who: Caller, service: Service, audit: Audited
) -> BeneficiaryBatch:
    """Several records at once (the gateway's loaders): ``{"beneficiaries": {id: record}}``;
    unknown, erased and other associations' ids are left out. Each record read is audited."""
    who.require(Role.COORDINATOR, Role.ASSOCIATION)
    found = await service.store.get_many(list(dict.fromkeys(body.ids)))
    visible = {
        beneficiary_id: beneficiary
        for beneficiary_id, beneficiary in found.items()
        if who.role is Role.COORDINATOR or beneficiary.association_id == who.association_id
    }
    await audit(Action.READ, RecordKind.BENEFICIARY, list(visible))
    return BeneficiaryBatch(beneficiaries={key: view(b) for key, b in visible.items()})


@router.get("/beneficiaries/{beneficiary_id}")
async def get_beneficiary(
    beneficiary_id: str, who: Caller, service: Service, audit: Audited
) -> BeneficiaryView:
    return view(await _visible(service, beneficiary_id, who, audit, Action.READ))


@router.patch("/beneficiaries/{beneficiary_id}")
async def rectify_beneficiary(
    beneficiary_id: str, body: RectificationIn, who: Caller, service: Service, audit: Audited
) -> BeneficiaryView:
    current = await _visible(service, beneficiary_id, who, audit, "rectify")
    return view(await service.rectify(beneficiary_id, body.change(current), who.subject))


@router.post("/beneficiaries/{beneficiary_id}/withdrawal")
async def withdraw_beneficiary(
    beneficiary_id: str, who: Caller, service: Service, audit: Audited
) -> BeneficiaryView:
    await _visible(service, beneficiary_id, who, audit, "withdraw")
    return view(await service.withdraw(beneficiary_id, who.subject))


@router.put("/beneficiaries/{beneficiary_id}/consent/{purpose}")
async def change_consent(
    beneficiary_id: str,
    purpose: ConsentPurpose,
    body: ConsentChangeIn,
    who: Caller,
    service: Service,
    audit: Audited,
) -> BeneficiaryView:
    await _visible(
        service, beneficiary_id, who, audit, f"consent:{purpose.value}", RecordKind.CONSENT
    )
    changed = await service.change_consent(beneficiary_id, purpose, body.given, who.subject)
    return view(changed)


@router.post("/beneficiaries/{beneficiary_id}/merge")
async def merge_beneficiaries(
    beneficiary_id: str, body: MergeIn, who: Caller, service: Service, audit: Audited
) -> BeneficiaryView:
    await _visible(service, beneficiary_id, who, audit, "merge")
    await _visible(service, body.duplicate_id, who, audit, "merged")
    return view(await service.merge(beneficiary_id, body.duplicate_id, who.subject))


@router.delete("/beneficiaries/{beneficiary_id}")
async def erase_beneficiary(
    beneficiary_id: str,
    who: Caller,
    service: Service,
    audit: Audited,
    reason: ErasureReason = ErasureReason.REQUEST_OF_PERSON,
) -> ErasureReceiptView:
    await _visible(service, beneficiary_id, who, audit, Action.ERASE)
    return _receipt(await service.erase(beneficiary_id, reason, who.subject))


@router.get("/beneficiaries/{beneficiary_id}/export")
async def export_beneficiary(
    beneficiary_id: str, who: Caller, service: Service, audit: Audited
) -> BeneficiaryExport:
    """Everything registration holds about the person (right of access), with who read or
    changed it here."""
    who.require(Role.COORDINATOR)
    beneficiary = await _visible(
        service, beneficiary_id, who, audit, Action.EXPORT, RecordKind.ALL_RECORDS
    )
    return BeneficiaryExport(
        service="registration",
        record=view(beneficiary),
        consent_history=[
            ConsentChange.model_validate(entry)
            for entry in await service.store.consent_history(beneficiary_id)
        ],
        access_log=audit_as_json(await audit.log.entries(beneficiary_id, None)),
    )


@router.get("/erasures/{beneficiary_id}")
async def erasure_receipt(beneficiary_id: str, who: Caller, service: Service) -> ErasureReceiptView:
    who.require(Role.COORDINATOR)
    receipt = await service.store.erasure_receipt(beneficiary_id)
    if receipt is None:
        raise NotFound(f"no erasure of {beneficiary_id}")
    return _receipt(receipt)


def _receipt(receipt: dict[str, Any]) -> ErasureReceiptView:
    return ErasureReceiptView.model_validate({**receipt, "id": receipt["_id"]})


@router.post("/retention")
async def run_retention(
    who: Caller,
    service: Service,
    audit: Audited,
    dry_run: bool = True,
    older_than_days: Annotated[int, Query(ge=30, le=3650)] = 730,
) -> RetentionRun:
    """Anonymise people without contact for ``older_than_days`` (dry run lists them)."""
    who.require(Role.COORDINATOR)
    due = await service.apply_retention(
        timedelta(days=older_than_days), who.subject, dry_run=dry_run
    )
    await audit(Action.LIST if dry_run else Action.ERASE, RecordKind.BENEFICIARY, due)
    return RetentionRun(dry_run=dry_run, older_than_days=older_than_days, beneficiary_ids=due)


# -- spreadsheet import ------------------------------------------------------------------


class ImportIn(SheetImportIn):
    association_id: str = Field(max_length=100)


@router.post("/imports/beneficiaries")
async def import_beneficiaries(
    body: ImportIn, who: Caller, service: Service, audit: Audited
) -> dict[str, Any]:
    """Enrol spreadsheet rows one by one, each in its own transaction.

    Someone already enrolled, by an earlier run or an earlier row, comes back as a duplicate
    with their id: sending the same file twice enrols nobody twice.
    """
    who.require(Role.COORDINATOR, Role.ASSOCIATION)
    who.require_association(body.association_id)
    seen: dict[str, int] = {}
    results = []
    reference = await service.store.reference()
    for sent in body.rows:
        results.append(await _import_row(sent.sheet_row(), body, audit, service, reference, seen))
    return {"results": results}


async def _import_row(
    row: importer.SheetRow,
    body: ImportIn,
    audit: Audit,
    service: Registration,
    reference: domain.ReferenceData,
    seen: dict[str, int],
) -> dict[str, Any]:
    parsed = importer.parse_row(row, body.association_id)
    if isinstance(parsed, list):
        return row_result(row, "invalid", errors=parsed)
    try:
        beneficiary = await service.enrol(
            parsed, audit.actor.subject, dry_run=body.dry_run, reference=reference
        )
    except Conflict as duplicate:
        return row_result(row, "duplicate", beneficiary_id=duplicate.existing_id)
    except InvalidInput as refused:
        return row_result(row, "invalid", errors=importer.refusals(row, refused.errors))
    if body.dry_run:
        # A dry run stores nothing, so a person repeated within the call is found here.
        keys = [
            f"{kind}:{normalise(value)}"
            for kind, value in domain.duplicate_keys(
                beneficiary.personal, beneficiary.birth_year
            ).items()
        ]
        earlier = next((seen[key] for key in keys if key in seen), None)
        if earlier is not None:
            return row_result(row, "duplicate", same_as_row=earlier)
        seen.update(dict.fromkeys(keys, row.number))
        return row_result(row, "valid")
    beneficiary_id = str(beneficiary.id)
    await audit("import", RecordKind.BENEFICIARY, [beneficiary_id])
    return row_result(row, "created", beneficiary_id=beneficiary_id)


# -- reference data ------------------------------------------------------------------------


class DistrictIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    commune: str = Field(min_length=1, max_length=100)
    insee_code: str = Field(pattern=r"^[0-9][0-9AB][0-9]{3}$")
    qpv_code: str = Field(pattern=r"^QN[0-9A-Z]{5,8}$")


class AssociationIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    districts: list[str] = Field(min_length=1, max_length=20)
    siret: str | None = Field(default=None, max_length=30)  # checked by domain.association
    rna: str | None = Field(default=None, max_length=30)
    contact: str | None = Field(default=None, max_length=320)


@router.get("/districts")
async def list_districts(who: Caller, service: Service) -> list[DistrictView]:
    reference = await service.store.reference()
    return [DistrictView.model_validate(asdict(d)) for d in reference.districts.values()]


@router.put("/districts/{district_id}")
async def save_district(
    district_id: str, body: DistrictIn, who: Caller, service: Service
) -> DistrictView:
    who.require(Role.COORDINATOR)
    district = domain.District(id=district_id, **body.model_dump())
    await service.save_district(district)
    return DistrictView.model_validate(asdict(district))


@router.get("/associations")
async def list_associations(who: Caller, service: Service) -> list[AssociationView]:
    reference = await service.store.reference()
    return [association_view(a) for a in reference.associations.values()]


@router.put("/associations/{association_id}")
async def save_association(
    association_id: str, body: AssociationIn, who: Caller, service: Service
) -> AssociationView:
    who.require(Role.COORDINATOR)
    association = domain.association(
        association_id,
        body.name,
        tuple(body.districts),
        await service.store.reference(),
        siret=body.siret,
        rna=body.rna,
        contact=body.contact,
    )
    await service.save_association(association)
    return association_view(association)


def association_view(association: domain.Association) -> AssociationView:
    return AssociationView.model_validate(asdict(association))
