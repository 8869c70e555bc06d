"""I/O of the fetcher: mailbox protocols."""
