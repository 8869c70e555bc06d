"""I/O of the replier: SMTP."""
