"""Typed model errors: each says what is wrong and the command that fixes it."""

from __future__ import annotations

from pathlib import Path


class ModelError(Exception):
    """Base class for model-layer failures a user can act on."""


class ModelMissing(ModelError):
    def __init__(self, path: Path | str, fix: str):
        self.path, self.fix = Path(path), fix
        super().__init__(f"model file not found: {path}. Fix: {fix}")


class ModelUnreachable(ModelError):
    """A model server that does not answer: worth trying again later, unlike a bad model file."""


class AssemblyError(ModelError):
    """A bundled model's parts are missing or do not add up to the published file."""


class SchemaError(ModelError):
    """The model's output did not fit the schema, even after a retry.

    Carries the raw output and the prompt so the caller can quarantine both;
    nothing is dropped silently.
    """

    def __init__(self, message: str, raw: str, prompt: object):
        self.raw, self.prompt = raw, prompt
        super().__init__(message)
