"""`python -m lrdecode.cli`: the `lrdecode` command."""

from lrdecode.cli.main import main

main()
