"""`python -m engage` runs the engage command."""

from .cli import main

main()
