"""README's "first ten minutes" transcript: the output of one conversation script, pasted between two markers.

`fieldmate readme` regenerates it; tests/test_conversation_scripts.py fails when README no longer matches
what the script prints, so the transcript cannot go stale."""
from __future__ import annotations

import re
from pathlib import Path

SCRIPT = Path("tests/scripts/first_ten_minutes_knowledge.yaml")
START, END = "<!-- first-ten-minutes:start -->", "<!-- first-ten-minutes:end -->"
_CODE = re.compile(r"(?<=start=)\w+|(?<=/start )\w{8,}")


def normalize(output: str) -> str:
    """The transcript lines of a script run, with what changes every run (invite codes) masked."""
    lines = [line.rstrip() for line in output.splitlines()]
    kept = [line for line in lines if line and not line.startswith(("✓", "ok ", "PASS"))]
    return _CODE.sub("…", "\n".join(kept)).strip()


def block_in(readme: str) -> str:
    """The transcript currently in README (without its code fence)."""
    if START not in readme or END not in readme:
        return ""
    inner = readme.split(START, 1)[1].split(END, 1)[0]
    return inner.strip().removeprefix("```").removesuffix("```").strip()


def with_block(readme: str, transcript: str) -> str:
    """README with the transcript between the markers (added at the end when they are missing)."""
    fenced = f"{START}\n```\n{transcript}\n```\n{END}"
    if START in readme and END in readme:
        before, rest = readme.split(START, 1)
        return before + fenced + rest.split(END, 1)[1]
    return readme.rstrip() + "\n\n" + fenced + "\n"
