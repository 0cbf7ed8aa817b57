"""Where the daemon's socket is: one answer for the daemon, the CLI, the TUI and the MCP bridge.

Kept free of heavy imports: every client imports it at start-up.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

ENV_VAR = "TACIT_SOCKET"
SOCKET_NAME = "tacit.sock"


def default_socket_path(settings: object = None) -> Path:
    """TACIT_SOCKET, else tacit.sock in the user's runtime dir (e.g. /run/user/1000/tacit/tacit.sock).

    A process started without XDG_RUNTIME_DIR (an MCP client passes only a
    few variables to `tacit mcp`) would otherwise get platformdirs' fallback
    in /tmp, not the dir the daemon uses: on Linux, /run/user/<uid> is taken
    when it exists and is ours, which is what systemd sets XDG_RUNTIME_DIR to.
    """
    if env := os.environ.get(ENV_VAR):
        return Path(env)
    if sys.platform == "linux" and not os.environ.get("XDG_RUNTIME_DIR"):
        run = Path(f"/run/user/{os.getuid()}")
        try:
            if run.is_dir() and run.stat().st_uid == os.getuid():
                return run / "tacit" / SOCKET_NAME
        except OSError:
            pass
    return platformdirs.user_runtime_path("tacit") / SOCKET_NAME
