"""Model outputs -> results, one task per module. `TASKS` is the one registry: a task names its
decoders, and a decoder is a pure function of numpy arrays for one image. A new task is one
module and one line here; a new detector family is one module in `detect/` and one line there.
"""

from fovea.tasks import classify, detect, segment
from fovea.tasks._base import DecodeContext, Decoder, Outputs, Task

TASKS: dict[str, Task] = {task.name: task for task in (detect.TASK, classify.TASK, segment.TASK)}

__all__ = ["TASKS", "DecodeContext", "Decoder", "Outputs", "Task"]
