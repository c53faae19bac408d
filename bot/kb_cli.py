"""`fieldmate kb list|remove|restore` and `fieldmate reindex`: the knowledge folder from a terminal, through
the same services as the admins' /kb and /reindex in chat (bot/services/kb.py): one sync at a time across
processes, removal to the trash folder inside the knowledge folder, every change audited as "cli".
Registered by bot/cli.py; imports stay lazy so `fieldmate --help` starts quickly."""
from __future__ import annotations

from datetime import datetime

import typer


def _engine():
    from bot.cli import settings_or_exit
    from bot.knowledge_engine.engine import KnowledgeEngine

    settings = settings_or_exit()
    return settings, KnowledgeEngine.from_settings(settings)


def _audit(settings, action: str, **details) -> None:
    from bot.cli import run_with_session
    from bot.services import audit

    async def work(session):
        target = "knowledge_index" if action == "kb.reindex" else "knowledge_file"
        audit.record(session, None, action, target, None, actor_label="cli", **details)

    run_with_session(settings, work)


def _refused(error) -> None:
    from bot.cli import console

    console.print(f"[red]Refused: {error.code} {error.params or ''}[/red]")
    raise typer.Exit(1)


def _progress_line(done: int, total: int, what: str) -> None:
    from bot.cli import console

    if what:
        console.print(f"  {done + 1}/{max(total, 1)} {what}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    kb_app = typer.Typer(help="The knowledge folder: documents, removal to the trash folder and back.")
    app.add_typer(kb_app, name="kb")

    @kb_app.command("list")
    def kb_list() -> None:
        """Indexed documents with passage and clause counts and when each was last synced; the trash."""
        from bot.cli import console, counted
        from bot.services import kb

        settings, engine = _engine()
        documents = engine.documents()
        console.print(f"{counted(len(documents), 'document')} in {settings.knowledge_dir}", highlight=False)
        for doc in documents:
            synced = (datetime.fromtimestamp(doc.indexed_at, settings.tz).strftime("%Y-%m-%d %H:%M")
                      if doc.indexed_at else "-")
            console.print(f"{doc.file}\t《{doc.title}》\t{counted(doc.chunks, 'passage')}\t{counted(doc.clauses, 'clause')}\tsynced {synced}",
                          highlight=False, soft_wrap=True)
        for name in kb.trashed(engine.knowledge_dir):
            console.print(f"trash: {name}", highlight=False, soft_wrap=True)

    @kb_app.command("remove")
    def kb_remove(document: str = typer.Argument(..., help="File name, title, or a unique part of either."),
                  yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")) -> None:
        """Move a document to the trash folder (restorable with `kb restore`) and sync the index."""
        from bot.cli import console, counted
        from bot.services import kb
        from bot.services.errors import DomainError

        settings, engine = _engine()
        try:
            name = kb.find_document(engine, document)
        except DomainError as error:
            _refused(error)
        if not yes and not typer.confirm(f"Move {name} to the trash?"):
            raise typer.Exit(1)
        passages = len(engine.file_keys(name))
        try:
            kb.remove(engine.knowledge_dir, name)
        except DomainError as error:  # removed meanwhile
            _refused(error)
        _audit(settings, "kb.remove", file=name)
        kb.sync(engine, settings.redis_url)
        console.print(f"{name} moved to the trash; {counted(passages, 'passage')} removed from the index.", highlight=False)

    @kb_app.command("restore")
    def kb_restore(document: str | None = typer.Argument(None, help="Name (or a unique part) in the trash; "
                                                                    "without it, the trash is listed.")) -> None:
        """Bring a document back from the trash folder and index it."""
        from bot.cli import console, counted
        from bot.services import kb
        from bot.services.errors import DomainError

        settings, engine = _engine()
        if document is None:
            trash = kb.trashed(engine.knowledge_dir)
            console.print("\n".join(f"trash: {name}" for name in trash) or "The trash is empty.", highlight=False)
            return
        try:
            restored = kb.restore(engine.knowledge_dir, kb.find_trashed(engine.knowledge_dir, document))
        except DomainError as error:
            _refused(error)
        _audit(settings, "kb.restore", file=restored)
        change = kb.describe(engine, restored, set(), kb.sync(engine, settings.redis_url))
        if change.failed:
            console.print(f"[red]{restored} restored but not indexed: {change.failed}[/red]", highlight=False)
            raise typer.Exit(1)
        console.print(f"{restored} restored: {counted(change.chunks, 'passage')}, {counted(change.clauses, 'clause')}.", highlight=False)

    @app.command("reindex")
    def reindex() -> None:
        """Rebuild the whole index from the knowledge folder (one progress line per step). Questions are
        answered from the current index until the new one is complete."""
        from bot.cli import console, counted
        from bot.services import kb

        settings, engine = _engine()
        _audit(settings, "kb.reindex")
        report = kb.sync(engine, settings.redis_url, _progress_line, rebuild=True)
        for name, why in report.failed:
            console.print(f"[red]failed[/red]  {name} — {why}", highlight=False, soft_wrap=True)
        files = len(report.added) + len(report.changed) + len(report.unchanged)
        console.print(f"Index rebuilt: {counted(files, 'file')}, {counted(report.chunks, 'passage')} in {report.seconds:.1f} s.",
                      highlight=False)
        if report.failed:
            raise typer.Exit(1)
