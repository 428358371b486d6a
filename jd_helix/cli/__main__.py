"""`python -m jd_helix.cli ...`, as the `jd-helix` script (what `jd-helix dev` starts the sandbox with)."""

from jd_helix.cli.main import main

main()
