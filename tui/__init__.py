"""The ``sessions-tui`` command: the terminal UI and the command-line interface."""
