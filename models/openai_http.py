"""An OpenAI-compatible chat endpoint (llama.cpp server, Ollama, vLLM) behind the same LLM interface.

For users with a bigger model on another box. The schema goes out as
`response_format`; servers that predate the `json_schema` form (such as
llama-cpp-python's own) get the `json_object` + `schema` form instead.
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx

from .errors import ModelError, ModelUnreachable
from .llm import CallStats, Message, Usage, _SchemaLLM


class OpenAICompatLLM(_SchemaLLM):
    def __init__(self, base_url: str, model: str, *, api_key_env: str = "TACIT_OPENAI_API_KEY",
                 timeout_s: float = 300.0, transport: httpx.BaseTransport | None = None):
        self.name = f"{model}@{base_url}"
        self.model = model
        self.usage = Usage()
        key = os.environ.get(api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s,
                                    transport=transport)
        self._legacy_format = False

    def close(self) -> None:
        self._client.close()

    def load(self) -> None:
        """Check that the server answers at all (any HTTP status will do: not every server lists models)."""
        try:
            self._client.get("/models", timeout=10.0)
        except httpx.TransportError as exc:
            raise ModelUnreachable(f"{self.name}: no answer from the model server ({exc}); is it running?") from exc

    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self._legacy_format:
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}}

    def _post(self, body: dict[str, Any], schema: dict[str, Any]) -> httpx.Response:
        try:
            response = self._client.post("/chat/completions", json={**body, "response_format": self._response_format(schema)})
            # Older servers reject the json_schema form (llama-cpp-python answers 500).
            if response.status_code >= 400 and "response_format" in response.text and not self._legacy_format:
                self._legacy_format = True
                response = self._client.post("/chat/completions",
                                             json={**body, "response_format": self._response_format(schema)})
        except httpx.HTTPError as exc:
            raise ModelError(f"{self.name}: request failed ({exc})") from exc
        if response.status_code != 200:
            raise ModelError(f"{self.name}: HTTP {response.status_code}: {response.text[:300]}")
        return response

    def _generate(self, messages: list[Message], schema: dict[str, Any], max_tokens: int,
                  attempt: int) -> tuple[str, CallStats]:
        body = {"model": self.model, "messages": messages, "max_tokens": max_tokens,
                "temperature": 0.0 if attempt == 0 else 0.4}
        start = time.perf_counter()
        data = self._post(body, schema).json()
        raw = data["choices"][0]["message"].get("content") or ""
        usage = data.get("usage") or {}
        return raw, CallStats(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)),
                              time.perf_counter() - start)
