"""The review domain: the queue, users, retention and what the web and CLI read of them."""
