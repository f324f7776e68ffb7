"""What every handler of one console app shares (built by ``create_app``)."""

from __future__ import annotations

from dataclasses import dataclass

from vidsight.console.auth import Signer
from vidsight.console.feed import Hub
from vidsight.console.readmodels import ReadModelsClient
from vidsight.console.settings import ConsoleSettings
from vidsight.console.stores import Stores
from vidsight.console.writes import Writer


@dataclass(frozen=True, slots=True)
class Console:
    settings: ConsoleSettings
    signer: Signer
    accounts: dict[str, str]
    stores: Stores
    hub: Hub
    writer: Writer
    readmodels: ReadModelsClient
