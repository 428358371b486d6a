"""The `jd-helix` command: one module per subcommand, gathered in main.py."""
