"""Talk to any OpenAI-compatible chat endpoint and get JSON that matches a schema back.

Servers differ in how they constrain output (docs/architecture.md, The model): OpenAI and vLLM take
``json_schema``, llama-cpp-python takes ``json_object`` plus a ``schema`` and enforces it by
grammar, others only ``json_object`` or nothing. The client probes once, in that order, and
remembers what worked. Whatever the server promises, the answer is validated here; a bad
answer gets one repair round. Transient failures (429, 5xx, timeouts, dropped connections)
are retried with backoff inside a bounded budget, honouring Retry-After.

Every call yields one ``CallRecord`` (failures too) for the drafting layer to store.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import openai
from openai.types.chat import ChatCompletion
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from outreach.config import redact_url
from outreach.drafting.jsonshape import extract_json_object, schema_errors
from outreach.errors import LLMError

log = logging.getLogger(__name__)

MODES = ("json_schema", "json_object_schema", "json_object", "text")
_CAPABILITY_WORDS = ("response_format", "json_schema", "json_object")

_HINTS = {
    401: " (check the API key for this endpoint)",
    403: " (check the API key's permissions for this model)",
    404: " (check the model name and base_url)",
}

SleepFn = Callable[[float], Awaitable[None]]


@dataclass
class CallRecord:
    """One AI call as it happened: what was sent, what came back, what it cost."""

    provider: str
    model: str
    base_url: str
    messages: list[dict[str, str]]
    options: dict[str, Any]
    response_text: str | None
    raw_response: dict[str, Any] | None
    tokens_in: int | None
    tokens_out: int | None
    duration_ms: int
    error: str | None
    attempts: int
    structured_mode: str


@dataclass
class LLMResult:
    """Schema-valid JSON from the model and the record of the call that produced it."""

    data: dict[str, Any]
    call: CallRecord


class LLMCallError(LLMError):
    """The model could not produce a usable answer; ``call`` records what was tried."""

    def __init__(self, message: str, call: CallRecord) -> None:
        super().__init__(message)
        self.call = call


class _CapabilityRejected(Exception):
    """The server refused our response_format: try the next structured-output mode."""


class _Refused(Exception):
    """The model refused or the provider filtered the answer."""


@dataclass
class _CallState:
    """What one complete_json call accumulates across requests and retries."""

    messages: list[dict[str, str]]
    options: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    request_seconds: float = 0.0
    tokens_in: int | None = None
    tokens_out: int | None = None
    response_text: str | None = None
    raw_response: dict[str, Any] | None = None


def retry_after_seconds(headers: Mapping[str, str], now: datetime) -> float | None:
    """Return the delay a server asks for in retry-after-ms or Retry-After, if any."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _is_capability_rejection(exc: BaseException) -> bool:
    if not isinstance(exc, openai.APIStatusError) or exc.status_code not in (400, 422, 500):
        return False
    text = f"{exc} {exc.body}".lower()
    return any(word in text for word in _CAPABILITY_WORDS)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        if _is_capability_rejection(exc):
            return False
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


def _describe(exc: BaseException) -> str:
    if isinstance(exc, openai.APITimeoutError):
        return "request timed out"
    if isinstance(exc, openai.APIConnectionError):
        return redact_url(f"cannot connect: {exc}")
    if isinstance(exc, openai.APIStatusError):
        hint = _HINTS.get(exc.status_code, "")
        return redact_url(f"HTTP {exc.status_code}: {exc.message}{hint}")
    return redact_url(str(exc))


class LLMClient:
    """An OpenAI-compatible chat endpoint that answers with schema-valid JSON."""

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None,
        api_key: str | None,
        concurrency: int = 4,
        timeout: float = 60.0,
        max_retry_seconds: float = 90.0,
        max_attempts: int = 5,
        temperature: float = 0.3,
        max_tokens: int = 600,
        provider: str | None = None,
        sleep: SleepFn = asyncio.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if api_key is None and base_url is None:
            raise LLMError(
                f"model {model!r}: no base_url and no API key; set an API key for the "
                "OpenAI API or point base_url at a local OpenAI-compatible server"
            )
        self.model = model
        url = base_url or "https://api.openai.com/v1"
        # What messages, logs and the AI call rows show: never a password inside the URL.
        self.base_url = redact_url(url)
        self.provider = provider or ("openai" if base_url is None else "openai-compatible")
        self.max_retry_seconds = max_retry_seconds
        self.max_attempts = max(1, max_attempts)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.structured_mode: str | None = None
        self._sleep = sleep
        self._now = now
        self._semaphore = asyncio.Semaphore(concurrency)
        self._mode_lock = asyncio.Lock()
        # Local servers ignore the key but the SDK insists on one.
        self._client = openai.AsyncOpenAI(
            base_url=url,
            api_key=api_key or "unused",
            max_retries=0,
            timeout=timeout,
        )

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def complete_json(
        self, messages: list[dict[str, str]], schema: dict[str, Any], *, name: str
    ) -> LLMResult:
        """Ask for a JSON object matching schema; raise LLMCallError when none comes back."""
        if self.structured_mode is None:
            # The first call probes the server; the others wait and reuse what it found.
            async with self._mode_lock:
                if self.structured_mode is None:
                    return await self._complete(messages, schema, name)
        return await self._complete(messages, schema, name)

    async def _complete(
        self, messages: list[dict[str, str]], schema: dict[str, Any], name: str
    ) -> LLMResult:
        started = time.monotonic()
        state = _CallState(messages=[dict(m) for m in messages])
        mode = self.structured_mode or MODES[0]

        def record(error: str | None) -> CallRecord:
            return CallRecord(
                provider=self.provider,
                model=self.model,
                base_url=self.base_url,
                messages=state.messages,
                options=state.options,
                response_text=state.response_text,
                raw_response=state.raw_response,
                tokens_in=state.tokens_in,
                tokens_out=state.tokens_out,
                duration_ms=int((time.monotonic() - started) * 1000),
                error=error,
                attempts=state.attempts,
                structured_mode=mode,
            )

        def fail(reason: str) -> LLMCallError:
            reason = redact_url(reason)  # an error may quote the URL
            message = f"LLM call {name!r} to {self.model} at {self.base_url} failed: {reason}"
            return LLMCallError(message, record(reason))

        base = self._with_schema_hint(messages, schema, mode)
        while True:
            state.messages = base
            try:
                text = await self._request(state, schema, name, mode)
                break
            except _CapabilityRejected as exc:
                if mode == MODES[-1]:
                    raise fail(f"the server rejects plain requests: {exc}") from None
                log.info("%s rejects response_format %s; falling back", self.base_url, mode)
                mode = MODES[MODES.index(mode) + 1]
                base = self._with_schema_hint(messages, schema, mode)
            except _Refused as exc:
                raise fail(f"the model refused: {exc}") from None
            except openai.OpenAIError as exc:
                raise fail(_describe(exc)) from None
        self.structured_mode = mode

        data, problem = self._parse(text, schema)
        if data is None:
            state.messages = [
                *base,
                {"role": "assistant", "content": text},
                {
                    "role": "user",
                    "content": f"That answer is not usable: {problem}. Reply with the corrected "
                    "JSON object only, no other text. It must match this JSON schema: "
                    + json.dumps(schema),
                },
            ]
            try:
                text = await self._request(state, schema, name, mode)
            except _Refused as exc:
                raise fail(f"the model refused: {exc}") from None
            except (openai.OpenAIError, _CapabilityRejected) as exc:
                raise fail(_describe(exc)) from None
            data, problem = self._parse(text, schema)
            if data is None:
                raise fail(f"invalid JSON after one repair: {problem}")
        return LLMResult(data=data, call=record(None))

    @staticmethod
    def _with_schema_hint(
        messages: list[dict[str, str]], schema: dict[str, Any], mode: str
    ) -> list[dict[str, str]]:
        """Tell the model the schema in words when the server will not enforce it."""
        copied = [dict(m) for m in messages]
        if mode in ("json_schema", "json_object_schema"):
            return copied
        hint = "Answer with one JSON object only, matching this JSON schema: " + json.dumps(schema)
        if copied and copied[0].get("role") == "system":
            copied[0]["content"] = copied[0]["content"].rstrip() + "\n\n" + hint
        else:
            copied.insert(0, {"role": "system", "content": hint})
        return copied

    @staticmethod
    def _parse(text: str, schema: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
        data = extract_json_object(text)
        if data is None:
            return None, "it is not a JSON object"
        errors = schema_errors(data, schema)
        if errors:
            return None, "; ".join(errors[:5])
        return data, ""

    async def _request(
        self, state: _CallState, schema: dict[str, Any], name: str, mode: str
    ) -> str:
        """Send state.messages once, retrying transient failures; return the answer text."""
        options: dict[str, Any] = {
            "model": self.model,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if mode == "json_schema":
            strict = {"name": name, "strict": True, "schema": schema}
            options["response_format"] = {"type": "json_schema", "json_schema": strict}
        elif mode == "json_object_schema":
            options["response_format"] = {"type": "json_object", "schema": schema}
        elif mode == "json_object":
            options["response_format"] = {"type": "json_object"}
        state.options = options
        backoff = wait_exponential_jitter(max=30.0, jitter=1.0)

        def wait(rs: RetryCallState) -> float:
            exc = rs.outcome.exception() if rs.outcome else None
            if isinstance(exc, openai.APIStatusError):
                asked = retry_after_seconds(exc.response.headers, self._now())
                if asked is not None:
                    return asked
            return float(backoff(rs))

        def stop(rs: RetryCallState) -> bool:
            if rs.attempt_number >= self.max_attempts:
                return True
            spent = state.request_seconds + rs.idle_for + (rs.upcoming_sleep or 0.0)
            return spent > self.max_retry_seconds

        def before_sleep(rs: RetryCallState) -> None:
            exc = rs.outcome.exception() if rs.outcome else None
            log.warning(
                "LLM %s: %s; retry %d in %.1fs",
                self.base_url,
                _describe(exc) if exc else "?",
                rs.attempt_number,
                rs.upcoming_sleep,
            )

        retrying = AsyncRetrying(
            stop=stop,
            wait=wait,
            retry=retry_if_exception(_is_transient),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        completion: ChatCompletion = await retrying(self._send, state, options)
        return self._answer_text(state, completion)

    async def _send(self, state: _CallState, options: dict[str, Any]) -> ChatCompletion:
        state.attempts += 1
        async with self._semaphore:
            started = time.monotonic()
            try:
                return await self._client.chat.completions.create(
                    messages=state.messages,  # type: ignore[arg-type]
                    **options,
                )
            except openai.APIStatusError as exc:
                state.raw_response = {"status_code": exc.status_code, "body": exc.body}
                state.response_text = None
                if _is_capability_rejection(exc):
                    raise _CapabilityRejected(_describe(exc)) from exc
                raise
            finally:
                state.request_seconds += time.monotonic() - started

    @staticmethod
    def _answer_text(state: _CallState, completion: ChatCompletion) -> str:
        state.raw_response = completion.model_dump()
        if completion.usage is not None:
            state.tokens_in = (state.tokens_in or 0) + completion.usage.prompt_tokens
            state.tokens_out = (state.tokens_out or 0) + completion.usage.completion_tokens
        if not completion.choices:
            state.response_text = ""
            return ""
        choice = completion.choices[0]
        state.response_text = choice.message.content
        if choice.message.refusal:
            raise _Refused(choice.message.refusal)
        if choice.finish_reason == "content_filter":
            raise _Refused("the provider's content filter stopped the answer")
        return choice.message.content or ""
