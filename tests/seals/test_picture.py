"""Seal pictures: the drawn red round seal and checks on supplied pictures."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from seals import picture
from seals.errors import SealPictureError
from seals.ses import MAX_PICTURE_BYTES


def test_drawn_seal_is_a_red_round_png() -> None:
    pic = picture.draw_round_seal("北京市测试局", centre_text="专用章")
    assert pic.type == "PNG" and (pic.width_mm, pic.height_mm) == (40, 40)
    with Image.open(io.BytesIO(pic.data)) as img:
        assert img.size == (400, 400) and img.mode == "RGBA"
        centre = img.getpixel((200, 200))  # the star's centre
        corner = img.getpixel((0, 0))
        assert isinstance(centre, tuple) and isinstance(corner, tuple)
        r, g, b, a = centre
        assert a == 255 and r > 200 and g < 60 and b < 60
        assert corner[3] == 0  # transparent corner
    assert len(pic.data) < MAX_PICTURE_BYTES


def test_drawn_seal_without_cjk_font(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(picture, "CJK_FONT_CANDIDATES", ())
    assert picture.find_cjk_font() is None
    pic = picture.draw_round_seal("北京市测试局")
    assert pic.data.startswith(b"\x89PNG")


def test_supplied_picture_checked() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (10, 10), "red").save(buf, format="PNG")
    ok = picture.picture_from_bytes(buf.getvalue(), width_mm=30, height_mm=30)
    assert ok.type == "PNG" and ok.width_mm == 30
    with pytest.raises(SealPictureError) as info:
        picture.picture_from_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * (MAX_PICTURE_BYTES + 1))
    assert info.value.code == "seal_picture_too_large"
    with pytest.raises(SealPictureError) as info:
        picture.picture_from_bytes(b"\x89PNG\r\n\x1a\ngarbage")
    assert info.value.code == "seal_picture_bad"
    with pytest.raises(SealPictureError):
        picture.picture_from_bytes(b"plain text")
    assert picture.picture_from_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'/>").type == "SVG"
