"""Settings from the environment; every setting is a HOSTWATCH_* variable."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


class SettingsError(ValueError):
    """A setting has a value Hostwatch cannot use; the message names the variable."""


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _env_float(name: str, default: float, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not value >= minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


_LOOPBACK_HOSTS = {"127.0.0.1", "::1", "[::1]", "localhost"}


def _env_feed_url(name: str, default: str) -> str:
    """A feed location: https, or plain http to this machine only (a local mirror, tests)."""
    url = (os.environ.get(name) or default).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK_HOSTS:
        return url
    raise SettingsError(
        f"{name} must be an https URL (plain http only to 127.0.0.1 or localhost), "
        f"got {parts.scheme or 'no'} scheme for host {parts.hostname or '?'}"
    )


def _env_list(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    return tuple(dict.fromkeys(item.strip() for item in raw.split(",") if item.strip()))


# Where `hostwatch feeds update` downloads from: the feeds' official locations.
OSV_URL = "https://osv-vulnerabilities.storage.googleapis.com"
OSV_ECOSYSTEMS = ("PyPI", "npm", "Debian", "Ubuntu", "Alpine", "Go", "crates.io", "Maven")
NVD_URL = "https://services.nvd.nist.gov/rest/json/cves/2.0"
KEV_URL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
DEBIAN_TRACKER_URL = (
    "https://salsa.debian.org/security-tracker-team/security-tracker/-/raw/master/data"
)
# Microsoft's security update API: /updates lists the months, /cvrf/{id} serves each one.
MSRC_URL = "https://api.msrc.microsoft.com/cvrf/v3.0"


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=lambda: Path("var"))
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8765
    heartbeat_interval: int = 30
    # A device silent for longer than this is shown as inactive.
    inactive_after_seconds: int = 7 * 24 * 3600
    # An agent heartbeat wants a fresh inventory once the last one is this old.
    inventory_interval_seconds: int = 24 * 3600
    session_ttl_seconds: int = 12 * 3600
    # Failed sign-ins allowed in the window: for one user name from one address, from one
    # address for any names, and for one user name from anywhere. The per-name limit is
    # high so that a stranger cannot lock a colleague out with a few wrong passwords.
    login_failures_per_user: int = 5
    login_failures_per_address: int = 20
    login_failures_per_account: int = 100
    login_failure_window_seconds: int = 15 * 60
    max_body_bytes: int = 1 * 1024 * 1024
    max_agent_body_bytes: int = 64 * 1024 * 1024
    # Set when the server sits behind TLS so cookies carry the Secure flag.
    secure_cookies: bool = False
    # Matches of one rule on one device and process this close join one alert.
    alert_window_seconds: int = 24 * 3600
    # Alerts on one device or user this close correlate into one incident.
    incident_window_seconds: int = 2 * 3600
    # `hostwatch feeds update`: download locations, OSV ecosystems, the NVD API key (sent as
    # a header, never logged) and the pause between NVD requests (NVD asks for 6 s without
    # a key), the largest body accepted from a feed, and the time allowed per request.
    feeds_osv_url: str = OSV_URL
    feeds_osv_ecosystems: tuple[str, ...] = OSV_ECOSYSTEMS
    feeds_nvd_url: str = NVD_URL
    feeds_nvd_api_key: str = field(default="", repr=False)
    feeds_nvd_delay_seconds: float | None = None
    feeds_nvd_page_size: int = 2000
    feeds_kev_url: str = KEV_URL
    feeds_debian_url: str = DEBIAN_TRACKER_URL
    feeds_msrc_url: str = MSRC_URL
    feeds_max_bytes: int = 1024 * 1024 * 1024
    feeds_timeout_seconds: float = 120.0

    @property
    def nvd_delay(self) -> float:
        """NVD's published rate limits: 5 requests in 30 s without a key, 50 with one."""
        if self.feeds_nvd_delay_seconds is not None:
            return self.feeds_nvd_delay_seconds
        return 0.6 if self.feeds_nvd_api_key else 6.0

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hostwatch.db').resolve()}"

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            data_dir=Path(os.environ.get("HOSTWATCH_DATA_DIR") or "var"),
            database_url=os.environ.get("HOSTWATCH_DATABASE_URL", ""),
            host=os.environ.get("HOSTWATCH_HOST") or "127.0.0.1",
            port=_env_int("HOSTWATCH_PORT", 8765, minimum=1),
            heartbeat_interval=_env_int("HOSTWATCH_HEARTBEAT_INTERVAL", 30, minimum=1),
            inactive_after_seconds=_env_int(
                "HOSTWATCH_INACTIVE_AFTER_SECONDS", 7 * 24 * 3600, minimum=60
            ),
            inventory_interval_seconds=_env_int(
                "HOSTWATCH_INVENTORY_INTERVAL_SECONDS", 24 * 3600, minimum=60
            ),
            session_ttl_seconds=_env_int("HOSTWATCH_SESSION_TTL_SECONDS", 12 * 3600, minimum=60),
            login_failures_per_user=_env_int("HOSTWATCH_LOGIN_FAILURES_PER_USER", 5, minimum=1),
            login_failures_per_address=_env_int(
                "HOSTWATCH_LOGIN_FAILURES_PER_ADDRESS", 20, minimum=1
            ),
            login_failures_per_account=_env_int(
                "HOSTWATCH_LOGIN_FAILURES_PER_ACCOUNT", 100, minimum=1
            ),
            login_failure_window_seconds=_env_int(
                "HOSTWATCH_LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60, minimum=1
            ),
            secure_cookies=_env_bool("HOSTWATCH_SECURE_COOKIES", False),
            alert_window_seconds=_env_int("HOSTWATCH_ALERT_WINDOW_SECONDS", 24 * 3600, minimum=1),
            incident_window_seconds=_env_int(
                "HOSTWATCH_INCIDENT_WINDOW_SECONDS", 2 * 3600, minimum=1
            ),
            feeds_osv_url=_env_feed_url("HOSTWATCH_FEEDS_OSV_URL", OSV_URL),
            feeds_osv_ecosystems=_env_list("HOSTWATCH_FEEDS_OSV_ECOSYSTEMS", OSV_ECOSYSTEMS),
            feeds_nvd_url=_env_feed_url("HOSTWATCH_FEEDS_NVD_URL", NVD_URL),
            feeds_nvd_api_key=os.environ.get("HOSTWATCH_FEEDS_NVD_API_KEY", "").strip(),
            feeds_nvd_delay_seconds=(
                _env_float("HOSTWATCH_FEEDS_NVD_DELAY_SECONDS", 0.0)
                if os.environ.get("HOSTWATCH_FEEDS_NVD_DELAY_SECONDS")
                else None
            ),
            feeds_nvd_page_size=_env_int("HOSTWATCH_FEEDS_NVD_PAGE_SIZE", 2000, minimum=1),
            feeds_kev_url=_env_feed_url("HOSTWATCH_FEEDS_KEV_URL", KEV_URL),
            feeds_debian_url=_env_feed_url("HOSTWATCH_FEEDS_DEBIAN_URL", DEBIAN_TRACKER_URL),
            feeds_msrc_url=_env_feed_url("HOSTWATCH_FEEDS_MSRC_URL", MSRC_URL),
            feeds_max_bytes=_env_int("HOSTWATCH_FEEDS_MAX_BYTES", 1024 * 1024 * 1024, minimum=1),
            feeds_timeout_seconds=_env_float("HOSTWATCH_FEEDS_TIMEOUT_SECONDS", 120.0, 0.1),
        )
