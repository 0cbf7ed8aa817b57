"""Serving: the FastAPI app on a Unix socket, the peer check, and the typed httpx client."""
