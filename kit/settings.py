"""Settings read from the environment (``DN_*``), overridable per instance."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICE_NAMES = ("registration", "training", "orientation", "reporting")


def _default_home() -> Path:
    """``.dn/`` in the checkout when run from one, else in the working directory."""
    checkout = Path(__file__).resolve().parents[1]
    base = checkout if (checkout / "pyproject.toml").exists() else Path.cwd()
    return base / ".dn"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DN_", extra="ignore")

    home: Path = Field(default_factory=_default_home)
    environment: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"

    # External infrastructure; when unset the embedded instances are used.
    mongodb_url: str | None = None
    kafka_bootstrap: str | None = None
    # Ports of the embedded instances.
    # Each service's database is named <prefix><service> (dn_registration …): two platforms (or a
    # test's own process) can share one MongoDB.
    database_prefix: str = "dn_"
    mongodb_port: int = 27027
    kafka_port: int = 19092
    kafka_partitions: int = 6
    kafka_replication: int = 1

    gateway_port: int = 8000
    registration_port: int = 8101
    training_port: int = 8102
    orientation_port: int = 8103
    reporting_port: int = 8104
    # Where the others reach a service; unset: http://DN_HOST:<port>. On a cluster each service
    # has its own address (DN_REGISTRATION_URL=http://registration:8101 …).
    registration_url: str | None = None
    training_url: str | None = None
    orientation_url: str | None = None
    reporting_url: str | None = None

    # Development signing key for JWTs; generated under DN_HOME when unset.
    jwt_secret: str | None = None
    # Master key wrapping each beneficiary's data key (base64, 32 bytes); generated locally.
    master_key: str | None = None
    token_ttl_hours: int = 12
    # Production sign-in: person tokens from this OIDC issuer, checked against its JWKS.
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_role_claim: str = "role"  # a dotted path, e.g. realm_access.roles
    oidc_association_claim: str = "association_id"

    # Hardening: GraphQL and request limits, partner intake rate per token subject.
    graphql_max_body_bytes: int = 256 * 1024
    ingest_rate_per_s: float = 50.0
    ingest_burst: int = 100

    # Registration's retention job: people without contact for this long are anonymised.
    retention_days: int = 730
    retention_check_hours: float = 24.0
    # When set, the job's interval in seconds instead of DN_RETENTION_CHECK_HOURS (tests).
    retention_check_s: float | None = None

    demo: bool = True
    # A clean stop (Ctrl-C on `dn up`) waits this long at most for the services to apply what
    # partners already sent before stopping them.
    drain_timeout_s: float = 30.0
    # Consumer fetch wait. A fetch the embedded broker has nothing for is answered only once this
    # has passed (records arriving meanwhile wait too), so an idle consumer polls 1000/wait times
    # a second: at 10 ms the platform's seven consumers kept the broker at 16 % of a core doing
    # nothing, and a simulated year took 32 CPU-seconds against 22 at 50 ms. Partner intake and
    # the services' subscriptions to one another wait 50 ms; reporting's projection, whose
    # freshness the dashboard shows, keeps the short wait (``live_fetch_max_wait_ms``).
    fetch_max_wait_ms: int = 50
    live_fetch_max_wait_ms: int = 10
    # The services' subscriptions to one another's events (not reporting's live projection)
    # take a batch at most this often when events trickle in: at 1,000 events/s training and
    # orientation, reading registration's ~70 a second, ran a transaction and an offset commit
    # for every one or two.
    canonical_linger_ms: int = 50
    # A partner request naming something not known yet (a person, a session, a referral…) is
    # parked until it arrives; still unresolved after this long it is dead-lettered.
    parked_max_wait_s: float = 7 * 24 * 3600.0
    # Waiting requests one partner may have parked; beyond, new ones are refused at once.
    parked_per_partner: int = 10_000
    trace_flush_ms: int = 500
    log_level: str = "INFO"

    def service_port(self, service: str) -> int:
        port: int = getattr(self, f"{service}_port")
        return port

    def service_url(self, service: str) -> str:
        configured: str | None = getattr(self, f"{service}_url")
        if configured:
            return configured.rstrip("/")
        return f"http://{self.host}:{self.service_port(service)}"

    @property
    def retention_check_interval(self) -> timedelta:
        """How often registration's retention job runs."""
        if self.retention_check_s is not None:
            return timedelta(seconds=self.retention_check_s)
        return timedelta(hours=self.retention_check_hours)

    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}:{self.gateway_port}"

    @property
    def embedded_mongodb_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongodb_port}/?replicaSet=rs0"

    @property
    def embedded_kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def resolved_mongodb_url(self) -> str:
        return self.mongodb_url or self.embedded_mongodb_url

    @property
    def resolved_kafka_bootstrap(self) -> str:
        return self.kafka_bootstrap or self.embedded_kafka_bootstrap

    @property
    def uses_embedded_infra(self) -> bool:
        return self.mongodb_url is None and self.kafka_bootstrap is None


@lru_cache
def get_settings() -> Settings:
    return Settings()
