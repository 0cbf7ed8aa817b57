"""Memory: the shared types, the SQLite store with FTS5 and sqlite-vec, hybrid retrieval. Imports no LLM."""
