"""Screen-to-text with Tesseract, fed through a pipe so no screenshot touches the disk.

The default reader for the screen observer (`read(image) -> str`); the daemon
may pass a vision-language reader instead. pytesseract is not used because it
writes every image to a temporary file, and screenshots must never be written
to disk unless the user asked for it.
"""

from __future__ import annotations

import io
import shutil
import subprocess

from PIL import Image


class OCRUnavailable(RuntimeError):
    pass


class TesseractReader:
    def __init__(self, lang: str = "eng", psm: int = 3, timeout_s: float = 60.0):
        self.binary = shutil.which("tesseract")
        if self.binary is None:
            raise OCRUnavailable(
                "tesseract is not installed. Fix: apt-get install tesseract-ocr (Debian/Ubuntu), "
                "brew install tesseract (macOS)"
            )
        self.lang, self.psm, self.timeout_s = lang, psm, timeout_s

    def __call__(self, image: Image.Image) -> str:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=1)
        result = subprocess.run(
            [self.binary, "stdin", "stdout", "-l", self.lang, "--psm", str(self.psm)],
            input=buffer.getvalue(), capture_output=True, timeout=self.timeout_s,
        )
        if result.returncode != 0:
            raise RuntimeError(f"tesseract failed: {result.stderr.decode(errors='replace')[-300:]}")
        return result.stdout.decode("utf-8", errors="replace")
