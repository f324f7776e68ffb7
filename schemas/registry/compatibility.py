"""Compatibility levels and the rule that decides whether a new schema may join a subject.

Directions, as Confluent defines them:
- BACKWARD: consumers using the new schema can read data written with the previous one
  (new = reader, old = writer); upgrade consumers first.
- FORWARD: consumers still on the previous schema can read data written with the new one
  (old = reader, new = writer); upgrade producers first.
- FULL: both.
- ``*_TRANSITIVE``: against every live version, not just the latest.
- NONE: anything goes.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from schemas.registry.avro_schema import AvroSchema, read_problems
from schemas.registry.errors import InvalidCompatibilityLevelError


class Compatibility(StrEnum):
    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @classmethod
    def parse(cls, value: object) -> Compatibility:
        """The level named by ``value`` (any case); InvalidCompatibilityLevelError otherwise."""
        if isinstance(value, str):
            try:
                return cls(value.strip().upper())
            except ValueError:
                pass
        raise InvalidCompatibilityLevelError(value, [level.value for level in cls])

    @property
    def transitive(self) -> bool:
        return self.value.endswith("_TRANSITIVE")

    @property
    def backward(self) -> bool:
        return self.value.startswith(("BACKWARD", "FULL"))

    @property
    def forward(self) -> bool:
        return self.value.startswith(("FORWARD", "FULL"))


def compatibility_problems(
    level: Compatibility,
    new: AvroSchema,
    previous: Sequence[tuple[int, AvroSchema]],
    *,
    all_given: bool = False,
) -> list[str]:
    """Why ``new`` breaks ``level`` against ``previous``; an empty list means it is compatible.

    ``previous`` holds (version, schema) pairs of live versions, newest first. A non-transitive
    level looks at the first pair only, unless ``all_given`` says the caller already chose
    exactly the versions to check (the compatibility endpoint with an explicit version).
    """
    if level is Compatibility.NONE or not previous:
        return []
    targets = previous if (level.transitive or all_given) else previous[:1]
    for version, old in targets:
        problems: list[str] = []
        if level.backward:
            problems += read_problems(reader=new, writer=old)
        if level.forward:
            problems += read_problems(reader=old, writer=new)
        if problems:
            # The trailer mirrors Confluent's verbose messages so tools that show them read well.
            return [
                *problems,
                f"{{oldSchemaVersion: {version}}}",
                f"{{oldSchema: '{old.canonical}'}}",
                f"{{compatibility: '{level.value}'}}",
            ]
    return []
