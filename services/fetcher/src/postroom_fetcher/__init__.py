"""Postroom fetcher: reads support mailboxes and publishes every mail exactly once in effect."""
