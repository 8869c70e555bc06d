"""Postroom's `postroom` command: admin work on the store and the broker from a shell."""
