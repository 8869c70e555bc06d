"""One pass over one connected mailbox (IMAP folder or POP3 session): download, publish,
confirm, then the after-read action and the checkpoint, in batches, within a memory budget."""
