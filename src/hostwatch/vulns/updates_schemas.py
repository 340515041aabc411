"""Response bodies of the missing-updates tab."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

UpdatesStatus = Literal["assessed", "unknown", "not_windows"]
UpdatesSort = Literal["-bulletin", "bulletin"]


class Out(BaseModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class UpdateCveOut(Out):
    cve: str
    title: str
    severity: str | None
    exploited: bool
    publicly_disclosed: bool


class MissingUpdateOut(Out):
    id: str  # "KB5035845"
    kb: str
    bulletin: str  # the month: "2024-Mar"
    os_version: str  # the product: "Windows 10 Version 22H2 for x64-based Systems"
    fixed_build: str
    update_type: str
    restart_required: str | None
    url: str | None
    cve_count: int
    exploited_count: int
    cves: list[UpdateCveOut]
    # Why it is listed: "build 10.0.19045.3693 < fixed build 10.0.19045.4170 (KB5035845)".
    reason: str
    tags: list[str]


class MissingAdvisoryOut(Out):
    id: str  # "DSA-5380-1 xorg-server"
    advisory: str
    package: str
    binary_packages: list[str]
    installed_version: str
    fixed_version: str | None
    cve_count: int
    cves: list[str]


class MissingUpdatesPage(Out):
    """The tab's whole content: short lists (a product has one update a month)."""

    status: UpdatesStatus
    reason: str
    product: str | None
    build: str | None
    updates_missing: int
    cves_addressed: int
    exploited_cves: int
    # Updates the device has, and what shows it: "hotfix KB5035845", "build ... >= ...".
    installed: dict[str, str]
    items: list[MissingUpdateOut]
    total: int
    advisories: list[MissingAdvisoryOut]
