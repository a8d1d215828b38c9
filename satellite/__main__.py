"""`python -m satellite` = `nexus-satellite`."""

from .cli import main

main()
