"""A real X server for tests: Xvfb, real windows showing known text, EWMH hints set as a WM would."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont


class XServer:
    def __init__(self, width: int = 1280, height: int = 800):
        if shutil.which("Xvfb") is None:
            raise RuntimeError("Xvfb is not installed (apt-get install xvfb); `make test` installs it")
        read_fd, write_fd = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
            pass_fds=(write_fd,), stderr=subprocess.DEVNULL,
        )
        os.close(write_fd)
        with os.fdopen(read_fd) as ready:  # Xvfb writes its display number here once it accepts clients
            number = ready.readline().strip()
        if not number:
            raise RuntimeError("Xvfb did not start")
        self.display_name = f":{number}"
        from Xlib import X, Xatom, display

        self.X, self.Xatom = X, Xatom
        self.display = display.Display(self.display_name)
        self.screen = self.display.screen()
        self.root = self.screen.root
        self.windows: list = []

    def atom(self, name: str) -> int:
        return self.display.intern_atom(name)

    def show(self, title: str, app: str, lines: Sequence[str], x: int = 0, y: int = 0, width: int = 900,
             height: int = 400, font_size: int = 28):
        """Map a window whose background is `lines` rendered in black on white."""
        image = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(image)
        font = ImageFont.load_default(size=font_size)
        for i, line in enumerate(lines):
            draw.text((20, 20 + i * int(font_size * 1.6)), line, fill="black", font=font)
        window = self.root.create_window(x, y, width, height, 0, self.screen.root_depth,
                                         background_pixel=self.screen.white_pixel)
        self.paint(window, image)
        window.set_wm_name(title.encode("latin-1", "replace").decode("latin-1"))
        window.change_property(self.atom("_NET_WM_NAME"), self.atom("UTF8_STRING"), 8, title.encode())
        window.set_wm_class(app.lower(), app)
        window.map()
        self.windows.append(window)
        self._publish(window)
        return window

    def paint(self, window, image: Image.Image) -> None:
        pixmap = window.create_pixmap(image.width, image.height, self.screen.root_depth)
        gc = pixmap.create_gc()
        raw = image.convert("RGBX").tobytes("raw", "BGRX")
        rows_per_chunk = max(1, 200_000 // (image.width * 4))  # stay under the X request size limit
        for top in range(0, image.height, rows_per_chunk):
            rows = min(rows_per_chunk, image.height - top)
            chunk = raw[top * image.width * 4:(top + rows) * image.width * 4]
            pixmap.put_image(gc, 0, top, image.width, rows, self.X.ZPixmap, self.screen.root_depth, 0, chunk)
        window.change_attributes(background_pixmap=pixmap)
        window.clear_area()
        self.display.sync()

    def _publish(self, active) -> None:
        ids = [w.id for w in self.windows]
        self.root.change_property(self.atom("_NET_CLIENT_LIST_STACKING"), self.Xatom.WINDOW, 32, ids)
        self.root.change_property(self.atom("_NET_ACTIVE_WINDOW"), self.Xatom.WINDOW, 32, [active.id])
        self.display.sync()

    def focus(self, window) -> None:
        window.configure(stack_mode=self.X.Above)
        self._publish(window)

    def close_window(self, window) -> None:
        window.destroy()
        self.windows.remove(window)
        if self.windows:
            self._publish(self.windows[-1])
        self.display.sync()

    def stop(self) -> None:
        self.display.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)
