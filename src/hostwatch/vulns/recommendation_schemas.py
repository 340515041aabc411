"""Request and response bodies of the security recommendations API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hostwatch.protocol import Time

RecommendationStatus = Literal["active", "exception", "resolved"]
Threat = Literal["exploited", "ransomware"]
RecommendationSort = Literal[
    "exposure_reduction", "-exposure_reduction", "weakness_count", "-weakness_count",
    "highest_cvss", "-highest_cvss", "title", "-title", "status", "-status",
    "updated_at", "-updated_at",
]  # fmt: skip


class Out(BaseModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class RecommendationItem(BaseModel):
    """One recommendation in a list. With `fields`, only `id` and the fields asked for."""

    id: int
    title: str | None = None
    source: str | None = Field(default=None, description="vulnerability; configuration later")
    component: str | None = Field(default=None, description="the related component")
    vendor: str | None = None
    software_source: str | None = None
    installed_versions: list[str] | None = None
    fixed_version: str | None = Field(default=None, description="null: no fix available")
    weakness_count: int | None = None
    weaknesses: list[str] | None = Field(default=None, description="the CVEs addressed")
    threats: list[Threat] | None = Field(
        default=None, description="exploited: a CVE is in CISA KEV; ransomware: known use"
    )
    exploited_count: int | None = None
    highest_cvss: float | None = None
    exposure_reduction: int | None = Field(
        default=None, description="points the device's exposure score drops by once applied"
    )
    status: RecommendationStatus | None = Field(
        default=None, description="an exception past its expiry is active again"
    )
    exception_expires: datetime | None = None
    first_seen: datetime | None = None
    updated_at: datetime | None = None
    resolved_at: datetime | None = None


class RecommendationPage(BaseModel):
    items: list[RecommendationItem]
    next_cursor: str | None
    total: int


class ComponentOut(Out):
    software_id: int
    name: str
    version: str | None
    arch: str | None
    install_path: str | None


class WeaknessOut(Out):
    vulnerability_id: int
    key: str
    cvss: float | None
    exploited: bool
    ransomware: bool
    fixed_version: str | None = Field(description="the lowest fix of this CVE alone")
    installed_versions: list[str]


class ExceptionOut(Out):
    justification: str
    expires_at: datetime | None
    created_by: str | None
    created_at: datetime | None
    expired: bool


class RecommendationDetail(Out):
    id: int
    device_id: str
    device_name: str
    source: str
    title: str
    component: str
    vendor: str | None
    software_source: str | None
    fixed_version: str | None
    status: RecommendationStatus
    weakness_count: int
    exploited_count: int
    ransomware_count: int
    threats: list[Threat]
    highest_cvss: float | None
    exposure_reduction: int
    installed_versions: list[str]
    components: list[ComponentOut] = Field(description="the installs it covers, with paths")
    weaknesses: list[WeaknessOut]
    how_to_apply: list[str] = Field(description="steps, in order; commands are shell-quoted")
    exception: ExceptionOut | None
    first_seen: datetime
    updated_at: datetime
    resolved_at: datetime | None


class RecommendationPatch(BaseModel):
    """File an exception (justification required, expiry optional) or make it active again."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["active", "exception"]
    justification: str | None = Field(default=None, min_length=1, max_length=2000)
    expires_at: Time | None = None
