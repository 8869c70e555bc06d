"""Code that two or more Postroom services need: wire contracts, broker topology, settings,
the storage ports with their SQLite and MongoDB adapters, and small pure mail helpers.

Nothing in this package connects anywhere at import time.
"""
