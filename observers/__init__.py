"""Observers: capture what the user does, turn it into redacted Observations. Imports no database and no LLM."""
