"""``python -m hitlab``: the same as the ``hitlab`` command."""

from hitlab.cli import main

main()
