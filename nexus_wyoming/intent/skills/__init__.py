"""Built-in skills: answers that need no model and no network, in microseconds."""
