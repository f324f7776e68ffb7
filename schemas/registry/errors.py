"""Errors of the schema registry service.

Each error carries the Confluent Schema Registry ``error_code`` it stands for, because that code
is part of the REST contract clients program against (the confluent-kafka clients, Karapace,
kcat and the Confluent CLI all branch on it). The HTTP status is derived from the code the way
Confluent does: a five-digit code's first three digits (40401 -> 404), a three-digit code as is.
"""

from __future__ import annotations

from schemas.errors import SchemaError


class RegistryError(SchemaError):
    """Root of the registry's errors; ``error_code`` is the Confluent REST error code."""

    error_code: int = 50001

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def http_status(self) -> int:
        code = self.error_code
        return code // 100 if code >= 10000 else code


class BadRequestError(RegistryError):
    """The request body is not JSON or not the JSON object the endpoint expects."""

    error_code = 400


class UnsupportedMediaTypeError(RegistryError):
    """The request's Content-Type is not one of the JSON types the API accepts."""

    error_code = 415


class UnauthorizedError(RegistryError):
    """Basic-auth credentials missing or wrong (Confluent answers 401 with 40101)."""

    error_code = 40101


class ForbiddenError(RegistryError):
    """The request is refused whoever sends it, e.g. a cross-origin browser request."""

    error_code = 40301


class PayloadTooLargeError(RegistryError):
    """The request body is larger than ``registry_max_body_bytes``."""

    error_code = 413


class SubjectNotFoundError(RegistryError):
    error_code = 40401

    def __init__(self, subject: str) -> None:
        super().__init__(f"Subject '{subject}' not found.")


class VersionNotFoundError(RegistryError):
    error_code = 40402

    def __init__(self, version: int | str) -> None:
        super().__init__(f"Version {version} not found.")


class SchemaNotFoundError(RegistryError):
    error_code = 40403

    def __init__(self, what: int | str | None = None) -> None:
        super().__init__("Schema not found" if what is None else f"Schema {what} not found")


class SubjectSoftDeletedError(RegistryError):
    error_code = 40404

    def __init__(self, subject: str) -> None:
        super().__init__(
            f"Subject '{subject}' was soft deleted. Set permanent=true to delete permanently"
        )


class SubjectNotSoftDeletedError(RegistryError):
    error_code = 40405

    def __init__(self, subject: str) -> None:
        super().__init__(
            f"Subject '{subject}' was not deleted first before being permanently deleted"
        )


class VersionSoftDeletedError(RegistryError):
    error_code = 40406

    def __init__(self, subject: str, version: int) -> None:
        super().__init__(
            f"Subject '{subject}' Version {version} was soft deleted. "
            "Set permanent=true to delete permanently"
        )


class VersionNotSoftDeletedError(RegistryError):
    error_code = 40407

    def __init__(self, subject: str, version: int) -> None:
        super().__init__(
            f"Subject '{subject}' Version {version} was not deleted first before being "
            "permanently deleted"
        )


class SubjectConfigNotFoundError(RegistryError):
    error_code = 40408

    def __init__(self, subject: str) -> None:
        super().__init__(
            f"Subject '{subject}' does not have subject-level compatibility configured"
        )


class SubjectModeNotFoundError(RegistryError):
    error_code = 40409

    def __init__(self, subject: str) -> None:
        super().__init__(f"Subject '{subject}' does not have subject-level mode configured")


class IncompatibleSchemaError(RegistryError):
    """The schema breaks the subject's compatibility level; ``details`` lists why."""

    # Confluent answers an incompatible registration with HTTP 409 and error_code 409.
    error_code = 409

    def __init__(self, subject: str, details: list[str]) -> None:
        super().__init__(
            "Schema being registered is incompatible with an earlier schema for subject "
            f'"{subject}", details: [{", ".join(details)}]'
        )
        self.details = details


class InvalidSchemaError(RegistryError):
    error_code = 42201


class InvalidVersionError(RegistryError):
    error_code = 42202

    def __init__(self, version: str) -> None:
        super().__init__(
            f"The specified version '{version}' is not a valid version id. Allowed values are "
            'between [1, 2^31-1] and the string "latest"'
        )


class InvalidCompatibilityLevelError(RegistryError):
    error_code = 42203

    def __init__(self, level: object, allowed: list[str]) -> None:
        super().__init__(
            f"Invalid compatibility level {level!r}. Valid values are: {', '.join(allowed)}"
        )


class InvalidModeError(RegistryError):
    error_code = 42204


class OperationNotPermittedError(RegistryError):
    error_code = 42205


class ReferenceExistsError(RegistryError):
    """A version that other schemas reference cannot be deleted (Confluent's 42206)."""

    error_code = 42206

    def __init__(self, subject: str, version: int, referrers: list[int]) -> None:
        super().__init__(
            f"One or more references exist to the schema {{subject={subject},version={version}}}"
            f": schema ids {referrers}; delete those first"
        )


class InvalidSubjectError(RegistryError):
    error_code = 42208

    def __init__(self, subject: str) -> None:
        super().__init__(f"The specified subject {subject!r} is not a valid subject name")


class StoreError(RegistryError):
    """The ``_schemas`` topic could not be written or read; the change was not acknowledged."""

    error_code = 50001


class StoreTimeoutError(StoreError):
    """A write to the ``_schemas`` topic was not acknowledged in time."""

    error_code = 50002


class CorruptLogError(StoreError):
    """A record in the ``_schemas`` topic cannot be decoded or contradicts the ones before it.

    Raised during replay; the registry refuses to serve a state it cannot trust, since a wrong
    id would make consumers decode bytes with the wrong schema.
    """
