"""Run by the OFD tests in a child process: open an OFD with easyofd (an independent reader,
PyPI ``easyofd``), draw it as easyofd does (its own PDF, rasterised by PyMuPDF at 200 dpi), and
write ``page-<n>.png`` and ``text.json`` (the text PyMuPDF reads back from easyofd's PDF, and
the text objects easyofd's parser found) into the working directory.

easyofd draws every text object in a font it registers as ``宋体`` from a file ``simsun.ttc``
found on reportlab's search path (the working directory first), ignoring the fonts embedded
in the package: the test links AR PL UMing (a Ming/Song face) there under that name.

    python easyofd_render.py FILE.ofd
"""

from __future__ import annotations

import io
import json
import sys

from easyofd.ofd import OFD  # type: ignore[import-untyped]
from PIL import Image


def main() -> None:
    import fitz  # type: ignore[import-untyped]

    data = open(sys.argv[1], "rb").read()
    reader = OFD()
    reader.read(data, fmt="binary")
    parsed = [t["text"] for doc in reader.data for page in doc["page_info"].values()
              for t in page["text_list"]]
    pdf = reader.to_pdf()
    document = fitz.open(stream=pdf, filetype="pdf")
    text = [page.get_text() for page in document]
    for n, page in enumerate(document):
        pix = page.get_pixmap(dpi=200, alpha=False)
        Image.open(io.BytesIO(pix.tobytes("png"))).save(f"page-{n}.png")
    with open("text.json", "w", encoding="utf-8") as out:
        json.dump({"pages": text, "parsed": parsed}, out, ensure_ascii=False)


if __name__ == "__main__":
    main()
