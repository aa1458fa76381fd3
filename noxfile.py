"""Sessions: one test session per package, integration, lint (the defaults: `nox`),
plus slow, bench and demo (named explicitly: `nox -s bench`)."""

from __future__ import annotations

import nox

nox.needs_version = ">=2024.3.2"
nox.options.sessions = ["lint", "shared_schema", "lrdecode", "lrsim", "integration"]
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
SHARED = "./shared_schema[test]"
LRSIM = "./packages/lrsim[test]"
LRDECODE = "./packages/lrdecode[test]"
NO_TESTS_COLLECTED = 5  # pytest's exit code for an empty test directory


def pytest(session: nox.Session, *args: str) -> None:
    session.run("pytest", *args, *session.posargs, success_codes=[0, NO_TESTS_COLLECTED])


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the whole repository."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", ".")


@nox.session(name="shared_schema", python=PYTHON)
def shared_schema_tests(session: nox.Session) -> None:
    """The format, validator and numpy reference (no TensorFlow)."""
    session.install(SHARED)
    pytest(session, "shared_schema/tests", "-m", "not slow")


@nox.session(python=PYTHON)
def lrdecode(session: nox.Session) -> None:
    """The decoder, with its Conv1D extra (TensorFlow)."""
    session.install(SHARED, LRDECODE)
    pytest(session, "packages/lrdecode/tests", "-m", "not slow")


@nox.session(python=PYTHON)
def lrsim(session: nox.Session) -> None:
    """The simulator (TensorFlow), at small widths and few epochs."""
    session.install(SHARED, LRSIM)
    pytest(session, "packages/lrsim/tests", "-m", "not slow")


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """Cross-package tests: simulate -> format -> decode."""
    session.install(SHARED, LRSIM, LRDECODE)
    pytest(session, "tests", "-m", "not slow")


@nox.session(python=PYTHON, default=False)
def slow(session: nox.Session) -> None:
    """Every test marked slow (longer CPU training runs)."""
    session.install(SHARED, LRSIM, LRDECODE)
    # One pytest process per directory: each tests/ folder is a package named `tests`.
    for directory in ("shared_schema/tests", "packages/lrsim/tests", "packages/lrdecode/tests", "tests"):
        pytest(session, directory, "-m", "slow")


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Speed and memory targets (pytest-benchmark); figures are quoted in the README."""
    session.install(SHARED, LRSIM, LRDECODE, "pytest-benchmark>=4")
    pytest(session, "benchmarks", "--benchmark-only", "--benchmark-columns=min,median,max,rounds",
           "--benchmark-json=.benchmarks/latest.json")


@nox.session(python=PYTHON, default=False)
def demo(session: nox.Session) -> None:
    """The main job on the embedded digits tasks: sweep every rule, decode, HTML report (its path is printed).

    Options go to scripts/demo.py, e.g. `nox -s demo -- --sweep sweeps/demo-ci.toml --splits 3`.
    """
    session.install("./shared_schema", "./packages/lrsim", "./packages/lrdecode")
    session.run("python", "scripts/demo.py", *session.posargs)
