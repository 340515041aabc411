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
from univers import debian as univers_debian

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


def _all_tracker_versions() -> list[str]:
    found: set[str] = set()
    for kind in ("DSA", "DLA"):
        text = shared_data("debian_security_tracker", kind, "list").read_text(encoding="utf-8")
        found.update(re.findall(r"^\s+\[[a-z-]+\] - \S+ ([^<\s]\S*)", text, re.MULTILINE))
    return sorted(v for v in found if versions.parse(versions.DEBIAN, v) is not None)


_PIECES = [*"0123456789", *"0123456789", *"abzAZ~+.-", "~~", "00", "0", "deb11u", "+b"]


def _generated_debian_versions(rng: random.Random, count: int) -> list[str]:
    """Random versions, then variants of them sharing a prefix (where orderings are close).

    None ends in '-': univers reads an empty revision there, dpkg refuses the version.
    """
    made: set[str] = set()
    while len(made) < count:
        text = rng.choice("0123456789") + "".join(
            rng.choice(_PIECES) for _ in range(rng.randint(0, 6))
        )
        if rng.random() < 0.25:
            text = f"{rng.choice(['0', '1', '2', '01'])}:{text}"
        for variant in (text, *(_variant(rng, text) for _ in range(2))):
            if not variant.endswith("-") and versions.parse(versions.DEBIAN, variant) is not None:
                made.add(variant)
    return sorted(made)


def _variant(rng: random.Random, text: str) -> str:
    cut = rng.randint(1, len(text))
    return text[:cut] + "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 3)))


def _debian_key(text: str) -> tuple[object, ...]:
    key = versions.parse(versions.DEBIAN, text)
    assert key is not None, text
    return tuple(key[:3])


def _sorted_by_key() -> list[str]:
    pool = set(_all_tracker_versions()) | set(_generated_debian_versions(random.Random(11), 4000))
    return sorted(pool, key=_debian_key)


def test_debian_key_orders_like_univers_on_every_tracker_and_generated_version() -> None:
    """The ordering key against univers' comparison, the reference it replaces in matching.

    Sorted by the key, every neighbour must be lower or equal by univers too, and equal only
    where the keys are equal; with univers a total order, that covers every pair. Random
    pairs then check the sign directly.
    """
    ordered = _sorted_by_key()
    rng = random.Random(13)

    wrong = [
        (a, b)
        for a, b in itertools.pairwise(ordered)
        if univers_debian.compare_versions(a, b) != (0 if _debian_key(a) == _debian_key(b) else -1)
    ]
    pairs = [(rng.choice(ordered), rng.choice(ordered)) for _ in range(20_000)]
    wrong += [
        (a, b)
        for a, b in pairs
        if _sign(univers_debian.compare_versions(a, b)) != versions.compare(versions.DEBIAN, a, b)
    ]

    assert len(ordered) > 10_000
    assert wrong == []


def test_debian_key_orders_like_dpkg_on_neighbouring_versions() -> None:
    """1,500 neighbours of the key's own sort, each compared by the real dpkg (one shell
    loop runs dpkg for the whole batch)."""
    ordered = _sorted_by_key()
    rng = random.Random(17)
    pairs = rng.sample(list(itertools.pairwise(ordered)), 1500)
    script = (
        'while read -r a b; do if "$0" --compare-versions "$a" lt "$b"; then echo -1; '
        'elif "$0" --compare-versions "$a" eq "$b"; then echo 0; else echo $?; fi; done'
    )

    done = subprocess.run(
        ["sh", "-c", script, str(DPKG)],
        input="".join(f"{a} {b}\n" for a, b in pairs),
        capture_output=True,
        text=True,
        check=True,
    )
    said = [int(line) for line in done.stdout.split()]

    assert len(said) == len(pairs)
    # dpkg exits 1 for "not equal" (so higher) and 2 for a version it refuses.
    wrong = [
        (a, b, dpkg)
        for (a, b), dpkg in zip(pairs, said, strict=True)
        if versions.compare(versions.DEBIAN, a, b) != dpkg
    ]
    assert wrong == []


def test_debian_key_keeps_univers_equality() -> None:
    """'1.0' and '1.00' order the same, but (as univers has it) are not the same version."""
    plain = versions.parse(versions.DEBIAN, "1.0")
    padded = versions.parse(versions.DEBIAN, "1.00")
    tilde = versions.parse(versions.DEBIAN, "1.0~")

    assert plain is not None and padded is not None and tilde is not None
    assert not plain < padded and not padded < plain and plain <= padded
    assert plain != padded
    assert plain == versions.parse(versions.DEBIAN, "0:1.0-0")
    assert tilde < plain and str(tilde) == "1.0~"


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
