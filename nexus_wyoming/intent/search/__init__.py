"""Web search: when to search (keyword classifier), how (Tavily), and how long to wait (policy)."""
