"""``python -m lrdecode``: the `lrdecode` command."""

from lrdecode.cli import main

main()
