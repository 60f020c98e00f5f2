"""What can go wrong when a lesson calls a model, each with a message that says what to do.

Every error here is a ``CourseError``: lessons and the CLI catch that one class
in one place and show its message, never a traceback wall. Messages never
contain a key: ``redact`` removes every known secret value before a message
is built from anything a server or an SDK said.
"""

from __future__ import annotations

import os

SECRET_VARIABLES = ("AZURE_OPENAI_API_KEY", "AZURE_INFERENCE_CREDENTIAL", "GITHUB_TOKEN", "NVIDIA_API_KEY", "COURSE_API_KEY")


class CourseError(Exception):
    """Base class: the message is complete, actionable and free of secrets."""


class MissingKeyError(CourseError):
    """A backend was chosen but its key or endpoint variable is not set."""


class AuthError(CourseError):
    """401 or 403: the key is wrong, expired or lacks a scope."""


class ModelNotFoundError(CourseError):
    """404: the backend has no model of that name."""


class ServiceRetiredError(CourseError):
    """410: the service is gone for good (GitHub Models, since 2026-07-30)."""


class RateLimitError(CourseError):
    """429, still after the bounded retries."""


class ServerError(CourseError):
    """5xx: the service failed; not the learner's fault."""


class RequestTimeoutError(CourseError):
    """No answer within COURSE_TIMEOUT seconds."""


class BackendUnreachableError(CourseError):
    """Connection refused or host not found."""


class PromptTooLongError(CourseError):
    """The prompt does not fit the model's context window."""


class EmptyMessagesError(CourseError):
    """There is nothing to send."""


def redact(text: str) -> str:
    """Remove the value of every secret variable from text (a server may echo a key back)."""
    for name in SECRET_VARIABLES:
        value = os.environ.get(name, "").strip()
        if len(value) >= 4:
            text = text.replace(value, f"<{name}>")
    return text

