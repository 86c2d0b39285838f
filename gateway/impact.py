"""The programme's figures: reporting's answer, named with the reference data, as an Impact."""

from __future__ import annotations

from typing import Any

import strawberry

from .context import Context
from .enums import Gender
from .inputs import ImpactFilter
from .outputs import AssociationImpact, DistrictImpact, GenderImpact, Impact, Targets
from .wire import enum_value, parse_datetime


async def compose_impact(context: Context, impact_filter: ImpactFilter | None) -> Impact:
    params = {}
    if impact_filter is not None:
        for name in ("association_id", "district_id", "track"):
            value = enum_value(getattr(impact_filter, name))
            if value is not None:
                params[name] = str(value)
    answer = await context.services.call(
        "reporting", "GET", "/impact", authorization=context.authorization, params=params
    )
    districts = {row["id"]: row["name"] for row in await context.reference("districts")}
    associations = {row["id"]: row["name"] for row in await context.reference("associations")}

    def rows(dimension: str) -> list[dict[str, Any]]:
        found = [b for b in answer["breakdowns"] if b["dimension"] == dimension]
        return sorted(found, key=lambda b: (-b["enrolled"], b["value"]))

    targets = answer["targets"]
    return Impact(
        enrolled=answer["enrolled"],
        trained=answer["trained"],
        directed_to_employment=answer["directed_to_employment"],
        associations_upskilled=answer["associations_upskilled"],
        women_share_careers=answer["women_share_careers"],
        targets=Targets(
            trained=targets["trained"],
            directed_to_employment=targets["directed_to_employment"],
            associations_upskilled=targets["associations_upskilled"],
        ),
        by_district=[
            DistrictImpact(
                district_id=strawberry.ID(b["value"]),
                name=districts.get(b["value"], "Unknown district"),
                enrolled=b["enrolled"],
            )
            for b in rows("district")
        ],
        by_association=[
            AssociationImpact(
                association_id=strawberry.ID(b["value"]),
                name=associations.get(b["value"], "Unknown association"),
                enrolled=b["enrolled"],
            )
            for b in rows("association")
        ],
        by_gender=[
            GenderImpact(gender=Gender(b["value"]), enrolled=b["enrolled"])
            for b in rows("gender")
            if b["value"] in Gender._value2member_map_
        ],
        updated_at=parse_datetime(answer.get("updated_at")),
    )
