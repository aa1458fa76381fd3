"""Sessions: one test session per package, integration, lint (the defaults: `nox`),
plus slow, bench and demo (named explicitly: `nox -s bench`).

Python: every session runs on one interpreter >= 3.11, found by nox (the one running nox
when it is recent enough, otherwise another on PATH, pyenv's included); `LR_PYTHON=3.12 nox`
picks one (rather than `--force-python`, which adds a second `tensorflow` environment).
When none is found the sessions fail rather than being skipped.

One TensorFlow environment: lrdecode, lrsim, integration, slow, bench and demo all run in
the environment of the `tensorflow` session (.nox/tensorflow, about 3 GB), which nox runs
first, once per invocation, as their requirement; they make no environment of their own.
`nox -R -s lrsim` reuses it without reinstalling. lint and shared_schema keep small
environments of their own (shared_schema's has no TensorFlow, on purpose).
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.needs_version = ">=2026.8.10"  # interpreter version ranges (python-discovery), session.env_dir
nox.options.sessions = ["lint", "shared_schema", "lrdecode", "lrsim", "integration"]
nox.options.error_on_missing_interpreters = True

PYTHON = os.environ.get("LR_PYTHON", ">=3.11")  # a version, a range or a path
SHARED = "./shared_schema[test]"
LRSIM = "./packages/lrsim[test]"
LRDECODE = "./packages/lrdecode[test]"
NO_TESTS_COLLECTED = 5  # pytest's exit code for an empty test directory

# The TensorFlow environment, recorded by the `tensorflow` session for the sessions that use it.
_TENSORFLOW_ENV: dict[str, Path] = {}


def pytest(session: nox.Session, *args: str, bin_dir: Path | None = None) -> None:
    """pytest from the session's environment, or from `bin_dir` (the TensorFlow environment's)."""
    program = str(bin_dir / "pytest") if bin_dir else "pytest"
    session.run(program, *args, *session.posargs, success_codes=[0, NO_TESTS_COLLECTED])


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


@nox.session(python=PYTHON, default=False)
def tensorflow(session: nox.Session) -> None:
    """The environment the TensorFlow sessions share: the three packages, test extras, TensorFlow."""
    session.install(SHARED, LRSIM, LRDECODE, "pytest-benchmark>=4")
    _TENSORFLOW_ENV["dir"] = session.env_dir.resolve()
    _TENSORFLOW_ENV["bin"] = Path(session.bin).resolve()


def tensorflow_env(session: nox.Session) -> Path:
    """Point this environment-less session at the `tensorflow` session's environment; its bin folder.

    Commands must then be given by their path in that folder (nox looks programs up on its own PATH).
    """
    if "bin" not in _TENSORFLOW_ENV:
        session.error("the `tensorflow` session did not run in this invocation (it is this session's "
                      "requirement): run without --no-dependencies, e.g. `nox -R -s lrsim`")
    session.env.update({
        "VIRTUAL_ENV": str(_TENSORFLOW_ENV["dir"]),
        "PATH": os.pathsep.join([str(_TENSORFLOW_ENV["bin"]), os.environ.get("PATH", "")]),
        "PYTHONHOME": None,  # as nox does for its own environments
    })
    return _TENSORFLOW_ENV["bin"]


def tensorflow_session(*, default: bool = True):
    """A session that runs in the shared TensorFlow environment instead of one of its own."""
    return nox.session(python=False, requires=["tensorflow"], default=default)


@tensorflow_session()
def lrdecode(session: nox.Session) -> None:
    """The decoder, with its Conv1D extra (TensorFlow)."""
    pytest(session, "packages/lrdecode/tests", "-m", "not slow", bin_dir=tensorflow_env(session))


@tensorflow_session()
def lrsim(session: nox.Session) -> None:
    """The simulator (TensorFlow), at small widths and few epochs."""
    pytest(session, "packages/lrsim/tests", "-m", "not slow", bin_dir=tensorflow_env(session))


@tensorflow_session()
def integration(session: nox.Session) -> None:
    """Cross-package tests: simulate -> format -> decode."""
    pytest(session, "tests", "-m", "not slow", bin_dir=tensorflow_env(session))


@tensorflow_session(default=False)
def slow(session: nox.Session) -> None:
    """Every test marked slow (longer CPU training runs)."""
    bin_dir = tensorflow_env(session)
    # One pytest process per directory: each tests/ folder is a package named `tests`.
    for directory in ("shared_schema/tests", "packages/lrsim/tests", "packages/lrdecode/tests", "tests"):
        pytest(session, directory, "-m", "slow", bin_dir=bin_dir)


@tensorflow_session(default=False)
def bench(session: nox.Session) -> None:
    """Speed and memory targets (pytest-benchmark); figures are in docs/PERFORMANCE.md."""
    pytest(session, "benchmarks", "--benchmark-only", "--benchmark-columns=min,median,max,rounds",
           "--benchmark-json=.benchmarks/latest.json", bin_dir=tensorflow_env(session))


@tensorflow_session(default=False)
def demo(session: nox.Session) -> None:
    """The main job on the embedded digits tasks: sweep every rule, decode, HTML report (its path is printed).

    Options go to scripts/demo.py, e.g. `nox -s demo -- --sweep sweeps/demo-ci.toml --splits 3`.
    """
    session.run(str(tensorflow_env(session) / "python"), "scripts/demo.py", *session.posargs)
