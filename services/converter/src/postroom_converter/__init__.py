"""Postroom converter: turns each received mail into a new work item or threads it onto an
existing one, stores it, and publishes what happened."""
