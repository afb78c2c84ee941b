"""``python -m pipeline`` is the same as the ``ifs-outcomes`` command."""

from pipeline.cli import main

main()
