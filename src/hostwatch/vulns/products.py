"""Installed programs without a package ecosystem (Windows programs, osquery `programs`) and
operating systems, named in CPE terms so that NVD configurations can match them.

Programs go through an explicit table first (display names as Windows' Programs and
Features list them, e.g. "Mozilla Firefox (x64 en-US)", "Java 8 Update 391"); a program the
table does not know is named by one rule: its publisher and its name, cleaned, become CPE
vendor and product. That rule only ever finds a vulnerability when NVD uses exactly that
vendor and product pair, so a name that merely contains a known product ("Firefox Helper")
never matches it.

Limitations: programs are recognized by English display names; Java 9 and later, Office
click-to-run builds, Microsoft 365 Apps and the Windows OS itself name product lines whose
patch level NVD can not tell, so what matches them is "unknown" (MSRC data, not NVD, knows
which KB fixes what); a publisher spelled differently from NVD's vendor (for the rule) does
not match.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from hostwatch.vulns.cpe import Product
from hostwatch.vulns.packages import DeviceRelease

# Qualifiers Windows display names carry that are no part of the product's name.
_PARENS = re.compile(r"\([^)]*\)")
_NOISE = re.compile(
    r"\b(x64|x86|amd64|arm64|64-bit|32-bit|64 bit|32 bit|[a-z]{2}-[a-z]{2})\b"
    r"|\b\d+(\.\d+)+[a-z]*\b"
)
_SPACES = re.compile(r"\s+")
_CORPORATE = re.compile(
    r",?\s*\b(inc|incorporated|corp|corporation|co|company|ltd|limited|llc|gmbh|s\.a|ag)\b\.?",
)


def clean_name(name: str) -> str:
    """'Mozilla Firefox (x64 en-US)' -> 'mozilla firefox'; '7-Zip 23.01 (x64)' -> '7-zip'."""
    text = _PARENS.sub(" ", name.lower())
    text = _NOISE.sub(" ", text)
    return _SPACES.sub(" ", text).strip(" -_,")


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    products: tuple[tuple[str, str], ...]
    # Turns (the regex match on the raw name, the installed version) into (version, update).
    version: Callable[[re.Match[str], str | None], tuple[str | None, str | None]] | None = None
    line_only: bool = False
    # Match the raw lower-case display name rather than the cleaned one.
    raw: bool = False


def _java(found: re.Match[str], _version: str | None) -> tuple[str | None, str | None]:
    # "Java 8 Update 391": NVD names it jre 1.8.0 with update "update391".
    return f"1.{found.group(1)}.0", f"update{found.group(2)}"


def _year(found: re.Match[str], _version: str | None) -> tuple[str | None, str | None]:
    return found.group("year"), None


def _rule(pattern: str, *products: str, **options: object) -> Rule:
    pairs = tuple(tuple(p.split(":", 1)) for p in products)
    return Rule(re.compile(pattern), pairs, **options)  # type: ignore[arg-type]


TABLE: tuple[Rule, ...] = (
    _rule(r"^java(?:\(tm\))? (\d) update (\d+)", "oracle:jre", "sun:jre", version=_java, raw=True),
    _rule(
        r"^java(?:\(tm\))? se development kit (\d) update (\d+)",
        "oracle:jdk",
        "sun:jdk",
        version=_java,
        raw=True,
    ),
    _rule(r"^mozilla firefox esr$", "mozilla:firefox_esr"),
    _rule(r"^mozilla firefox$", "mozilla:firefox"),
    _rule(r"^mozilla thunderbird$", "mozilla:thunderbird"),
    _rule(r"^google chrome$", "google:chrome"),
    # The Chromium-based Edge; the older EdgeHTML one is part of Windows, not a program.
    _rule(r"^microsoft edge$", "microsoft:edge_chromium"),
    _rule(r"^7-zip$", "7-zip:7-zip", "igor_pavlov:7-zip"),
    _rule(r"^notepad\+\+$", "notepad-plus-plus:notepad++"),
    _rule(r"^vlc media player$", "videolan:vlc_media_player"),
    _rule(r"^adobe acrobat reader dc$|^adobe acrobat reader$", "adobe:acrobat_reader_dc"),
    _rule(r"^adobe acrobat dc$|^adobe acrobat$", "adobe:acrobat_dc"),
    _rule(r"^adobe reader(?: x| xi)?$", "adobe:acrobat_reader", "adobe:reader"),
    _rule(r"^zoom(?: workplace)?$", "zoom:meetings", "zoom:zoom", "zoom:workplace_desktop"),
    _rule(
        r"^microsoft office (?:[a-z ]+ )?(?P<year>2007|2010|2013|2016|2019|2021|2024)$",
        "microsoft:office",
        version=_year,
        line_only=True,
    ),
    _rule(r"^microsoft 365 apps for", "microsoft:365_apps", line_only=True),
)


@dataclass(frozen=True)
class Mapping:
    products: tuple[Product, ...]
    # How the name was mapped, for the finding's evidence: "table: <pattern>" or "rule".
    how: str


def cpe_vendor(publisher: str) -> str:
    """'Apple Inc.' -> 'apple'; 'The Document Foundation' -> 'the_document_foundation'."""
    text = _CORPORATE.sub(" ", publisher.lower())
    text = re.sub(r"[^a-z0-9+\-. ]", " ", text)
    return _SPACES.sub("_", text.strip())


def map_program(
    name: str, publisher: str | None, version: str | None, software_id: int | None = None
) -> Mapping | None:
    """The CPE products an installed program is, or None if it has no usable name."""
    raw = name.lower().strip()
    cleaned = clean_name(name)
    for rule in TABLE:
        found = rule.pattern.search(raw if rule.raw else cleaned)
        if not found:
            continue
        shown, update = rule.version(found, version) if rule.version else (version, None)
        products = tuple(
            Product("a", vendor, product, shown or None, update, software_id, rule.line_only)
            for vendor, product in rule.products
        )
        return Mapping(products, f"table: {rule.pattern.pattern}")
    if not publisher or not cleaned:
        return None
    vendor = cpe_vendor(publisher)
    product = cleaned
    if product.startswith(vendor.replace("_", " ") + " "):
        product = product[len(vendor) + 1 :]
    product = _SPACES.sub("_", product.strip())
    if not vendor or not product:
        return None
    return Mapping((Product("a", vendor, product, version or None, None, software_id),), "rule")


# Windows builds and the NVD product of each release (the product's own versions are the
# full build, e.g. 10.0.19045.4046, which NVD's recent ranges use).
_WINDOWS_BUILDS = {
    10240: ("windows_10", "1507"),
    10586: ("windows_10", "1511"),
    14393: ("windows_10", "1607"),
    15063: ("windows_10", "1703"),
    16299: ("windows_10", "1709"),
    17134: ("windows_10", "1803"),
    17763: ("windows_10", "1809"),
    18362: ("windows_10", "1903"),
    18363: ("windows_10", "1909"),
    19041: ("windows_10", "2004"),
    19042: ("windows_10", "20h2"),
    19043: ("windows_10", "21h1"),
    19044: ("windows_10", "21h2"),
    19045: ("windows_10", "22h2"),
    22000: ("windows_11", "21h2"),
    22621: ("windows_11", "22h2"),
    22631: ("windows_11", "23h2"),
    26100: ("windows_11", "24h2"),
}
_SERVER_BUILDS = {
    9200: "windows_server_2012",
    9600: "windows_server_2012",
    14393: "windows_server_2016",
    17763: "windows_server_2019",
    20348: "windows_server_2022",
}


def os_products(release: DeviceRelease) -> list[Product]:
    """The device's operating system as CPE products (platforms of AND configurations)."""
    name = (release.os_name or "").lower()
    version = (release.os_version or "").strip()
    if "windows" in name or (release.os_family or "") == "windows":
        return _windows(name, version)
    found: list[Product] = []
    if (release.os_family or "") == "linux" or "linux" in name:
        # NVD's "runs on Linux" platform; the kernel version is not in the device record.
        found.append(Product("o", "linux", "linux_kernel", None))
    if "debian" in name and version:
        found.append(Product("o", "debian", "debian_linux", f"{version.split('.')[0]}.0"))
    if "ubuntu" in name and version:
        found.append(Product("o", "canonical", "ubuntu_linux", version))
    return found


def _windows(name: str, version: str) -> list[Product]:
    parts = version.split(".")
    build = int(parts[2]) if len(parts) >= 3 and parts[2].isdigit() else None
    found: list[Product] = []
    if "server" in name and build in _SERVER_BUILDS:
        product = _SERVER_BUILDS[build]
        found.append(Product("o", "microsoft", product, version, "r2" if build == 9600 else None))
    elif build in _WINDOWS_BUILDS:
        family, release_id = _WINDOWS_BUILDS[build]
        # NVD names Windows 10 both as windows_10 with the release as its version (older
        # records) and as windows_10_<release> with the build as its version (newer ones).
        if family == "windows_10":
            found.append(Product("o", "microsoft", "windows_10", release_id))
        found.append(Product("o", "microsoft", f"{family}_{release_id}", version))
    elif build == 7601 or "windows 7" in name:
        found.append(Product("o", "microsoft", "windows_7", version or None, "sp1"))
    elif build == 9600 or "windows 8.1" in name:
        found.append(Product("o", "microsoft", "windows_8.1", version or None))
    return found
