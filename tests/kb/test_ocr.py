"""OCR of scanned PDFs and photos: a page of the sample knowledge folder is drawn as an image (so the expected
text is known), saved as an image-only PDF, and read back through the knowledge loader — the clause numbers
come out at the start of their lines where the splitter finds them, the characters are right above a floor
(measured with bench/ocr.py, set with margin), nothing is fetched from the network, and a second read comes
from the cache. The line rebuilding from box coordinates is tested on boxes made by hand."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bot.knowledge_engine import ocr
from bot.knowledge_engine.loaders import LoadError, OcrOptions, load_file
from bot.knowledge_engine.ocr import OcrBox, OcrCache, lines_of
from bot.knowledge_engine.splitter import split_text
from tests.kb import scans

REPO = Path(__file__).resolve().parents[2]
needs_ocr = pytest.mark.skipif(not ocr.available(), reason="rapidocr-onnxruntime is not installed (Python 3.13)")
# bench/ocr.py measured 0.99+ on this page (a clean 200 dpi scan); the floor leaves room for other CPUs'
# onnxruntime kernels without letting a broken line order (which costs far more) pass.
ACCURACY_FLOOR = 0.95
SOURCE = "配电线路作业安全要点.md"
PARAGRAPHS = 11  # title, intro, 1 总则 with 1.1–1.4, 2 组织措施, 2.1 工作票 with 2.1.1–2.1.2: one page


def box(x0, y0, x1, y1, text, score=0.99) -> OcrBox:
    return OcrBox(x0, y0, x1, y1, text, score)


# ------------------------------------------------------------------ lines
def test_boxes_become_lines_top_to_bottom_and_left_to_right():
    boxes = [box(300, 102, 900, 140, "应当两人进行。"), box(100, 100, 280, 138, "16.5.2.6"),
             box(100, 40, 500, 78, "变电站巡视规定")]
    assert lines_of(boxes) == ["变电站巡视规定", "16.5.2.6 应当两人进行。"]


def test_a_wrapped_paragraph_is_joined_back_unless_the_next_line_starts_a_clause():
    boxes = [box(100, 100, 1000, 140, "1.1 参加作业的人员应经安全培训并考试合格，熟悉"),  # reaches the right edge
             box(100, 160, 500, 200, "本要点。"),
             box(100, 220, 1000, 260, "1.2 每项作业都应明确工作负责人和工作班成员，室外"),
             box(100, 280, 400, 320, "1.5米以内不得接近。"),  # a measurement, not clause 1.5
             box(100, 340, 1000, 380, "1.3 对违章指挥、强令冒险作业，作业人员可以拒绝执"),
             box(100, 400, 500, 440, "2.1.1 在配电线路上工作")]  # a clause: never glued to the line above
    assert lines_of(boxes) == ["1.1 参加作业的人员应经安全培训并考试合格，熟悉本要点。",
                               "1.2 每项作业都应明确工作负责人和工作班成员，室外1.5米以内不得接近。",
                               "1.3 对违章指挥、强令冒险作业，作业人员可以拒绝执",
                               "2.1.1 在配电线路上工作"]


def test_a_clause_number_glued_to_its_text_gets_its_space_back():
    assert lines_of([box(100, 100, 400, 140, "1总则")]) == ["1 总则"]
    assert lines_of([box(100, 100, 400, 140, "2.1.3一名工作负责人")]) == ["2.1.3 一名工作负责人"]
    assert lines_of([box(100, 100, 400, 140, "5米以外")]) == ["5米以外"]


def test_two_columns_are_read_one_after_the_other_below_a_full_width_title():
    title = box(100, 20, 1100, 60, "作业现场十不干通知全文")
    # short paragraphs (none wraps: only the last, longest line of each column reaches the column's edge)
    left = [box(100, 100 + 60 * i, 560 if i == 4 else 400, 140 + 60 * i, f"左栏第{i}行。") for i in range(5)]
    right = [box(640, 100 + 60 * i, 1100 if i == 4 else 940, 140 + 60 * i, f"右栏第{i}行。") for i in range(5)]
    assert lines_of([title, *right, *left]) == (
        ["作业现场十不干通知全文"] + [f"左栏第{i}行。" for i in range(5)] + [f"右栏第{i}行。" for i in range(5)])


# --------------------------------------------------------- a scanned page
@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    """The first page of a sample regulation as a scanned PDF, read once for the module's tests."""
    if not ocr.available():
        pytest.skip("rapidocr-onnxruntime is not installed (Python 3.13)")
    paras = scans.paragraphs((REPO / "knowledge" / SOURCE).read_text("utf-8"))[:PARAGRAPHS]
    pages = scans.render_pages(paras)
    assert len(pages) == 1
    folder = tmp_path_factory.mktemp("scan")
    path = folder / "配电线路作业安全要点-扫描件.pdf"
    path.write_bytes(scans.scanned_pdf(pages))
    cache = OcrCache(folder / "ocr")
    seen: list[tuple[int, int]] = []
    doc = load_file(path, OcrOptions(cache=cache, progress=lambda page, total: seen.append((page, total))))
    return {"paras": paras, "doc": doc, "path": path, "cache": cache, "progress": seen, "page": pages[0]}


@needs_ocr
def test_a_scanned_page_keeps_its_clause_numbers_and_reads_above_the_floor(scanned):
    doc, paras = scanned["doc"], scanned["paras"]
    expected = [c.clause for c in split_text("\n".join(paras)) if c.clause]
    assert expected == ["1.1", "1.2", "1.3", "1.4", "2.1.1", "2.1.2"]
    assert [c.clause for c in split_text(doc.text) if c.clause] == expected
    lines = doc.text.splitlines()
    for number in expected:  # at the start of a line, as in the original
        assert any(line.startswith(number + " ") for line in lines), number
    assert scans.accuracy("\n".join(paras), doc.text) >= ACCURACY_FLOOR
    assert doc.ocr.ocr_pages == 1 and doc.ocr.confidence > 0.9
    assert scanned["progress"] == [(1, 1)]
    assert doc.title == "配电线路作业安全要点"


@needs_ocr
def test_a_second_read_comes_from_the_cache_by_content(scanned, monkeypatch):
    def no_ocr(*args, **kwargs):
        raise AssertionError("OCR ran again")

    monkeypatch.setattr(ocr, "recognise", no_ocr)
    again = load_file(scanned["path"], OcrOptions(cache=scanned["cache"]))
    assert again.text == scanned["doc"].text and again.ocr.confidence == scanned["doc"].ocr.confidence


@needs_ocr
def test_a_photo_is_read_without_touching_the_network(scanned, tmp_path, monkeypatch):
    """The models ship in the wheel: a fresh recogniser loads and reads with every socket refused."""
    def refuse(*args, **kwargs):
        raise OSError("network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(ocr, "_engine", None)  # load the models again, offline
    photo = tmp_path / "通知.jpg"
    photo.write_bytes(scans.photo(scanned["page"]))
    doc = load_file(photo, OcrOptions())
    assert scans.accuracy("\n".join(scanned["paras"]), doc.text) >= ACCURACY_FLOOR
    assert doc.ocr.ocr_pages == 1


@needs_ocr
def test_a_page_with_a_text_layer_is_not_ocred(tmp_path, monkeypatch):
    from tests.kb.files import pdf_bytes

    monkeypatch.setattr(ocr, "needs_ocr", lambda pages: 0)  # pretend the blank pages have text
    path = tmp_path / "规程.pdf"
    path.write_bytes(pdf_bytes(pages=2))
    with pytest.raises(LoadError, match="no text"):
        load_file(path, OcrOptions())


def test_an_oversized_image_is_refused_before_it_is_decoded(tmp_path):
    from PIL import Image

    path = tmp_path / "巨幅.png"
    Image.new("L", (8000, 7000), 255).save(path)  # 56 megapixels
    if not ocr.available():
        pytest.skip("rapidocr-onnxruntime is not installed (Python 3.13)")
    with pytest.raises(LoadError, match="megapixel"):
        load_file(path, OcrOptions())


def test_a_transparent_png_is_read_as_text_on_white_paper():
    from PIL import Image

    from bot.knowledge_engine.ocr import _prepared

    clear = Image.new("RGBA", (120, 60), (0, 0, 0, 0))  # black text on a transparent background
    clear.putpixel((60, 30), (0, 0, 0, 255))
    page = _prepared(clear)
    assert page.mode == "RGB" and page.getpixel((0, 0)) == (255, 255, 255) and page.getpixel((60, 30)) == (0, 0, 0)
