"""Reproducible installs: requirements.lock (the app) and requirements-test.lock (the app and the
test tools) pin every package, direct or not, with its hashes, and agree with pyproject.toml.
`make lock` rewrites them; `make run`, `make test` and the Dockerfile install them with
`pip install --require-hashes`."""

import re
import tomllib
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .servers import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def locked(name: str) -> dict[str, tuple[str, list[str]]]:
    """{package: (version, hashes)} for the entries of a lock file that apply here."""
    entries = {}
    text = (ROOT / name).read_text()
    for block in re.split(r"\n(?=\S)", text):
        head = block.split("\\", 1)[0].strip()
        if not head or head.startswith("#"):
            continue
        requirement = Requirement(head)
        if requirement.marker and not requirement.marker.evaluate():
            continue
        (spec,) = requirement.specifier
        assert spec.operator == "==", head
        entries[canonicalize_name(requirement.name)] = (
            spec.version,
            re.findall(r"--hash=\S+", block),
        )
    return entries


def closure(requirements: list[str]) -> set[str]:
    """Every distribution these requirements pull in here, read from the installed packages'
    own metadata (the test venv is installed from the test lock)."""
    found, seen, todo = set(), set(), [Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if (name, frozenset(requirement.extras)) in seen:
            continue
        seen.add((name, frozenset(requirement.extras)))
        found.add(name)
        for line in metadata.requires(name) or []:
            dependency = Requirement(line)
            marker = dependency.marker
            if not marker or any(marker.evaluate({"extra": e}) for e in ("", *requirement.extras)):
                todo.append(dependency)
    return found


@pytest.mark.parametrize("name", ["requirements.lock", "requirements-test.lock"])
def test_every_locked_package_is_pinned_with_hashes(name):
    entries = locked(name)
    assert entries
    assert not [package for package, (_, hashes) in entries.items() if not hashes]


def test_the_locks_pin_what_pyproject_asks_for():
    app, test = locked("requirements.lock"), locked("requirements-test.lock")
    for requirement in map(Requirement, PYPROJECT["dependencies"]):
        (spec,) = requirement.specifier
        assert app[canonicalize_name(requirement.name)][0] == spec.version, requirement
    for requirement in map(Requirement, PYPROJECT["optional-dependencies"]["test"]):
        (spec,) = requirement.specifier
        assert test[canonicalize_name(requirement.name)][0] == spec.version, requirement
    # The test lock is resolved within the app's: what they share, they pin alike.
    assert {p: app[p][0] for p in app} == {p: test[p][0] for p in app if p in test}


def test_the_locks_hold_every_transitive_dependency():
    app, test = locked("requirements.lock"), locked("requirements-test.lock")
    assert closure(PYPROJECT["dependencies"]) - set(app) == set()
    for_tests = PYPROJECT["dependencies"] + PYPROJECT["optional-dependencies"]["test"]
    assert closure(for_tests) - set(test) == set()
