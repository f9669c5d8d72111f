"""`python -m sync.central sync central ...`: as `cradle sync` and `cradle replicate`."""

from sync.central.cli import main

main()
