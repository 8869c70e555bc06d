"""I/O of the fetcher towards mail servers: the IMAP and POP3 clients, TLS, the login
credentials, IDLE, and the per-account thread the blocking clients run on."""
