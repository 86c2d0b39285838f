"""Training service process: wiring and entry point (python -m services.training.app)."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.maturity import (
    DEFAULT_STAFF_HOURS_FOR_FULL_POINTS,
    DEFAULT_UPSKILLED_POINTS,
    MaturityRule,
)
from kit.service import Runtime, run, service_app
from kit.settings import Settings
from services.training import domain
from services.training.api import router
from services.training.commands import Rules, Training
from services.training.handlers import (
    BENEFICIARIES_GROUP_ID,
    BENEFICIARIES_TOPICS,
    INTAKE_GROUP_ID,
    INTAKE_TOPICS,
    BeneficiaryHandler,
    IntakeRules,
)
from services.training.store import TrainingStore, read_catalogue

NAME = "training"


class TrainingSettings(BaseSettings):
    """The programme's rules, overridable with ``DN_TRAINING_*`` (defaults: trained after 4
    sessions and 12 h; an association upskilled 20 points above its baseline, staff training
    worth its full 20 points at 20 person-hours)."""

    model_config = SettingsConfigDict(env_prefix="DN_TRAINING_", extra="ignore")

    min_sessions: int = 4
    min_minutes: int = 720
    require_final_assessment: bool = False
    upskilled_points: int = Field(default=DEFAULT_UPSKILLED_POINTS, ge=1, le=100)
    staff_hours_for_full_points: int = Field(default=DEFAULT_STAFF_HOURS_FOR_FULL_POINTS, ge=1)
    at_risk_streak: int = domain.AT_RISK_STREAK

    def rules(self) -> Rules:
        return Rules(
            completion=domain.CompletionRule(
                min_sessions=self.min_sessions,
                min_minutes=self.min_minutes,
                require_final_assessment=self.require_final_assessment,
            ),
            maturity=MaturityRule(
                upskilled_points=self.upskilled_points,
                staff_hours_for_full_points=self.staff_hours_for_full_points,
            ),
            at_risk_streak=self.at_risk_streak,
        )


def build(settings: Settings, rules: Rules | None = None) -> FastAPI:
    app: FastAPI
    chosen = rules or TrainingSettings().rules()

    async def setup(runtime: Runtime) -> None:
        store = TrainingStore(runtime.db, runtime.source)
        await store.ensure_indexes()
        catalogue = await read_catalogue()
        await store.save_modules(catalogue)
        training = Training(store, runtime.transact, catalogue, chosen)
        app.state.training = training
        intake = await runtime.consume_intake(
            *INTAKE_TOPICS,
            group_id=INTAKE_GROUP_ID,
            rules=IntakeRules(training, runtime.idempotent("intake"), runtime.audit),
        )
        beneficiaries = BeneficiaryHandler(
            training, runtime.idempotent("beneficiaries"), intake.parking
        )
        runtime.consume_batches(
            *BENEFICIARIES_TOPICS, group_id=BENEFICIARIES_GROUP_ID, handle=beneficiaries.many
        )

    app = service_app(NAME, settings, router=router, setup=setup)
    return app


if __name__ == "__main__":
    run(NAME, build)
