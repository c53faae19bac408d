"""LLM answers against a tiny local fake OpenAI-compatible server, and the fallback."""
from __future__ import annotations

import asyncio
import json
import time

import pytest
from aiohttp import web

from bot.knowledge_engine.engine import LLMConfig


class FakeOpenAI:
    """POST /v1/chat/completions; behaviour chosen by the requested model name."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        model = body.get("model")
        if model == "error":
            return web.json_response({"error": {"message": "boom", "type": "server_error"}}, status=500)
        if model == "hang":
            await asyncio.sleep(3)
        content = {
            "ok": "登杆前应当检查杆根是否牢固、杆身有无裂纹，并检查脚扣和安全带【第三条】。",
            "nocite": "登杆前看看天气就行。",
            "insufficient": "依据不足",
        }[model]
        return web.json_response(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            }
        )

    async def embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = []
        for i, text in enumerate(texts):
            vec = [0.0] * 8
            for ch in str(text):
                vec[ord(ch) % 8] += 1.0
            norm = sum(v * v for v in vec) ** 0.5 or 1.0
            data.append({"object": "embedding", "index": i, "embedding": [v / norm for v in vec]})
        return web.json_response({"object": "list", "data": data, "model": body.get("model"), "usage": {"prompt_tokens": 1, "total_tokens": 1}})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.handle)
        app.router.add_post("/v1/embeddings", self.embeddings)
        self._runner = web.AppRunner(app, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/v1"

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()


@pytest.fixture
async def server():
    s = FakeOpenAI()
    await s.start()
    yield s
    await s.stop()


def _engine(make_engine, kdir, server, model, timeout=2.0):
    e = make_engine(kdir, llm=LLMConfig(base_url=server.url, model=model, api_key="test", timeout=timeout))
    e.sync()
    return e


async def test_llm_answer_from_retrieved_clauses(server, make_engine, kdir, answer_everything):
    e = _engine(make_engine, kdir, server, "ok")
    ans = await e.aask("登杆前要检查哪些地方")
    assert ans.mode == "llm" and not ans.refused
    assert "【第三条】" in ans.answer and "依据" in ans.answer
    assert ans.sources and ans.sources[0].clause == "第三条"
    (req,) = server.requests
    prompt = json.dumps(req["messages"], ensure_ascii=False)
    assert "只能依据" in prompt and "第三条 登杆前应当检查杆根" in prompt  # clauses go to the model


@pytest.mark.parametrize("model", ["error", "nocite", "insufficient"])
async def test_llm_failure_falls_back_to_extractive(server, make_engine, kdir, answer_everything, model):
    e = _engine(make_engine, kdir, server, model)
    ans = await e.aask("登杆前要检查哪些地方")
    assert ans.mode == "extractive" and not ans.refused
    assert ans.reason.startswith("llm fallback")
    assert ans.sources[0].text in ans.answer
    assert len(server.requests) == 1  # no retries


async def test_llm_timeout_falls_back_in_time(server, make_engine, kdir, answer_everything):
    e = _engine(make_engine, kdir, server, "hang", timeout=1.0)
    t0 = time.perf_counter()
    ans = await e.aask("登杆前要检查哪些地方")
    assert time.perf_counter() - t0 < 5
    assert ans.mode == "extractive" and ans.sources and "Timeout" in ans.reason


async def test_llm_never_called_when_retrieval_refuses(server, make_engine, kdir, refuse_everything):
    e = _engine(make_engine, kdir, server, "ok")
    ans = await e.aask("登杆前要检查哪些地方")
    assert ans.refused and ans.mode == "refused"
    empty = await e.aask("   ")
    assert empty.refused and empty.answer == ""
    assert server.requests == []


def test_from_settings_configures_llm(tmp_path):
    from bot.config import load_settings
    from bot.knowledge_engine.engine import KnowledgeEngine

    s = load_settings(knowledge_dir=tmp_path / "k", index_dir=tmp_path / "i", llm_base_url="http://x/v1", llm_model="qwen", llm_timeout=3)
    e = KnowledgeEngine.from_settings(s)
    assert e.llm_config and e.llm_config.model == "qwen" and e.llm_config.timeout == 3
    assert not (tmp_path / "i").exists()  # opening is lazy
    plain = KnowledgeEngine.from_settings(load_settings(knowledge_dir=tmp_path / "k", index_dir=tmp_path / "i"))
    assert plain.llm_config is None


async def test_openai_compatible_embedding_backend(server, tmp_path, kdir):
    from bot.config import load_settings
    from bot.knowledge_engine.embeddings import make_embeddings
    from bot.knowledge_engine.engine import KnowledgeEngine

    s = load_settings(
        knowledge_dir=kdir, index_dir=tmp_path / "i", embedding_backend="openai",
        embedding_model="fake-embed", embedding_base_url=server.url, embedding_api_key="k",
    )
    emb = make_embeddings(s)
    vecs = await asyncio.to_thread(emb.embed_documents, ["登杆", "验电"])
    assert len(vecs) == 2 and len(vecs[0]) == 8
    engine = KnowledgeEngine.from_settings(s)
    rep = await asyncio.to_thread(engine.sync)
    assert rep.failed == [] and rep.chunks > 10
    assert any(r.get("model") == "fake-embed" for r in server.requests)
