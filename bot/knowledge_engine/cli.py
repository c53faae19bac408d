"""Knowledge commands for the ``fieldmate`` CLI: ``ingest``, ``ask``, ``eval``.

``register(app)`` adds them to a typer app.  Nothing here imports aiogram.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Optional

import typer

from .types import Answer


def _engine(knowledge: Optional[Path], index: Optional[Path]):
    from bot.config import load_settings

    from .engine import KnowledgeEngine

    settings = load_settings()
    overrides: dict[str, Any] = {}
    if knowledge is not None:
        overrides["knowledge_dir"] = knowledge
    if index is not None:
        overrides["index_dir"] = index
    return KnowledgeEngine.from_settings(settings, **overrides)


def answer_json(ans: Answer) -> dict[str, Any]:
    """The JSON shape of ``ask --json`` (one object per question).

    ``outcome`` is ``answer``, ``related`` (closest clauses shown, marked as not an answer), ``offtopic`` or
    ``empty``; ``refused`` is true for every outcome but ``answer``.  ``p_answer`` is the refusal model's
    probability that the folder answers the question (0–1).  ``sources`` is the ranked top 10 with their
    fused scores, also when refused, so ranking and refusal can be measured apart; ``shown`` is how many of
    them the answer shows."""
    return {
        "question": ans.question,
        "outcome": ans.outcome,
        "refused": ans.refused,
        "reason": ans.reason,
        "p_answer": round(ans.top_score, 4),
        "answer": ans.answer,
        "shown": len(ans.sources),
        "sources": [
            {"rank": rank, "title": s.title, "section": s.section, "clause": s.clause, "text": s.text,
             "file": s.file, "score": round(s.score, 6)}
            for rank, s in enumerate(ans.ranked[:10], 1)
        ],
    }


def status_line(ans: Answer) -> str:
    """The line under a CLI answer: the outcome and what its number means."""
    outcome = {"answer": "answered", "related": "not answered, related clauses shown",
               "offtopic": "refused as off-topic", "empty": "empty question"}.get(ans.outcome, ans.outcome)
    why = f"; {ans.reason}" if ans.reason else ""
    return f"[{outcome}; estimated probability that the folder answers this: {ans.top_score:.2f}{why}; {ans.latency_ms:.0f} ms]"


def _read_batch(path: Path) -> list[str]:
    out = []
    for line in path.read_text("utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                obj = json.loads(line)
                out.append(str(obj.get("question", "")))
                continue
            except ValueError:
                pass
        out.append(line)
    return out


def _sync_once_across_fleet(engine, progress):
    """With REDIS_URL, one ingestion at a time across the fleet, and bots told of the new version."""
    from bot.config import load_settings

    from .fleet import SYNC_LOCK_FILE, ingest_turn, publish_version

    redis_url = load_settings().redis_url
    with ingest_turn(redis_url, engine.index_dir / SYNC_LOCK_FILE):
        report = engine.sync(progress=progress)
    if report.added or report.changed or report.removed:
        publish_version(redis_url)
    return report


STATUS_STYLE = {"failed": "red", "skipped": "yellow", "added": "green", "changed": "green", "removed": "cyan"}


def ingest_cmd(
    knowledge: Optional[Path] = typer.Option(None, "--knowledge", help="knowledge folder (default: KNOWLEDGE_DIR)"),
    index: Optional[Path] = typer.Option(None, "--index", help="index folder (default: INDEX_DIR)"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="show log lines on the terminal"),
) -> None:
    """Sync the index with the knowledge folder: one line per file; exit status 1 when a file failed.

    Only changed passages are embedded.  Ctrl-C stops at the next batch with the index consistent;
    the next run continues where this one stopped.  A running bot does not see the changes until it
    restarts."""
    from rich.console import Console

    from bot.config import load_settings
    from bot.logs import log_to_file

    console = Console(stderr=True)
    log_path = log_to_file(load_settings().log_dir, "ingest.log", verbose)
    engine = _engine(knowledge, index)
    report = _sync_with_progress(engine, console)
    for name, status, detail in report.file_lines():
        style = STATUS_STYLE.get(status)
        label = f"[{style}]{status:9s}[/]" if style else f"{status:9s}"
        console.print(f"{label} {name}" + (f" — {detail}" if detail else ""), highlight=False, soft_wrap=True)
    console.print(
        f"{len(report.added)} added, {len(report.changed)} changed, {len(report.removed)} removed, "
        f"{len(report.unchanged)} unchanged, {len(report.failed)} failed, {len(report.skipped)} skipped; "
        f"{report.chunks} chunks ({report.embedded} passages embedded) in {report.seconds:.1f} s",
        highlight=False, soft_wrap=True,
    )
    if report.interrupted:
        console.print("Interrupted: the index holds every file finished so far; run `ingest` again to continue.")
        raise typer.Exit(130)
    if report.failed:
        console.print(f"Some files were not indexed (details in {log_path}).", highlight=False)
        raise typer.Exit(1)


def _sync_with_progress(engine, console):
    """Run the sync in a worker thread so Ctrl-C can ask it to stop at a safe point instead of
    interrupting a write half-way."""
    import threading

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    result: dict[str, Any] = {}
    with Progress(
        TextColumn("[bold]索引[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.description}"),
        console=console, transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def progress(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=what)

        def work() -> None:
            try:
                result["report"] = _sync_once_across_fleet(engine, progress)
            except BaseException as exc:  # re-raised in the main thread
                result["error"] = exc
            finally:
                finished.set()

        # wait on an Event, not Thread.join(): a join interrupted by Ctrl-C can report a live thread as dead
        finished = threading.Event()
        threading.Thread(target=work, name="ingest", daemon=True).start()
        while not finished.is_set():
            try:
                finished.wait()
            except KeyboardInterrupt:
                console.print("Stopping at the next safe point…")
                engine.cancel_sync()
    if "error" in result:
        raise result["error"]
    return result["report"]


def ask_cmd(
    question: Optional[str] = typer.Argument(None, help="the question"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
    batch: Optional[Path] = typer.Option(None, "--batch", help="file with one question per line (or JSON lines with 'question')"),
    limit: int = typer.Option(3, "--limit", help="number of sources"),
    knowledge: Optional[Path] = typer.Option(None, "--knowledge"),
    index: Optional[Path] = typer.Option(None, "--index"),
) -> None:
    """Answer a question from the indexed knowledge."""
    engine = _engine(knowledge, index)
    if batch is not None:
        for q in _read_batch(batch):
            sys.stdout.write(json.dumps(answer_json(engine.ask(q, limit=limit)), ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return
    if question is None:
        raise typer.BadParameter("give a question or --batch FILE")
    ans = engine.ask(question, limit=limit)
    if as_json:
        typer.echo(json.dumps(answer_json(ans), ensure_ascii=False, indent=2))
        return
    typer.echo(ans.answer or "（问题为空）")
    typer.echo("\n" + status_line(ans), err=True)


def eval_cmd(
    file: Path = typer.Argument(..., help="JSON lines in the ../shared/eval format"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
    knowledge: Optional[Path] = typer.Option(None, "--knowledge"),
    index: Optional[Path] = typer.Option(None, "--index"),
) -> None:
    """Score retrieval: hit@1/3/5, MRR@10, refusal and false-refusal rates, latency."""
    from .scoring import load_items, score

    engine = _engine(knowledge, index)
    engine.warm_up()
    items = load_items(file)
    t0 = time.perf_counter()
    metrics = score((item, engine.ask(item["question"], limit=10)) for item in items)
    metrics["seconds"] = time.perf_counter() - t0
    if as_json:
        typer.echo(json.dumps(metrics, ensure_ascii=False, indent=2))
        return
    for key in ("answerable", "unanswerable", "hit@1", "hit@3", "hit@5", "mrr", "refusal_rate", "false_refusal_rate", "latency_p50_ms", "latency_p95_ms"):
        if key in metrics:
            val = metrics[key]
            typer.echo(f"{key:20s} {val:.3f}" if isinstance(val, float) else f"{key:20s} {val}")


def register(app: typer.Typer) -> None:
    """Add the knowledge commands to the main CLI."""
    app.command("ingest")(ingest_cmd)
    app.command("ask")(ask_cmd)
    app.command("eval")(eval_cmd)
