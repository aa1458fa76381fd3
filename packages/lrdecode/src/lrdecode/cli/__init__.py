"""The `lrdecode` command line (entry point `lrdecode.cli:main`): `main` builds the app from
the analysis registry and the other commands' modules; see `lrdecode.cli.main`."""

from __future__ import annotations

from lrdecode.cli.main import app, main
from lrdecode.cli.output import reporter

__all__ = ["app", "main", "reporter"]
