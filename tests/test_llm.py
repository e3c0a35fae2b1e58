"""LLMClient against a scripted OpenAI-compatible server, through the real openai client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from outreach.drafting.llm import LLMCallError, LLMClient, retry_after_seconds
from outreach.drafting.prompts import slot_prompt, slot_schema
from outreach.errors import LLMError
from tests.llm_server import (
    FakeLLMServer,
    content_filter,
    hang,
    invalid_json,
    ok,
    refusal,
    reject_json_schema,
    serve,
    status,
)
from tests.services.llama import serve_llama

SCHEMA = slot_schema(["hook", "closing"])
MESSAGES = [
    {"role": "system", "content": "You fill slots in an email. Answer in JSON."},
    {"role": "user", "content": "Fill hook and closing for Jamie."},
]
API_KEY = "sk-test-secret-0123456789"


@pytest.fixture(name="llm_server")
def fake_llm_server() -> Iterator[FakeLLMServer]:
    # The same server as the `llm_server` plugin fixture, so this file runs on its own.
    with serve() as server:
        yield server


@pytest.fixture(scope="session", name="llama_server")
def real_llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # The same server as tests.services.llama's session fixture, so this file runs on its own.
    with serve_llama(tmp_path_factory.mktemp("llama")) as base_url:
        yield base_url


class Sleeps:
    """An injected sleep that records what it was asked and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make_client(
    llm_server: FakeLLMServer, sleeps: Sleeps
) -> AsyncIterator[Callable[..., LLMClient]]:
    clients: list[LLMClient] = []

    def make(**overrides: Any) -> LLMClient:
        options: dict[str, Any] = {
            "model": "fake-model",
            "base_url": llm_server.base_url,
            "api_key": API_KEY,
            "timeout": 5.0,
            "sleep": sleeps,
        }
        options.update(overrides)
        client = LLMClient(**options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


async def test_scripted_answer_is_returned_with_a_full_record(
    llm_server: FakeLLMServer, make_client: Callable[..., LLMClient]
) -> None:
    llm_server.push(ok({"hook": "Your Paywise platform work stood out.", "closing": "Best,"}))
    client = make_client(temperature=0.2, max_tokens=300)

    result = await client.complete_json(MESSAGES, SCHEMA, name="slots")

    assert result.data == {"hook": "Your Paywise platform work stood out.", "closing": "Best,"}
    call = result.call
    assert call.error is None
    assert call.attempts == 1
    assert call.structured_mode == "json_schema"
    assert call.messages == MESSAGES
    assert call.model == "fake-model"
    assert call.base_url == llm_server.base_url
    assert call.options["temperature"] == 0.2
    assert call.options["max_tokens"] == 300
    assert call.options["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "slots", "strict": True, "schema": SCHEMA},
    }
    assert call.response_text is not None and "Paywise" in call.response_text
    assert call.raw_response is not None
    assert call.raw_response["choices"][0]["message"]["content"] == call.response_text
    assert call.tokens_in is not None and call.tokens_in > 0
    assert call.tokens_out is not None and call.tokens_out > 0
    assert call.duration_ms >= 0
    sent = llm_server.completions[0]
    assert sent.body["messages"] == MESSAGES
    assert sent.body["response_format"]["type"] == "json_schema"
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"


async def test_api_key_never_reaches_the_record_or_the_logs(
    llm_server: FakeLLMServer,
    make_client: Callable[..., LLMClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    llm_server.push(status(500), ok({"hook": "a", "closing": "b"}))
    result = await make_client().complete_json(MESSAGES, SCHEMA, name="slots")
    assert API_KEY not in repr(result.call)
    assert API_KEY not in caplog.text


async def test_429_waits_as_long_as_retry_after_says(
    llm_server: FakeLLMServer, make_client: Callable[..., LLMClient], sleeps: Sleeps
) -> None:
    llm_server.push(status(429, headers={"Retry-After": "7"}), ok({"hook": "h", "closing": "c"}))
    result = await make_client().complete_json(MESSAGES, SCHEMA, name="slots")
    assert result.data == {"hook": "h", "closing": "c"}
    assert result.call.attempts == 2
    assert len(sleeps.calls) == 1 and sleeps.calls[0] >= 7


async def test_retry_after_ms_is_honoured(
    llm_server: FakeLLMServer, make_client: Callable[..., LLMClient], sleeps: Sleeps
) -> None:
    llm_server.push(
        status(429, headers={"retry-after-ms": "2500"}), ok({"hook": "h", "closing": "c"})
    )
    await make_client().complete_json(MESSAGES, SCHEMA, name="slots")
    assert sleeps.calls == [2.5]


def test_retry_after_parses_seconds_dates_and_milliseconds() -> None:
    now = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds({"Retry-After": "3"}, now) == 3.0
    assert retry_after_seconds({"Retry-After": later}, now) == 30.0
    assert retry_after_seconds({"retry-after-ms": "150"}, now) == 0.15
    assert retry_after_seconds({"Retry-After": "soon"}, now) is None
    assert retry_after_seconds({}, now) is None


async def test_retry_after_beyond_the_budget_gives_up(
    llm_server: FakeLLMServer, make_client: Callable[..., LLMClient], sleeps: Sleeps
) -> None:
    llm_server.push(status(429, headers={"Retry-After": "600"}))
    with pytest.raises(LLMCallError) as info:
        await make_client(max_retry_seconds=90).complete_json(MESSAGES, SCHEMA, name="slots")
    assert sleeps.calls == []
    assert info.value.call.attempts == 1
    assert "429" in str(info.value)


async def test_500_then_success(
    llm_server: FakeLLMServer, make_client: Callable[..., LLMClient], sleeps: Sleeps
) -> None:
    llm_server.push(status(500), status(503), ok({"hook": "h", "closing": "c"}))
    result = await make_client().complete_json(MESSAGES, SCHEMA, name="slots")
    assert result.data["hook"] == "h"
    assert result.call.attempts == 3
    assert len(sleeps.calls) == 2
    assert all(0 < s <= 31 for s in sleeps.calls)


async def test_timeout_then_success(
    llm_server: FakeLLMServer, make_client: Callable[..., LLMClient]
) -> None:
    llm_server.push(hang(30), ok({"hook": "h", "closing": "c"}))
    result = await make_client(timeout=0.5).complete_json(MESSAGES, SCHEMA, name="slots")
    assert result.data == {"hook": "h", "closing": "c"}
    assert result.call.attempts == 2
    assert len(llm_server.completions) == 2


async def test_connection_refused_is_retried_then_reported(
    make_client: Callable[..., LLMClient], sleeps: Sleeps
) -> None:
    client = make_client(base_url="http://127.0.0.1:9/v1", max_attempts=3)
    with pytest.raises(LLMCallError) as info:
        await client.complete_json(MESSAGES, SCHEMA, name="slots")
    assert info.value.call.attempts == 3
    assert len(sleeps.calls) == 2
    assert "connect" in str(info.value)


async def test_persistent_500_fails_after_bounded_attempts_with_one_record(
    llm_server: FakeLLMServer, make_client: Callable[..., LLMClient], sleeps: Sleeps
) -> None:
    llm_server.push(*[status(500)] * 10)
    with pytest.raises(LLMError) as info:
        await make_client(max_attempts=4).complete_json(MESSAGES, SCHEMA, name="slots")
    assert isinstance(info.value, LLMCallError)
    call = info.value.call
    assert call.attempts == 4
    assert len(llm_server.completions) == 4
    assert len(sleeps.calls) == 3
    assert call.error is not None and "HTTP 500" in call.error
    assert call.response_text is None
    assert call.raw_response is not None and call.raw_response["status_code"] == 500
    assert "'slots'" in str(info.value) and llm_server.base_url in str(info.value)


async def test_backoff_stops_within_the_retry_budget(
    llm_server: FakeLLMServer, make_client: Callable[..., LLMClient], sleeps: Sleeps
) -> None:
    llm_server.push(*[status(502)] * 20)
    client = make_client(max_attempts=20, max_retry_seconds=5)
    with pytest.raises(LLMCallError):
        await client.complete_json(MESSAGES, SCHEMA, name="slots")
    assert sum(sleeps.calls) <= 5
    assert len(llm_server.completions) < 20


@pytest.mark.parametrize("code", [400, 401, 404])
async def test_client_errors_fail_at_once(
    llm_server: FakeLLMServer, make_client: Callable[..., LLMClient], sleeps: Sleeps, code: int
) -> None:
    llm_server.push(status(code))
    with pytest.raises(LLMCallError) as info:
        await make_client().complete_json(MESSAGES, SCHEMA, name="slots")
    assert info.value.call.attempts == 1
    assert sleeps.calls == []
    assert f"HTTP {code}" in str(info.value)
    if code == 401:
        assert "check the API key" in str(info.value)


async def test_invalid_json_is_repaired_once(
    llm_server: FakeLLMServer, make_client: Callable[..., LLMClient]
) -> None:
    llm_server.push(invalid_json(), ok({"hook": "fixed", "closing": "c"}))
    result = await make_client().complete_json(MESSAGES, SCHEMA, name="slots")
    assert result.data == {"hook": "fixed", "closing": "c"}
    assert result.call.attempts == 2
    repair = llm_server.completions[1].body["messages"]
    assert repair[: len(MESSAGES)] == MESSAGES
    assert repair[-2]["role"] == "assistant"
    assert repair[-2]["content"].startswith("Sure! Here is the hook")
    assert repair[-1]["role"] == "user" and "not a JSON object" in repair[-1]["content"]
    assert result.call.messages == repair


async def test_schema_mismatch_is_repaired_with_the_validation_error(
    llm_server: FakeLLMServer, make_client: Callable[..., LLMClient]
) -> None:
    llm_server.push(ok({"hook": "h"}), ok({"hook": "h", "closing": "c"}))
    result = await make_client().complete_json(MESSAGES, SCHEMA, name="slots")
    assert result.data == {"hook": "h", "closing": "c"}
    assert "'closing'" in llm_server.completions[1].body["messages"][-1]["content"]


async def test_invalid_twice_is_an_error(
    llm_server: FakeLLMServer, make_client: Callable[..., LLMClient]
) -> None:
    llm_server.push(invalid_json(), ok({"hook": 3, "closing": "c"}), ok({"hook": "late"}))
    with pytest.raises(LLMCallError) as info:
        await make_client().complete_json(MESSAGES, SCHEMA, name="slots")
    assert len(llm_server.completions) == 2
    assert "after one repair" in str(info.value)
    assert "$.hook should be string" in str(info.value)
    assert info.value.call.response_text == '{"hook": 3, "closing": "c"}'


@pytest.mark.parametrize("behaviour", [refusal(), content_filter()], ids=["refusal", "filter"])
async def test_refusal_fails_without_retry(
    llm_server: FakeLLMServer,
    make_client: Callable[..., LLMClient],
    sleeps: Sleeps,
    behaviour: Any,
) -> None:
    llm_server.push(behaviour, ok({"hook": "h", "closing": "c"}))
    with pytest.raises(LLMCallError) as info:
        await make_client().complete_json(MESSAGES, SCHEMA, name="slots")
    assert "refused" in str(info.value)
    assert len(llm_server.completions) == 1
    assert info.value.call.attempts == 1
    assert sleeps.calls == []


async def test_json_schema_rejected_falls_back_and_is_remembered(
    llm_server: FakeLLMServer, make_client: Callable[..., LLMClient], sleeps: Sleeps
) -> None:
    llm_server.mimic_llama_cpp()
    client = make_client()

    first = await client.complete_json(MESSAGES, SCHEMA, name="slots")
    second = await client.complete_json(MESSAGES, SCHEMA, name="slots")

    assert first.data == {"hook": "A short line for hook.", "closing": "A short line for closing."}
    assert first.call.structured_mode == "json_object_schema"
    assert first.call.attempts == 2
    assert first.call.options["response_format"] == {"type": "json_object", "schema": SCHEMA}
    formats = [r.body["response_format"] for r in llm_server.completions]
    assert [f["type"] for f in formats] == ["json_schema", "json_object", "json_object"]
    assert formats[2]["schema"] == SCHEMA
    assert second.call.attempts == 1
    assert client.structured_mode == "json_object_schema"
    assert sleeps.calls == []


async def test_falls_back_to_plain_json_object_then_text(
    llm_server: FakeLLMServer, make_client: Callable[..., LLMClient]
) -> None:
    rejection = status(
        400, body={"error": {"message": "Invalid parameter: 'response_format' is not supported."}}
    )
    fenced = '```json\n{"hook": "h", "closing": "c"}\n```'
    llm_server.push(reject_json_schema(), rejection, rejection, ok(fenced))
    result = await make_client().complete_json(MESSAGES, SCHEMA, name="slots")
    assert result.data == {"hook": "h", "closing": "c"}
    assert result.call.structured_mode == "text"
    last = llm_server.completions[-1].body
    assert "response_format" not in last
    # Without an enforced schema the model is told the schema in the system message.
    assert "JSON schema" in last["messages"][0]["content"]
    assert last["messages"][0]["content"].startswith(MESSAGES[0]["content"])


async def test_concurrency_is_bounded(
    llm_server: FakeLLMServer, make_client: Callable[..., LLMClient]
) -> None:
    client = make_client(concurrency=3)
    await client.complete_json(MESSAGES, SCHEMA, name="slots")  # detect the mode first
    llm_server.gate.clear()
    calls = [
        asyncio.create_task(client.complete_json(MESSAGES, SCHEMA, name="slots")) for _ in range(10)
    ]
    assert await asyncio.to_thread(llm_server.wait_in_flight, 3)
    llm_server.gate.set()
    results = await asyncio.gather(*calls)
    assert len(results) == 10
    assert llm_server.max_in_flight == 3


async def test_first_calls_wait_for_one_probe(
    llm_server: FakeLLMServer, make_client: Callable[..., LLMClient]
) -> None:
    llm_server.mimic_llama_cpp()
    client = make_client(concurrency=4)
    results = await asyncio.gather(
        *(client.complete_json(MESSAGES, SCHEMA, name="slots") for _ in range(4))
    )
    assert [r.call.structured_mode for r in results] == ["json_object_schema"] * 4
    types = [r.body["response_format"]["type"] for r in llm_server.completions]
    assert types.count("json_schema") == 1


def test_openai_without_key_is_a_clear_error() -> None:
    with pytest.raises(LLMError, match="API key"):
        LLMClient(model="gpt-4o-mini", base_url=None, api_key=None)


@pytest.mark.realmodel
async def test_real_small_model_returns_schema_valid_slots(llama_server: str) -> None:
    messages = slot_prompt(
        kind="outreach",
        slots=[
            ("hook", "One sentence on a detail of the profile that fits the role.", 30),
            ("closing", "One sentence asking whether they are open to a short call.", 20),
        ],
        sender={"name": "Maria Berg"},
        role={"title": "Senior Backend Engineer"},
        company={"name": "Northwind"},
        person={
            "name": "Jamie Lind",
            "headline": "Led an ML platform handling millions of transactions daily at Paywise",
            "language": "en",
        },
        language="en",
    ).messages
    client = LLMClient(model="smollm2", base_url=llama_server, api_key=None, max_tokens=300)
    try:
        result = await client.complete_json(
            messages, slot_schema(["hook", "closing"]), name="slots"
        )
    finally:
        await client.aclose()

    assert set(result.data) == {"hook", "closing"}
    assert all(isinstance(v, str) for v in result.data.values())
    call = result.call
    assert call.structured_mode == "json_object_schema"
    assert call.error is None
    assert call.tokens_in is not None and call.tokens_in > 100
    assert call.tokens_out is not None and call.tokens_out > 0
    assert call.raw_response is not None and call.raw_response["choices"]
    assert call.options["response_format"]["type"] == "json_object"
