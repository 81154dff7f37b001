"""One inspection through the serving layer: resolve the pattern(s), run the detector through
`Service` (the same admission, pipeline and batcher as predict), match, pick the best pattern,
draw on request, observe, and keep a record when the policy says so. The API routes and the CLI
both call `Inspector.inspect`.
"""

from __future__ import annotations

import base64
import io
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

import anyio
from PIL import Image

from fovea.core import Detections, Params
from fovea.errors import InvalidParameter, InvalidPattern, PatternNotFound
from fovea.inspection import matching
from fovea.inspection.patterns import AUTO, INLINE, Pattern, PatternStore, parse_pattern
from fovea.inspection.records import RecordStore, new_id
from fovea.models import Servable
from fovea.serving import Service, Source
from fovea.vision.annotators import InspectionAnnotator
from fovea.wire.inspection import (
    Candidate,
    Count,
    Extra,
    InspectResponse,
    InspectTiming,
    Position,
    overlay_of,
)

PatternRef = str | Pattern  # a name, `auto`, TOML text, or a pattern itself
Origin = Literal["upload", "camera"]


class InspectionObserver(Protocol):
    """Receives each inspection (the API's metrics implement it)."""

    def observe_inspection(
        self,
        model: str,
        pattern: str,
        decision: str,
        statuses: Mapping[str, int],
        offsets: list[float],
    ) -> None: ...


@dataclass(frozen=True)
class Named:
    name: str
    pattern: Pattern


class Inspector:
    def __init__(
        self,
        service: Service,
        patterns: PatternStore,
        records: RecordStore | None = None,
        observer: InspectionObserver | None = None,
    ) -> None:
        self.service, self.patterns = service, patterns
        self.records, self.observer = records, observer

    def resolve(self, served: Servable, ref: PatternRef) -> list[Named]:
        """The patterns to try: the named one, every one for this model (`auto`), or the one
        given; each checked against the model."""
        if served.spec.task != "detect":
            raise InvalidParameter(
                f"model {served.name!r} is a {served.spec.task} model; inspection needs a detector"
            )
        if isinstance(ref, Pattern):
            chosen = [Named(INLINE, ref)]
        elif ref == AUTO:
            # A pattern that names no model takes part only where the model knows its labels.
            chosen = [
                Named(e.name, e.pattern)
                for e in self.patterns.for_model(served.name)
                if e.pattern is not None
                and (e.pattern.model is not None or e.pattern.labels <= set(served.labels))
            ]
            if not chosen:
                raise PatternNotFound(
                    f"no pattern for model {served.name!r}: PUT one at /v1/patterns/NAME, or "
                    "give one inline"
                )
        elif "\n" in ref or "=" in ref:
            chosen = [Named(INLINE, parse_pattern(ref, "the inline pattern"))]
        else:
            entry = self.patterns.read(ref)
            assert entry.pattern is not None
            chosen = [Named(entry.name, entry.pattern)]
        for named in chosen:
            _check(named, served)
        return chosen

    async def inspect(
        self,
        served: Servable,
        source: Source,
        patterns: Sequence[Named],
        *,
        image_id: str = "image",
        origin: Origin = "upload",
        annotate: bool = False,
        camera_ms: float | None = None,
    ) -> InspectResponse:
        """The image judged by the best of `patterns` (from `resolve`)."""
        # The model runs once, at the lowest threshold any pattern asks for; each pattern then
        # judges only the detections at or above its own (or the model's default).
        default = served.context(Params()).score_threshold
        judged = [_with_threshold(p, default) for p in patterns]
        lowest = min(p.pattern.score_threshold or 0.0 for p in judged)
        context = served.context(Params(score_threshold=lowest))
        prediction = await self.service.run(served, source, context, keep_image=True)
        assert isinstance(prediction.result, Detections)
        assert prediction.image is not None
        dets, size_wh = prediction.result, prediction.size_wh

        def judge() -> tuple[list[matching.Inspection], float]:
            started = time.perf_counter()  # in a worker: scipy's first import takes a second
            tried = [matching.inspect(p.name, p.pattern, dets, size_wh) for p in judged]
            return tried, round((time.perf_counter() - started) * 1000, 3)

        (tried, match_ms), _ = await self.service.pipeline.in_worker(judge)
        best = matching.choose(tried)
        timing = InspectTiming(**prediction.timing_ms, match=match_ms, camera=camera_ms)
        answer = _answer(served, best, tried, size_wh, timing, image_id, origin)
        image = prediction.image
        if annotate:
            png, _ = await self.service.pipeline.in_worker(lambda: _annotated_png(image, answer))
            answer.annotated = base64.b64encode(png).decode("ascii")
        self._observe(served.name, best)
        if self.records is not None and self.records.policy.wanted(answer.decision):
            answer.recorded = True
            await self._record(self.records, answer, image)
        return answer

    async def _record(
        self, records: RecordStore, answer: InspectResponse, image: Image.Image
    ) -> None:
        kept = answer.model_dump(mode="json", exclude={"annotated"})
        jpeg, _ = await self.service.pipeline.in_worker(lambda: _jpeg(image))
        await anyio.to_thread.run_sync(records.save, kept, jpeg)

    def _observe(self, model: str, best: matching.Inspection) -> None:
        if self.observer is None:
            return
        statuses: Counter[str] = Counter(p.status for p in best.positions)
        statuses["extra"] += sum(not e.counted for e in best.extras)
        offsets = [p.offset for p in best.positions if p.offset is not None]
        self.observer.observe_inspection(model, best.pattern, best.decision, statuses, offsets)


def _with_threshold(named: Named, default: float) -> Named:
    if named.pattern.score_threshold is not None:
        return named
    return Named(named.name, named.pattern.model_copy(update={"score_threshold": default}))


def _check(named: Named, served: Servable) -> None:
    """A pattern for another model, or one whose labels the model never answers, is refused."""
    pattern = named.pattern
    if pattern.model is not None and pattern.model != served.name:
        raise InvalidParameter(
            f"pattern {named.name!r} is for model {pattern.model!r}, not {served.name!r}"
        )
    unknown = sorted(pattern.labels - set(served.labels))
    if unknown:
        raise InvalidPattern(
            f"pattern {named.name!r}: model {served.name!r} has no label "
            f"{', '.join(map(repr, unknown))}; its labels are {', '.join(served.labels)}"
        )


def _answer(
    served: Servable,
    best: matching.Inspection,
    tried: Sequence[matching.Inspection],
    size_wh: tuple[int, int],
    timing: InspectTiming,
    image_id: str,
    origin: Origin,
) -> InspectResponse:
    ranked = sorted(tried, key=lambda i: (i.errors, i.total_offset, i.pattern))
    return InspectResponse(
        id=new_id(),
        time=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        source=origin,
        image_id=image_id,
        model=served.name,
        version=served.version,
        pattern=best.pattern,
        decision=best.decision,
        errors=best.errors,
        total_offset=round(best.total_offset, 6),
        width=size_wh[0],
        height=size_wh[1],
        positions=[
            Position(
                index=p.index,
                label=p.label,
                status=p.status,
                expected=list(p.expected),
                found=None if p.found is None else list(p.found),
                score=p.score,
                delta=None if p.delta is None else list(p.delta),
                offset=p.offset,
                iou=p.iou,
            )
            for p in best.positions
        ],
        extras=[
            Extra(label=e.label, score=round(e.score, 5), box=list(e.box), counted=e.counted)
            for e in best.extras
        ],
        counts=[
            Count(label=c.label, count=c.count, min=c.min, max=c.max, ok=c.ok) for c in best.counts
        ],
        candidates=[
            Candidate(
                pattern=i.pattern,
                decision=i.decision,
                errors=i.errors,
                total_offset=round(i.total_offset, 6),
            )
            for i in ranked
        ],
        timing=timing,
    )


def _annotated_png(image: Image.Image, answer: InspectResponse) -> bytes:
    drawn = InspectionAnnotator().annotate(image, overlay_of(answer))
    buffer = io.BytesIO()
    drawn.save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()
