"""Version ordering: Debian against the real dpkg, PEP 440 against packaging, RPM, semver and
vendor versions against known orders."""

from __future__ import annotations

import itertools
import random
import re
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from hostwatch.vulns import versions
from tests.shared import shared_data

DPKG = shutil.which("dpkg")
pytestmark = pytest.mark.skipif(DPKG is None, reason="dpkg is needed to check Debian ordering")


def _dpkg_order(left: str, right: str) -> int:
    """-1, 0 or 1 as dpkg itself orders the two versions."""
    for result, op in ((-1, "lt"), (0, "eq")):
        done = subprocess.run([DPKG, "--compare-versions", left, op, right], check=False)
        if done.returncode == 0:
            return result
    return 1


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


_alnum = st.sampled_from(list("0123456789") + list("abz") + ["~", "+", ".", "~~", "0", "00"])
_upstream = st.builds(
    lambda first, rest: first + "".join(rest),
    st.sampled_from(list("0123456789")),
    st.lists(_alnum, max_size=6),
)
_debian = st.builds(
    lambda epoch, upstream, revision: (
        (f"{epoch}:" if epoch is not None else "") + upstream + (f"-{revision}" if revision else "")
    ),
    st.one_of(st.none(), st.integers(0, 3)),
    _upstream,
    st.one_of(st.just(""), st.builds("".join, st.lists(_alnum, min_size=1, max_size=4))),
)


@settings(max_examples=1500, deadline=None)
@given(_debian, _debian)
def test_debian_order_agrees_with_dpkg_on_generated_versions(left: str, right: str) -> None:
    if (
        versions.parse(versions.DEBIAN, left) is None
        or versions.parse(versions.DEBIAN, right) is None
    ):
        return  # dpkg refuses these too; whether they are versions is tested below
    assert versions.compare(versions.DEBIAN, left, right) == _dpkg_order(left, right)


def _tracker_versions() -> list[str]:
    text = shared_data("debian_security_tracker", "DSA", "list").read_text(encoding="utf-8")
    found = re.findall(r"^\s+\[[a-z-]+\] - \S+ ([^<\s]\S*)", text, re.MULTILINE)
    return sorted({v for v in found if versions.parse(versions.DEBIAN, v) is not None})


def test_debian_order_agrees_with_dpkg_on_real_tracker_versions() -> None:
    real = _tracker_versions()
    rng = random.Random(7)
    # Pairs of one package's neighbours are the interesting ones: sort, then pair near items.
    pairs = [
        (real[i], real[min(i + rng.randint(1, 3), len(real) - 1)]) for i in range(0, len(real), 4)
    ]
    pairs += [tuple(rng.sample(real, 2)) for _ in range(300)]

    disagreements = [
        (a, b) for a, b in pairs if versions.compare(versions.DEBIAN, a, b) != _dpkg_order(a, b)
    ]

    assert len(pairs) > 1500
    assert disagreements == []


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("1.0~rc1", "1.0"),
        ("1.0", "1.0+deb11u1"),
        ("2.0", "1:0.9"),
        ("2:1.20.11-1+deb11u5", "2:1.20.11-1+deb11u6"),
        ("102.9.0esr-1~deb11u1", "102.9.0esr-1"),
        ("1.0-1", "1.0-1+b1"),
    ],
)
def test_debian_known_orders(lower: str, higher: str) -> None:
    assert versions.compare(versions.DEBIAN, lower, higher) == -1
    assert _dpkg_order(lower, higher) == -1


_pep440 = st.builds(
    lambda epoch, release, pre, post, dev, local: (
        (f"{epoch}!" if epoch else "")
        + ".".join(map(str, release))
        + (f"{pre[0]}{pre[1]}" if pre else "")
        + (f".post{post}" if post is not None else "")
        + (f".dev{dev}" if dev is not None else "")
        + (f"+{local}" if local else "")
    ),
    st.sampled_from([0, 0, 0, 1]),
    st.lists(st.integers(0, 12), min_size=1, max_size=4),
    st.one_of(st.none(), st.tuples(st.sampled_from(["a", "b", "rc"]), st.integers(0, 3))),
    st.one_of(st.none(), st.integers(0, 3)),
    st.one_of(st.none(), st.integers(0, 3)),
    st.one_of(st.just(""), st.sampled_from(["ubuntu1", "local.7", "abc"])),
)


@settings(max_examples=3000, deadline=None)
@given(_pep440, _pep440)
def test_pep440_order_agrees_with_packaging(left: str, right: str) -> None:
    expected = (
        -1 if Version(left) < Version(right) else (1 if Version(left) > Version(right) else 0)
    )
    assert versions.compare(versions.PEP440, left, right) == expected


def test_pep440_pre_post_dev_and_local_order() -> None:
    chain = ["1.0.dev1", "1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0+local", "1.0.post1", "1.1"]
    for lower, higher in itertools.pairwise(chain):
        assert versions.compare(versions.PEP440, lower, higher) == -1, (lower, higher)


@pytest.mark.parametrize(
    ("scheme", "lower", "higher"),
    [
        (versions.RPM, "1.0-1.el9", "1.0-2.el9"),
        (versions.RPM, "2.0-1", "1:1.0-1"),
        (versions.RPM, "1.0~rc1-1", "1.0-1"),
        (versions.RPM, "1.0-1", "1.0a-1"),
        (versions.SEMVER, "1.0.0-alpha", "1.0.0-alpha.1"),
        (versions.SEMVER, "1.0.0-beta.11", "1.0.0-rc.1"),
        (versions.SEMVER, "1.0.0-rc.1", "1.0.0"),
        (versions.SEMVER, "1.9.0", "1.10.0"),
        (versions.GOLANG, "v1.2.3", "v1.10.0"),
        (versions.ALPINE, "1.2.3-r4", "1.2.3-r10"),
        (versions.VENDOR, "9.20", "19.00"),
        (versions.VENDOR, "122.0", "122.0.1"),
        (versions.VENDOR, "1.6.0", "1.8.0"),
        (versions.VENDOR, "20.005.30539", "23.008.20470"),
    ],
)
def test_other_schemes_known_orders(scheme: str, lower: str, higher: str) -> None:
    assert versions.compare(scheme, lower, higher) == -1
    assert versions.compare(scheme, higher, lower) == 1


def test_vendor_versions_ignore_trailing_zeros() -> None:
    assert versions.compare(versions.VENDOR, "122", "122.0.0") == 0


def test_unreadable_versions_are_none_not_guesses() -> None:
    assert versions.parse(versions.PEP440, "not a version") is None
    assert versions.parse(versions.DEBIAN, "kernel image") is None
    assert versions.parse(versions.VENDOR, "beta") is None


def test_ecosystems_map_to_their_schemes() -> None:
    assert versions.scheme_for("PyPI") == versions.PEP440
    assert versions.scheme_for("Debian:11") == versions.DEBIAN
    assert versions.scheme_for("Ubuntu:22.04:LTS") == versions.DEBIAN
    assert versions.scheme_for("crates.io") == versions.SEMVER
    assert versions.scheme_for("Alpine:v3.18") == versions.ALPINE
    with pytest.raises(versions.UnknownScheme):
        versions.scheme_for("Nonesuch")
