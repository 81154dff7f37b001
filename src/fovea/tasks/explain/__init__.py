"""Explanations without gradients: each method is one module with a pure `sweep(base, params)`
that makes perturbed copies of the image and combines their scores into a heatmap. `METHODS` is
the registry; a new method is one module and one line here.
"""

from fovea.core import Method
from fovea.tasks.explain import drise, occlusion, rise, scorecam
from fovea.tasks.explain._base import Base, Explainer, Sweep, normalised

METHODS: dict[Method, Explainer] = {
    "scorecam": scorecam.EXPLAINER,
    "rise": rise.EXPLAINER,
    "occlusion": occlusion.EXPLAINER,
    "drise": drise.EXPLAINER,
}

__all__ = ["METHODS", "Base", "Explainer", "Sweep", "normalised"]
