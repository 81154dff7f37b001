"""video_results: a whole video's per-frame results in-process, as a batch job would call it."""

from __future__ import annotations

from pathlib import Path

import pytest

from fovea.core import Detections, Params
from fovea.errors import VideoDecodeError
from fovea.models import Repository
from fovea.serving import FetchPolicy, Service
from fovea.video.options import Sampling
from fovea.video.process import video_results
from fovea.vision import Limits
from tests.video.clips import FPS, FRAMES, Clips

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def repository(model_repo: Path) -> Repository:
    repo = Repository(model_repo)
    repo.scan()
    repo.load_all(only="yolov8-test")
    return repo


async def test_every_sampled_frame_with_its_number_time_and_tracks(
    repository: Repository, clips: Clips
) -> None:
    model = repository.get("yolov8-test")
    async with Service(Limits(), FetchPolicy(), workers=2) as service:
        info, results = await video_results(
            service,
            model,
            clips.mp4.read_bytes(),
            Params(score_threshold=0.85),
            Sampling(stride=4),
            track=True,
        )
    assert (info.fps, info.frame_count) == (FPS, FRAMES)
    assert [r.index for r in results] == list(range(0, FRAMES, 4))
    times = [i / FPS for i in range(0, FRAMES, 4)]
    assert [r.time_s for r in results] == pytest.approx(times, abs=1e-5)
    dets = results[-1].prediction.result
    assert isinstance(dets, Detections)
    assert dets.class_name == ["dog"]  # the 0.8 person is under the threshold asked for
    assert dets.tracker_id is not None
    assert dets.tracker_id.tolist() == [0]
    assert results[-1].prediction.image is None  # frames are not kept unless asked


async def test_a_damaged_video_raises_after_its_good_frames(
    repository: Repository, clips: Clips
) -> None:
    model = repository.get("yolov8-test")
    async with Service(Limits(), FetchPolicy(), workers=1) as service:
        with pytest.raises(VideoDecodeError, match="breaks off"):
            await video_results(service, model, clips.truncated.read_bytes())
