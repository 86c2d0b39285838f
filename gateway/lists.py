"""The paginated lists: beneficiaries, sessions, placements and referrals, each with its filter
(Relay connections, cursors from ``pagination``)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import strawberry

from contracts.api import Page
from contracts.api.orientation import PlacementView, ReferralView
from contracts.api.registration import BeneficiaryView
from contracts.api.training import SessionView

from . import orientation, training
from .context import Context
from .enums import PartnerKind, PlacementKind, Track
from .outputs import Beneficiary
from .pagination import Connection, read_connection
from .wire import enum_value


class BeneficiaryStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"


class ReferralStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REFUSED = "refused"


strawberry.enum(BeneficiaryStatus, description="Whether a person is still in the programme")
strawberry.enum(ReferralStatus, description="Where a referral stands")


@strawberry.input(description="Which beneficiaries to list; unset fields do not filter")
class BeneficiaryFilter:
    association_id: strawberry.ID | None = None
    district_id: strawberry.ID | None = None
    track: Track | None = None
    status: BeneficiaryStatus | None = None


@strawberry.input(description="Which sessions to list; unset fields do not filter")
class SessionFilter:
    association_id: strawberry.ID | None = None
    district_id: strawberry.ID | None = None
    module_id: strawberry.ID | None = None
    starts_from: dt.datetime | None = strawberry.field(
        default=None, name="from", description="Starting at or after (with its offset)"
    )
    starts_to: dt.datetime | None = strawberry.field(
        default=None, name="to", description="Starting before (with its offset)"
    )


@strawberry.input(description="Which placements to list; unset fields do not filter")
class PlacementFilter:
    association_id: strawberry.ID | None = None
    kind: PlacementKind | None = None


@strawberry.input(description="Which referrals to list; unset fields do not filter")
class ReferralFilter:
    association_id: strawberry.ID | None = None
    status: ReferralStatus | None = None
    partner_kind: PartnerKind | None = None


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(enum_value(value))


async def beneficiaries(
    context: Context, where: BeneficiaryFilter | None, first: int, after: str | None
) -> Connection[Beneficiary]:
    where = where or BeneficiaryFilter()
    filters = {
        "association_id": _text(where.association_id),
        "district_id": _text(where.district_id),
        "track": _text(where.track),
        "status": _text(where.status),
    }
    return await read_connection(
        context,
        "registration",
        "/beneficiaries",
        "beneficiaries",
        filters,
        first,
        after,
        Page[BeneficiaryView],
        Beneficiary.of,
    )


async def sessions(
    context: Context, where: SessionFilter | None, first: int, after: str | None
) -> Connection[training.Session]:
    where = where or SessionFilter()
    filters = {
        "association_id": _text(where.association_id),
        "district_id": _text(where.district_id),
        "module_id": _text(where.module_id),
        "from": _text(where.starts_from),
        "to": _text(where.starts_to),
    }
    return await read_connection(
        context,
        "training",
        "/sessions/page",
        "sessions",
        filters,
        first,
        after,
        Page[SessionView],
        training.Session.of,
    )


async def placements(
    context: Context, where: PlacementFilter | None, first: int, after: str | None
) -> Connection[orientation.Placement]:
    where = where or PlacementFilter()
    filters = {"association_id": _text(where.association_id), "kind": _text(where.kind)}
    return await read_connection(
        context,
        "orientation",
        "/placements",
        "placements",
        filters,
        first,
        after,
        Page[PlacementView],
        orientation.Placement.of,
    )


async def referrals(
    context: Context, where: ReferralFilter | None, first: int, after: str | None
) -> Connection[orientation.Referral]:
    where = where or ReferralFilter()
    filters = {
        "association_id": _text(where.association_id),
        "status": _text(where.status),
        "partner_kind": _text(where.partner_kind),
    }
    return await read_connection(
        context,
        "orientation",
        "/referrals",
        "referrals",
        filters,
        first,
        after,
        Page[ReferralView],
        orientation.Referral.of,
    )
