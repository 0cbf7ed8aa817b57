"""The Textual terminal UI. It talks to the daemon only through tacitd.daemon.api.client."""
