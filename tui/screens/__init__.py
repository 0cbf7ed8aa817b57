"""The TUI's screens: one class per module."""
