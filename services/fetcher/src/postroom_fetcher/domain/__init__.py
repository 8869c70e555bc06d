"""Pure decisions of the fetcher: what to fetch and in which batches, how to recognise mail seen
before, what a server's error means, when to retry, when a mail is poison. No I/O, no asyncio."""
