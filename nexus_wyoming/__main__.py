"""`python -m nexus_wyoming` = `nexus-wyoming`."""

from .cli import main

main()
