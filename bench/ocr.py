"""OCR of scanned pages (issue 16): seconds per page and character accuracy.

    .venv/bin/python bench/ocr.py [--pages clean,deep,table,columns]

Each page is drawn from a known text with the Noto Sans CJK font (tests/kb/scans.py), saved as an image-only
PDF at 200 dpi and read back through the knowledge loader (pypdfium2 render → RapidOCR → lines rebuilt from
the boxes). Accuracy is 1 − edit distance / length over the characters without whitespace; "clauses" counts
the clause numbers the splitter finds in the OCR text against those in the original.

* clean   — the first page of knowledge/配电线路作业安全要点.md;
* deep    — clauses 16.5.2.x of the shared regulation corpus, rotated up to 0.8° and blurred like a real scan;
* poor    — the clean page scanned at about 70 dpi and blurred;
* bad     — the same at about 50 dpi: where confidence falls under KB_OCR_MIN_CONFIDENCE (0.9) and the admin
            is warned (at about 40 dpi both fall to ~0.55).
* table   — the test-period table of knowledge/安全工器具使用与检查.md, ruled;
* columns — knowledge/作业现场十不干.md printed in two columns.

The machine's load average is printed too: on a shared 2-core machine the seconds vary with it.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.knowledge_engine import ocr  # noqa: E402
from bot.knowledge_engine.loaders import OcrOptions, load_file  # noqa: E402
from bot.knowledge_engine.splitter import split_text  # noqa: E402
from tests.kb import scans  # noqa: E402

CORPUS = REPO.parent / "shared" / "eval" / "corpus" / "csg_safety_rules_part2_常规作业.txt"


def pages() -> dict[str, tuple[list, str]]:
    """name → (page images, the text printed on them)."""
    out: dict[str, tuple[list, str]] = {}
    paras = scans.paragraphs((REPO / "knowledge" / "配电线路作业安全要点.md").read_text("utf-8"))
    paras = paras[:_one_page(paras)]
    out["clean"] = (scans.render_pages(paras), "\n".join(paras))
    if CORPUS.is_file():
        lines = [line for line in CORPUS.read_text("utf-8").splitlines() if line.strip()]
        start = next(i for i, line in enumerate(lines) if line.startswith("16.5.2 "))
        deep = lines[start:start + 10]
        deep = deep[:_one_page(deep)]
        out["deep"] = (scans.render_pages(deep, noise=0.8), "\n".join(deep))
    out["poor"] = ([scans.degraded(page, 0.35) for page in scans.render_pages(paras)], "\n".join(paras))
    out["bad"] = ([scans.degraded(page, 0.25) for page in scans.render_pages(paras)], "\n".join(paras))
    caption, rows = scans.markdown_table((REPO / "knowledge" / "安全工器具使用与检查.md").read_text("utf-8"))
    out["table"] = ([scans.render_table(caption, rows)], caption + "\n" + "\n".join(" ".join(r) for r in rows))
    ten = scans.paragraphs((REPO / "knowledge" / "作业现场十不干.md").read_text("utf-8"))
    ten = ten[:_one_page(ten, columns=2, font_px=30)]
    out["columns"] = (scans.render_pages(ten, columns=2, font_px=30), "\n".join(ten))
    return out


def _one_page(paras: list[str], **kwargs) -> int:
    """How many whole paragraphs fit on one page."""
    for n in range(1, len(paras) + 1):
        if len(scans.render_pages(paras[:n], **kwargs)) > 1:
            return n - 1
    return len(paras)


def clause_numbers(text: str) -> list[str]:
    return [c.clause for c in split_text(text) if c.clause]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", default="clean,deep,poor,bad,table,columns")
    args = parser.parse_args()
    wanted = args.pages.split(",")
    print(f"rapidocr-onnxruntime with {ocr.OCR_THREADS} onnxruntime thread(s), {scans.DPI} dpi; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    started = time.perf_counter()
    ocr._recogniser()
    print(f"model load: {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (images, expected) in pages().items():
            if name not in wanted:
                continue
            path = Path(tmp) / f"{name}.pdf"
            path.write_bytes(scans.scanned_pdf(images))
            started = time.perf_counter()
            doc = load_file(path, OcrOptions())
            seconds = (time.perf_counter() - started) / len(images)
            accuracy = scans.accuracy(expected, doc.text)
            want, got = clause_numbers(expected), clause_numbers(doc.text)
            print(f"{name:8s} {seconds:5.1f} s/page  accuracy {accuracy:.3f}  confidence {doc.ocr.confidence:.3f}  "
                  f"clauses {len(set(want) & set(got))}/{len(want)}  (load {os.getloadavg()[0]:.1f})")
            if os.environ.get("OCR_BENCH_SHOW"):
                print(doc.text)


if __name__ == "__main__":
    main()
