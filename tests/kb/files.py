"""Files the upload tests send: real documents and each kind of bad input, built in memory."""
from __future__ import annotations

import io
import zipfile

REGULATION_MD = """# 变电站巡视规定

第一条 巡视变电站应当两人进行，不得单独移开或者越过遮栏。

第二条 雷雨天气巡视室外高压设备时，应当穿绝缘靴，不得靠近避雷器和避雷针。

第三条 高压设备发生接地时，室内人员不得接近故障点4米以内，室外不得接近故障点8米以内。

第四条 巡视中发现缺陷应当记入缺陷记录，重大缺陷立即报告值班负责人。
"""

EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200 + b"This program cannot be run in DOS mode"


def docx_bytes(paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_bomb_docx(unpacked_mb: int = 150) -> bytes:
    """A tiny .docx whose document.xml inflates to `unpacked_mb` MB."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("word/document.xml", b" " * (unpacked_mb * 1024 * 1024))
    return out.getvalue()


def pdf_bytes(pages: int = 1, password: str | None = None) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    if password:
        writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
