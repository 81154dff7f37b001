"""The UI's side of the API: one `fovea.client.Client` per URL, typed answers remembered per
session so a widget change never repeats a request, and API failures shown as messages, not
tracebacks.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx
import streamlit as st

from fovea.client import APIError, Client, VideoAnswer, predict_request, read_as
from fovea.core import Classes, Detections, ExplainParams, Heatmap, Mask, Params, Result
from fovea.ui import logic
from fovea.ui.config import UISettings, load_settings
from fovea.wire import ExplainResponse, ModelInfo, Output, PredictResponse, Readiness

T = TypeVar("T")
R = TypeVar("R", Detections, Classes, Mask)
MemoKey = tuple[str, str, str, str, Params]
ExplainKey = tuple[str, str, str, ExplainParams]
_MEMO_KEY = "_fovea_answers"
_VIDEO_MEMO_KEY = "_fovea_videos"
_EXPLAIN_KEY = "_fovea_explanations"
_MEMO_SIZE = 256  # answers kept per session; a batch of uploads is well below this
_RETRYABLE = {401, 403, 408, 429}  # a key, time or rate problem: worth asking again


@dataclass(frozen=True)
class Answer(Generic[R]):
    """One image's predict response, its result as a core type, and the round trip seen from
    the UI."""

    response: PredictResponse
    result: R
    round_trip_ms: float

    @property
    def output(self) -> Output:
        return self.response.outputs[0]


@dataclass(frozen=True)
class Explained:
    """One image's explanation, its heatmap as a core type, and the round trip from the UI."""

    response: ExplainResponse
    heatmap: Heatmap
    round_trip_ms: float


@dataclass(frozen=True)
class Failure:
    """Why one image got no answer, already worded for people; `final` when asking again
    would get the same answer (an input the server rejects), so it can be remembered."""

    message: str
    final: bool = False


@dataclass(frozen=True)
class _Reply:
    """What the memo keeps: the response, converted once, whatever its result type."""

    response: PredictResponse
    result: Result
    round_trip_ms: float


def settings() -> UISettings:
    """The environment's settings, with the URL typed in the sidebar (if any) instead."""
    base = load_settings()
    typed = str(st.session_state.get("api_url") or "").strip().rstrip("/")
    return UISettings(api_url=typed or base.api_url, api_key=base.api_key)


@st.cache_resource(show_spinner=False)
def _client(api_url: str, api_key: str | None) -> Client:
    return Client(api_url, api_key=api_key, timeout=120.0)


def client() -> Client:
    current = settings()
    return _client(current.api_url, current.api_key)


def failure_of(error: Exception) -> Failure:
    url = settings().api_url
    if isinstance(error, APIError):
        final = 400 <= error.status < 500 and error.status not in _RETRYABLE
        return Failure(logic.problem_message(error), final)
    if isinstance(error, httpx.HTTPError | httpx.InvalidURL):
        return Failure(logic.unreachable_message(url, error))
    return Failure(logic.not_fovea_message(url, error))


def call(fn: Callable[[Client], T]) -> T | Failure:
    """fn(client), or a Failure for an API error, a server that cannot be reached, or one whose
    answer is not Fovea's JSON (a ValueError, as pydantic's ValidationError is: another service
    at that URL)."""
    try:
        return fn(client())
    except (APIError, httpx.HTTPError, httpx.InvalidURL, ValueError) as error:
        return failure_of(error)


@st.cache_data(ttl=5, show_spinner=False)
def _health(api_url: str, api_key: str | None) -> Readiness:
    return _client(api_url, api_key).health()


@st.cache_data(ttl=5, show_spinner=False)
def _models(api_url: str, api_key: str | None) -> list[ModelInfo]:
    return _client(api_url, api_key).models()


def health() -> Readiness | Failure:
    current = settings()
    return call(lambda _: _health(current.api_url, current.api_key))


def models() -> list[ModelInfo] | Failure:
    current = settings()
    return call(lambda _: _models(current.api_url, current.api_key))


def refresh() -> None:
    """Forget cached health and model lists (the Refresh buttons)."""
    _health.clear()
    _models.clear()


def predict(
    model: str, name: str, data: bytes, expect: type[R], params: Params | None = None
) -> Answer[R] | Failure:
    """One image through a model, remembered for this session by URL, model, bytes and params;
    its result should be an `expect` (Detections, Classes or Mask)."""
    params = params or Params()
    return _typed(_reply(_memo_key(model, name, data, params), model, name, data, params), expect)


def predict_many(
    model: str, images: Sequence[tuple[str, bytes]], expect: type[R], params: Params | None = None
) -> dict[str, Answer[R] | Failure]:
    """Each image in its own request, with a progress bar while any is not yet answered."""
    params = params or Params()
    keys = [_memo_key(model, name, data, params) for name, data in images]
    memo = _memo()
    todo = sum(key not in memo for key in keys)
    bar = st.progress(0.0, text=f"0 of {todo} images") if todo > 1 else None
    answers: dict[str, Answer[R] | Failure] = {}
    done = 0
    for key, (name, data) in zip(keys, images, strict=True):
        fresh = key not in memo
        answers[name] = _typed(_reply(key, model, name, data, params), expect)
        done += fresh
        if bar is not None and fresh:
            bar.progress(done / todo, text=f"{done} of {todo} images")
    if bar is not None:
        bar.empty()
    return answers


def _typed(reply: _Reply | Failure, expect: type[R]) -> Answer[R] | Failure:
    if isinstance(reply, Failure):
        return reply
    if not isinstance(reply.result, expect):
        got = type(reply.result).__name__
        return Failure(f"The model answered with {got}, where this page shows {expect.__name__}.")
    return Answer(reply.response, reply.result, reply.round_trip_ms)


def _memo() -> dict[MemoKey, _Reply | Failure]:
    memo: dict[MemoKey, _Reply | Failure] = st.session_state.setdefault(_MEMO_KEY, {})
    return memo


def _reply(key: MemoKey, model: str, name: str, data: bytes, params: Params) -> _Reply | Failure:
    memo = _memo()
    if key in memo:
        return memo[key]
    start = time.perf_counter()
    response = call(lambda c: _predict_named(c, model, name, data, params))
    if isinstance(response, Failure) and not response.final:
        return response  # not remembered: the next rerun asks again
    if len(memo) >= _MEMO_SIZE:
        memo.pop(next(iter(memo)))
    elapsed_ms = round((time.perf_counter() - start) * 1000, 1)
    if isinstance(response, Failure):
        memo[key] = response
    else:
        memo[key] = _Reply(response, response.outputs[0].result(), elapsed_ms)
    return memo[key]


def _memo_key(model: str, name: str, data: bytes, params: Params) -> MemoKey:
    digest = hashlib.sha256(data).hexdigest()
    return settings().api_url, model, name, digest, params


def _predict_named(
    client: Client, model: str, name: str, data: bytes, params: Params
) -> PredictResponse:
    """Client.predict, but the upload keeps its file name so the answer's id is that name."""
    request = predict_request(model, [data], params)
    request["files"] = [("files", (name, data))]
    return read_as(client.http.request(**request), PredictResponse)


def explain(model: str, data: bytes, params: ExplainParams) -> Explained | Failure:
    """Where the model looked for one image, remembered for this session by URL, model, bytes
    and parameters: an explanation runs the model dozens of times, so it is asked for once."""
    memo: dict[ExplainKey, Explained | Failure] = st.session_state.setdefault(_EXPLAIN_KEY, {})
    key = (settings().api_url, model, hashlib.sha256(data).hexdigest(), params)
    if key in memo:
        return memo[key]
    start = time.perf_counter()
    response = call(lambda c: c.explain(model, data, params))
    if isinstance(response, Failure) and not response.final:
        return response  # not remembered: the next rerun asks again
    if len(memo) >= _MEMO_SIZE:
        memo.pop(next(iter(memo)))
    elapsed_ms = round((time.perf_counter() - start) * 1000, 1)
    memo[key] = (
        response
        if isinstance(response, Failure)
        else Explained(response, response.result(), elapsed_ms)
    )
    return memo[key]


@dataclass(frozen=True)
class VideoResult:
    """A video's NDJSON answer and its annotated MP4 (None for a video that broke off: the
    server draws only whole videos)."""

    answer: VideoAnswer
    mp4: bytes | None


def video(model: str, data: bytes, fps: float, track: bool) -> VideoResult | Failure:
    """The video through a model twice, as NDJSON and as the annotated MP4; remembered for this
    session by URL, model, bytes and options, so a rerun of the page asks nothing again."""
    key = (settings().api_url, model, hashlib.sha256(data).hexdigest(), fps, track)
    memo: dict[tuple[Any, ...], VideoResult] = st.session_state.setdefault(_VIDEO_MEMO_KEY, {})
    if key in memo:
        return memo[key]

    def both(c: Client) -> VideoResult:
        answer = c.video(model, data, fps=fps, track=track)
        if answer.error is not None:
            return VideoResult(answer, None)
        return VideoResult(answer, c.video_mp4(model, data, fps=fps, track=track))

    result = call(both)
    if not isinstance(result, Failure):
        memo.clear()  # one video at a time: they are large
        memo[key] = result
    return result
