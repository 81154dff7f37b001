"""Bring third-party checkpoints into a model repository as ready model folders. The frameworks
that read them (PyTorch and its exporters) run in a separate tools venv, never in the server's.
"""

from fovea.importers.megadetector import import_megadetector

__all__ = ["import_megadetector"]
