"""OCR of image-only PDF pages with Tesseract (Debian's ``tesseract-ocr``): each page's images
are written out by pdfminer.six's ImageWriter and read by the ``tesseract`` command."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from pdfminer.image import ImageWriter
from pdfminer.layout import LTFigure, LTImage, LTPage

# image files tesseract (leptonica) reads; pdfminer writes JBIG2 as .jb2, which it cannot
READABLE = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".pnm", ".ppm", ".pgm", ".pbm"}


def tesseract_available() -> bool:
    """True when the ``tesseract`` command is on PATH."""
    return shutil.which("tesseract") is not None


def _images(item) -> list[LTImage]:
    if isinstance(item, LTImage):
        return [item]
    if isinstance(item, (LTFigure, LTPage)):
        return [image for child in item for image in _images(child)]
    return []


def ocr_image_file(path: Path, *, language: str = "eng", timeout_s: float = 120.0) -> str:
    """Text of one image file by Tesseract (page segmentation: automatic)."""
    done = subprocess.run(["tesseract", str(path), "stdout", "-l", language], capture_output=True,
                          timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"tesseract failed on {path.name}: {done.stderr.decode(errors='replace')[-300:]}")
    return done.stdout.decode("utf-8", errors="replace")


def ocr_page(page: LTPage, *, language: str = "eng", timeout_s: float = 120.0) -> str:
    """OCR text of the images on one pdfminer layout page, top to bottom; "" when the page has no
    image Tesseract can read.

    Raises:
        RuntimeError: tesseract is missing or fails on an image.
    """
    if not tesseract_available():
        raise RuntimeError("OCR needs the tesseract command (apt-get install tesseract-ocr)")
    images = sorted(_images(page), key=lambda image: -image.y1)
    texts = []
    with tempfile.TemporaryDirectory(prefix="hub-ocr-") as tmp:
        writer = ImageWriter(tmp)
        for image in images:
            if image.width < 32 or image.height < 32:
                continue  # bullets, rules, logos: not text
            try:
                name = writer.export_image(image)
            except Exception:  # noqa: BLE001 - an image pdfminer cannot decode is skipped
                continue
            path = Path(tmp) / name
            if path.suffix.lower() in READABLE:
                texts.append(ocr_image_file(path, language=language, timeout_s=timeout_s))
    return "\n".join(texts)
