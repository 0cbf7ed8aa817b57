"""Model access: the LLM and embedding backends, prompts and JSON schemas. Imports no database."""
