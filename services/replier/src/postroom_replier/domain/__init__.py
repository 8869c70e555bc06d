"""Pure decisions of the replier: whom to answer (loop rules) and what to send (composition)."""
