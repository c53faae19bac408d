"""How updates and calls travel: the HTTP endpoints, long polling (getUpdates) and webhook delivery.

:class:`Transport` is one part of :class:`~.server.FakeTelegramServer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

from .models import DEFAULT_ALLOWED, APIError, CallRecord, _bad


class Transport:
    """HTTP request handling, getUpdates with real long polling, webhook delivery, in-process calls."""

    # ---------------------------------------------------------------- HTTP

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if self.token is not None and request.match_info["token"] != self.token:
            return web.Response(status=401, text="Unauthorized")
        f = self._files_by_path.get(request.match_info["path"])
        if f is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=f.data, content_type=f.mime_type or "application/octet-stream")

    async def _read_params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, bytes | tuple]]:
        params: dict[str, Any] = dict(request.query)
        uploads: dict[str, Any] = {}
        if request.method == "POST" and request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        uploads[key] = (value.file.read(), value.filename, value.content_type)
                    else:
                        params[key] = value
        return params, uploads

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["method"].lower() == "getupdates":
            return await self._serve_api(request)  # a long poll ends when its client goes away
        # Telegram completes a request it has received even when the client disconnects mid-call (a bot
        # process killed while waiting for the answer): the message is delivered. Handler cancellation
        # (on for the long polls) must not undo that here, so the work runs shielded.
        task = asyncio.ensure_future(self._serve_api(request))
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)
        return await asyncio.shield(task)

    async def _serve_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        started = time.monotonic()
        mkey = method.lower()
        polling = mkey == "getupdates"
        if not polling:
            self.inflight += 1
        chat_id: int | None = None
        status, outcome, description, message_id = 200, "ok", None, None
        params: dict[str, Any] = {}
        try:
            if self.token is not None and request.match_info["token"] != self.token:
                raise APIError(401, "Unauthorized")
            params, uploads = await self._read_params(request)
            params["_uploads"] = uploads
            with contextlib.suppress(Exception):
                raw = params.get("chat_id")
                chat_id = int(raw) if raw is not None else None
            handler = self._methods.get(mkey)
            if handler is None:
                raise APIError(404, f"Not Found: method {method!r} is not implemented by the fake Bot API server")
            delay, error = self.faults.decide(method, chat_id)
            if delay:
                await asyncio.sleep(delay)
            if error:
                raise APIError(*error)
            if chat_id in self.blocked and mkey.startswith(("send", "edit", "copy", "forward")):
                raise APIError(403, "Forbidden: bot was blocked by the user")
            result = await handler(params, request)
            if isinstance(result, dict) and "message_id" in result:
                message_id = result["message_id"]
            body = {"ok": True, "result": result}
        except APIError as e:
            status, outcome, description = e.status, str(e.status), e.description
            body = {"ok": False, "error_code": e.status, "description": e.description}
            if e.parameters:
                body["parameters"] = e.parameters
        except asyncio.CancelledError:  # a long poll whose client left, or the server stopping
            status, outcome = 499, "cancelled"
            raise
        finally:
            if not polling:
                self.inflight -= 1
                self.last_activity = time.monotonic()
            params.pop("_uploads", None)
            self.calls.append(CallRecord(
                t=started, method=method, chat_id=chat_id, status=status, outcome=outcome,
                description=description, message_id=message_id,
                duration=time.monotonic() - started,
                params={k: v for k, v in params.items() if k in ("text", "caption", "callback_query_id", "action", "message_id")},
            ))
            self._notify_soon()
        return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))

    async def _m_getUpdates(self, params: dict, request: web.Request) -> Any:
        if self.webhook:
            raise APIError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset = self._int_param(params, "offset", 0) or 0
        limit = max(1, min(100, self._int_param(params, "limit", 100) or 100))
        timeout = max(0, self._int_param(params, "timeout", 0) or 0)
        allowed = self._json_param(params, "allowed_updates")
        if allowed is not None:
            self.allowed_updates = list(allowed) or None
        self._poll_generation += 1
        generation = self._poll_generation
        self._confirm(offset)
        await self._notify()  # wakes an older long poll (409) and anyone waiting for acks

        def ready() -> bool:
            return bool(self.updates) or self._closing or generation != self._poll_generation

        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining > 0 and not ready():
                async with self.cond:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self.cond.wait_for(ready), remaining)
            if generation != self._poll_generation:
                raise APIError(409, "Conflict: terminated by other getUpdates request; "
                                    "make sure that only one bot instance is running")
            if self._closing:
                return []
            result = self._take_updates(limit, offset)
            if result or time.monotonic() >= deadline:
                return result
            # only updates of types the bot did not ask for were pending: keep waiting

    def _take_updates(self, limit: int, offset: int) -> list[dict]:
        allowed_types = set(self.allowed_updates or DEFAULT_ALLOWED)
        result: list[dict] = []
        for update in list(self.updates):
            kind = next(k for k in update if k != "update_id")
            if kind not in allowed_types:
                # Telegram would not have queued it; treat as confirmed so nobody waits for it
                self.updates.remove(update)
                self.acked_update_id = max(self.acked_update_id, update["update_id"])
                self._notify_soon()
                continue
            result.append(update)
            if len(result) >= limit:
                break
        if offset < 0:
            result = result[offset:]
        return result

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            before = len(self.updates)
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            if offset - 1 > self.acked_update_id:
                self.acked_update_id = offset - 1
            if len(self.updates) != before:
                self._notify_soon()
        elif offset < 0:
            keep = self.updates[offset:]
            for u in self.updates[: len(self.updates) + offset]:
                self.acked_update_id = max(self.acked_update_id, u["update_id"])
            self.updates = keep

    async def _m_setWebhook(self, params: dict, request: web.Request) -> Any:
        url = params.get("url") or ""
        if not url:
            return await self._m_deleteWebhook(params, request)
        if not url.startswith(("http://", "https://")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        if self._bool_param(params, "drop_pending_updates"):
            self._drop_pending()
        allowed = self._json_param(params, "allowed_updates")
        connections = self._int_param(params, "max_connections")
        if connections:
            self.webhook_connections = max(1, min(100, connections))
        self.webhook = {"url": url, "secret_token": params.get("secret_token"),
                        "allowed_updates": allowed}
        if allowed is not None:
            self.allowed_updates = list(allowed) or None
        self._generation_bump()
        self._kick_webhook()
        return True

    def _generation_bump(self) -> None:
        self._poll_generation += 1
        self._notify_soon()

    def _drop_pending(self) -> None:
        for u in self.updates:
            self.acked_update_id = max(self.acked_update_id, u["update_id"])
        self.updates.clear()
        self._notify_soon()

    async def _m_deleteWebhook(self, params: dict, request: web.Request) -> Any:
        if self._bool_param(params, "drop_pending_updates"):
            self._drop_pending()
        self.webhook = None
        if self._webhook_task:
            self._webhook_task.cancel()
            self._webhook_task = None
        return True

    async def _m_getWebhookInfo(self, params: dict, request: web.Request) -> Any:
        info: dict[str, Any] = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }
        if self.webhook and self.webhook.get("allowed_updates"):
            info["allowed_updates"] = self.webhook["allowed_updates"]
        if self.webhook_last_error:
            info["last_error_date"], info["last_error_message"] = self.webhook_last_error
        return info

    def _kick_webhook(self) -> None:
        if self.webhook and (self._webhook_task is None or self._webhook_task.done()):
            self._webhook_task = asyncio.get_running_loop().create_task(self._deliver_webhook())

    async def _deliver_webhook(self) -> None:
        """POST pending updates to the webhook, like Telegram: ``webhook_connections`` requests at a
        time (default 1: one at a time, in order), never two of one chat at once, so each chat's
        updates arrive in order. A 2xx answer confirms the update; anything else (or no answer) is
        retried 0.2 s later. A JSON body with "method" is executed as an API call (reply-in-webhook).

        ``webhook_targets`` (a list of URLs), when set, stands for a load balancer in front of several
        bot processes: each attempt goes to the next target in turn, whatever URL was registered."""
        async with ClientSession(timeout=ClientTimeout(total=60)) as session:
            workers = [asyncio.create_task(self._webhook_worker(session))
                       for _ in range(max(1, self.webhook_connections))]
            try:
                await asyncio.gather(*workers)
            finally:
                for worker in workers:
                    worker.cancel()
                await asyncio.gather(*workers, return_exceptions=True)

    def _next_deliverable(self) -> dict[str, Any] | None:
        """The oldest pending update not in flight whose chat has nothing in flight."""
        busy_chats = {_update_chat(u) for u in self.updates if u["update_id"] in self._webhook_in_flight}
        for update in self.updates:
            if update["update_id"] in self._webhook_in_flight:
                continue
            chat = _update_chat(update)
            if chat is not None and chat in busy_chats:
                continue
            return update
        return None

    def _webhook_url(self) -> str:
        targets = self.webhook_targets
        if targets:
            self._target_turn = (self._target_turn + 1) % len(targets)
            return targets[self._target_turn]
        assert self.webhook is not None
        return self.webhook["url"]

    def _confirm_delivered(self, update: dict[str, Any]) -> None:
        with contextlib.suppress(ValueError):
            self.updates.remove(update)
        # every update older than the oldest still pending is confirmed
        last = self.updates[0]["update_id"] - 1 if self.updates else update["update_id"]
        self.acked_update_id = max(self.acked_update_id, last, 0)

    async def _webhook_worker(self, session: ClientSession) -> None:
        while self.webhook and not self._closing:
            update = self._next_deliverable()
            if update is None:
                async with self.cond:
                    await self.cond.wait_for(lambda: self._next_deliverable() is not None or not self.webhook
                                             or self._closing)
                continue
            kind = next(k for k in update if k != "update_id")
            if kind not in set(self.allowed_updates or DEFAULT_ALLOWED):
                self._confirm_delivered(update)
                await self._notify()
                continue
            self._webhook_in_flight.add(update["update_id"])
            try:
                ok, body = await self._post_update(session, update)
            finally:
                self._webhook_in_flight.discard(update["update_id"])
            if not ok:
                await self._notify()
                await asyncio.sleep(0.2)
                continue
            self._confirm_delivered(update)
            await self._notify()
            if body:
                with contextlib.suppress(Exception):
                    payload = json.loads(body)
                    if isinstance(payload, dict) and payload.get("method"):
                        await self.call_method(payload.pop("method"), payload)

    async def _post_update(self, session: ClientSession, update: dict[str, Any]) -> tuple[bool, bytes]:
        assert self.webhook is not None
        headers = {}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
        url = self._webhook_url()
        self.webhook_deliveries.append((update["update_id"], url))
        try:
            async with session.post(url, json=update, headers=headers) as resp:
                body = await resp.read()
                if 200 <= resp.status < 300:
                    return True, body
                self.webhook_last_error = (int(time.time()), f"Wrong response from the webhook: {resp.status} {resp.reason}")
        except Exception as e:  # noqa: BLE001
            self.webhook_last_error = (int(time.time()), f"Connection failed: {e}")
        return False, b""

    async def call_method(self, method: str, params: dict[str, Any]) -> Any:
        """Execute an API method in-process (used for webhook replies). Nested objects may be
        dicts. Raises :class:`APIError`."""
        handler = self._methods.get(method.lower())
        if handler is None:
            raise APIError(404, f"Not Found: method {method!r} is not implemented")
        prepared = {k: (json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in params.items()}
        prepared["_uploads"] = {}
        self.inflight += 1
        try:
            return await handler(prepared, None)  # type: ignore[arg-type]
        finally:
            self.inflight -= 1
            self.last_activity = time.monotonic()
            self._notify_soon()


def _update_chat(update: dict[str, Any]) -> int | None:
    """The chat an update belongs to (its ordering key), if any."""
    for kind, body in update.items():
        if kind == "update_id" or not isinstance(body, dict):
            continue
        chat = body.get("chat") or (body.get("message") or {}).get("chat")
        if chat:
            return chat.get("id")
        if body.get("from"):
            return body["from"].get("id")
    return None
