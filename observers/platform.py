"""What the desktop shows: focused window, visible windows, idle time. One class per platform.

X11 is read through python-xlib (EWMH `_NET_ACTIVE_WINDOW`, `_NET_CLIENT_LIST`,
`WM_CLASS`, `_NET_WM_NAME`, MIT-SCREEN-SAVER for idle). macOS uses AppKit and
Quartz, Windows uses ctypes; both are imported only on their platform. Where
none applies (Wayland without XWayland, a headless box) `detect()` returns
None with a reason, and the observers that need it stay off.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Protocol

from .privacy import WindowInfo

URL_IN_TITLE = re.compile(r"\bhttps?://[^\s<>\"']+|\b(?:[a-z0-9-]+\.)+(?:com|org|net|io|dev|app|co|ai|pt|de|uk)\b", re.I)


def url_from_title(title: str | None) -> str | None:
    """Browsers sometimes put the URL or the domain in the title; use it when they do."""
    match = URL_IN_TITLE.search(title or "")
    return match.group() if match else None


class Desktop(Protocol):
    def active_window(self) -> WindowInfo | None: ...

    def windows(self) -> list[WindowInfo]: ...

    def idle_seconds(self) -> float | None: ...

    def close(self) -> None: ...


class X11Desktop:
    def __init__(self, display: str | None = None):
        from Xlib import X, display as xdisplay

        self._X = X
        self.display = xdisplay.Display(display)
        self.root = self.display.screen().root
        self._atom = {name: self.display.intern_atom(name) for name in (
            "_NET_ACTIVE_WINDOW", "_NET_CLIENT_LIST_STACKING", "_NET_CLIENT_LIST", "_NET_WM_NAME", "UTF8_STRING")}
        self._screensaver = self.display.has_extension("MIT-SCREEN-SAVER")

    def _prop(self, window, name: str):  # noqa: ANN001, ANN202 (Xlib types are untyped)
        return window.get_full_property(self._atom[name], self._X.AnyPropertyType)

    def _info(self, window) -> WindowInfo | None:  # noqa: ANN001
        from Xlib.error import XError

        try:
            name = self._prop(window, "_NET_WM_NAME")
            title = name.value.decode("utf-8", "replace") if name else window.get_wm_name()
            if isinstance(title, bytes):
                title = title.decode("latin-1")
            wm_class = window.get_wm_class()
            attrs = window.get_attributes()
            geom = window.get_geometry()
        except XError:
            return None  # the window went away between listing and reading it
        screen = self.display.screen()
        on_screen = geom.x < screen.width_in_pixels and geom.y < screen.height_in_pixels and \
            geom.x + geom.width > 0 and geom.y + geom.height > 0
        return WindowInfo(app=wm_class[1] if wm_class else None, title=title or None,
                          visible=attrs.map_state == self._X.IsViewable and on_screen, url=url_from_title(title))

    def active_window(self) -> WindowInfo | None:
        prop = self._prop(self.root, "_NET_ACTIVE_WINDOW")
        if not prop or not prop.value or not prop.value[0]:
            return None
        return self._info(self.display.create_resource_object("window", prop.value[0]))

    def windows(self) -> list[WindowInfo]:
        prop = self._prop(self.root, "_NET_CLIENT_LIST_STACKING") or self._prop(self.root, "_NET_CLIENT_LIST")
        handles = ([self.display.create_resource_object("window", w) for w in prop.value] if prop
                   else self.root.query_tree().children)
        return [info for info in map(self._info, handles) if info is not None]

    def idle_seconds(self) -> float | None:
        if not self._screensaver:
            return None
        from Xlib.ext import screensaver

        return screensaver.query_info(self.root).idle / 1000.0

    def close(self) -> None:
        self.display.close()


class MacDesktop:  # pragma: no cover - needs macOS
    def __init__(self) -> None:
        import AppKit  # type: ignore[import-not-found]
        import Quartz  # type: ignore[import-not-found]

        self._appkit, self._quartz = AppKit, Quartz

    def _listing(self) -> list[dict]:
        q = self._quartz
        return list(q.CGWindowListCopyWindowInfo(q.kCGWindowListOptionOnScreenOnly, q.kCGNullWindowID) or [])

    def active_window(self) -> WindowInfo | None:
        app = self._appkit.NSWorkspace.sharedWorkspace().frontmostApplication()
        name = str(app.localizedName()) if app else None
        title = next((str(w.get("kCGWindowName") or "") for w in self._listing()
                      if w.get("kCGWindowOwnerName") == name and w.get("kCGWindowLayer") == 0), None)
        return WindowInfo(app=name, title=title or None, url=url_from_title(title))

    def windows(self) -> list[WindowInfo]:
        return [WindowInfo(app=str(w.get("kCGWindowOwnerName")), title=str(w.get("kCGWindowName") or "") or None)
                for w in self._listing() if w.get("kCGWindowLayer") == 0]

    def idle_seconds(self) -> float | None:
        q = self._quartz
        return float(q.CGEventSourceSecondsSinceLastEventType(q.kCGEventSourceStateHIDSystemState,
                                                              q.kCGAnyInputEventType))

    def close(self) -> None:
        pass


class WindowsDesktop:  # pragma: no cover - needs Windows
    def __init__(self) -> None:
        import ctypes

        self._user32 = ctypes.windll.user32  # type: ignore[attr-defined]
        self._ctypes = ctypes

    def active_window(self) -> WindowInfo | None:
        ct, user32 = self._ctypes, self._user32
        hwnd = user32.GetForegroundWindow()
        if not hwnd:
            return None
        buf = ct.create_unicode_buffer(512)
        user32.GetWindowTextW(hwnd, buf, 512)
        pid = ct.c_ulong()
        user32.GetWindowThreadProcessId(hwnd, ct.byref(pid))
        kernel32 = ct.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid.value)
        exe = ct.create_unicode_buffer(512)
        size = ct.c_ulong(512)
        kernel32.QueryFullProcessImageNameW(handle, 0, exe, ct.byref(size))
        kernel32.CloseHandle(handle)
        app = os.path.splitext(os.path.basename(exe.value))[0] or None
        return WindowInfo(app=app, title=buf.value or None, url=url_from_title(buf.value))

    def windows(self) -> list[WindowInfo]:
        active = self.active_window()
        return [active] if active else []

    def idle_seconds(self) -> float | None:
        ct = self._ctypes

        class LastInput(ct.Structure):
            _fields_ = [("cbSize", ct.c_uint), ("dwTime", ct.c_uint)]

        info = LastInput(ct.sizeof(LastInput), 0)
        self._user32.GetLastInputInfo(ct.byref(info))
        return (ct.windll.kernel32.GetTickCount() - info.dwTime) / 1000.0  # type: ignore[attr-defined]

    def close(self) -> None:
        pass


def detect(display: str | None = None) -> tuple[Desktop | None, str]:
    """The desktop for this platform, or None and why not."""
    if sys.platform == "darwin":
        try:
            return MacDesktop(), "macOS"
        except ImportError:
            return None, "macOS support needs pyobjc (pip install pyobjc-framework-Quartz)"
    if sys.platform == "win32":
        return WindowsDesktop(), "Windows"
    target = display or os.environ.get("DISPLAY")
    if not target:
        reason = "Wayland session without XWayland" if os.environ.get("WAYLAND_DISPLAY") else "no X display"
        return None, f"{reason}: window, screen and idle observers stay off"
    try:
        return X11Desktop(target), f"X11 {target}"
    except Exception as exc:  # Xlib raises several unrelated types for a dead display
        return None, f"cannot open X display {target}: {exc}"
