"""manifest.json: format name, version, producer, creation time, description."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from shared_schema.errors import Problem
from shared_schema.tables import FORMAT_NAME, FORMAT_VERSION
from shared_schema.version import __version__

MANIFEST_FILE = "manifest.json"
_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
_CREATED = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
)
KNOWN_FIELDS = ("format", "format_version", "producer", "created", "description")
READER_MAJOR = int(FORMAT_VERSION.split(".")[0])
READER_MINOR = int(FORMAT_VERSION.split(".")[1])


def json_schema() -> dict[str, Any]:
    """The JSON Schema of manifest.json shipped with this package (for non-Python users)."""
    text = resources.files("shared_schema").joinpath("manifest.schema.json").read_text()
    return json.loads(text)


def new_manifest(
    description: str = "", producer: tuple[str, str] | None = None
) -> dict[str, Any]:
    """A manifest for a dataset written now."""
    if producer is None:
        producer = ("shared_schema", __version__)
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "producer": {"name": producer[0], "version": producer[1]},
        "created": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "description": description,
    }


def check_manifest(manifest: Any) -> list[Problem]:
    """Problems of a parsed manifest (errors, plus warnings for newer minors/unknown fields)."""
    problems: list[Problem] = []

    def error(message: str, fix: str, column: str | None = None) -> None:
        problems.append(Problem(MANIFEST_FILE, message, fix, column=column))

    if not isinstance(manifest, dict):
        error("must hold a JSON object", "write an object with format, format_version, producer and created")
        return problems
    if manifest.get("format") != FORMAT_NAME:
        error(
            f"'format' is {manifest.get('format')!r}, not {FORMAT_NAME!r}",
            f"set \"format\": \"{FORMAT_NAME}\" (is this directory an lr-observables dataset?)",
            column="format",
        )
    version = manifest.get("format_version")
    match = _SEMVER.match(version) if isinstance(version, str) else None
    if match is None:
        error(
            f"'format_version' is {version!r}, not a semantic version like {FORMAT_VERSION!r}",
            f"set \"format_version\": \"{FORMAT_VERSION}\"",
            column="format_version",
        )
    else:
        major, minor = int(match.group(1)), int(match.group(2))
        if major > READER_MAJOR:
            error(
                f"the dataset has format_version {version}, a newer major version than this "
                f"reader's {FORMAT_VERSION}",
                f"upgrade shared_schema (pip install -U shared_schema) to a release that reads "
                f"format {major}.x",
                column="format_version",
            )
        elif major < READER_MAJOR:
            error(
                f"the dataset has format_version {version}, an older major version that this "
                f"reader ({FORMAT_VERSION}) does not read",
                "convert it with the shared_schema release that wrote it",
                column="format_version",
            )
        elif minor > READER_MINOR:
            problems.append(Problem(
                MANIFEST_FILE,
                f"format_version {version} is newer than this reader's {FORMAT_VERSION}; "
                f"fields added since are ignored",
                "upgrade shared_schema to read every field",
                column="format_version",
                severity="warning",
            ))
    producer = manifest.get("producer")
    if not (
        isinstance(producer, dict)
        and isinstance(producer.get("name"), str) and producer["name"]
        and isinstance(producer.get("version"), str) and producer["version"]
    ):
        error(
            f"'producer' is {producer!r}, not an object with non-empty 'name' and 'version'",
            "set \"producer\": {\"name\": \"<program>\", \"version\": \"<its version>\"}",
            column="producer",
        )
    created = manifest.get("created")
    if not (isinstance(created, str) and _CREATED.match(created)):
        error(
            f"'created' is {created!r}, not an ISO 8601 date-time with a time zone",
            "set \"created\" like \"2026-01-31T12:00:00Z\"",
            column="created",
        )
    if "description" in manifest and not isinstance(manifest["description"], str):
        error("'description' must be a string", "write the description as text", column="description")
    for name in manifest:
        if name not in KNOWN_FIELDS:
            problems.append(Problem(
                MANIFEST_FILE, f"unknown field '{name}' is ignored",
                "remove it, or upgrade shared_schema if a newer format defines it",
                column=name, severity="warning",
            ))
    return problems


def read_manifest(directory: Path) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The parsed manifest of a dataset directory and its problems."""
    path = directory / MANIFEST_FILE
    if not directory.is_dir():
        what = "does not exist" if not directory.exists() else "is not a directory"
        return None, [Problem(
            str(directory), f"the dataset path {what}",
            "give the directory that holds manifest.json, runs.parquet and observables.parquet",
        )]
    if not path.is_file():
        return None, [Problem(
            MANIFEST_FILE, f"missing from {directory}",
            "a dataset directory must hold manifest.json; write datasets with "
            "shared_schema.write_dataset (or `lrsim run`), or add a manifest as in FORMAT.md",
        )]
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, [Problem(
            MANIFEST_FILE, f"is not valid JSON ({error})",
            "rewrite it as a JSON object as described in FORMAT.md",
        )]
    return manifest, check_manifest(manifest)
