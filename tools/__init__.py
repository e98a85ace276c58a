"""Developer tools of the stack (run as `python -m tools.<name>`)."""
