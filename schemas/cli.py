"""``vidsight schemas``: register the ``.avsc`` files with the registry, or check them first.

``register`` sets BACKWARD compatibility on every ``<topic>-value`` subject, checks every schema
against the subject's latest version and, only when all of them pass, registers them and
prints subject/version/id. ``check`` does the same checks without writing anything.
Exit codes: 0 ok, 1 a schema is incompatible (with a field diff and the registry's messages)
or the registry failed.

The operations themselves are ``schemas.registration`` (``register_all``, ``check_all``).
Both commands find the registry like every other command: ``--data-dir`` (the local stack's
``stack.json`` and its generated credentials), ``VIDSIGHT_*`` variables and the config file;
``--registry-url`` overrides the URL alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from schemas import catalog
from schemas.errors import IncompatibleSchemaError, SchemaError
from schemas.registration import check_with, incompatibility_report, register_all
from schemas.registry_access import RegistryRest
from vidsight.commands import config_file
from vidsight.errors import ConfigError
from vidsight.options import DATA_DIR_OPTION
from vidsight.settings import Endpoints, load

DEFAULT_REGISTRY_URL = "http://127.0.0.1:8081"


def _table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


registry_url_option = click.option(
    "--registry-url",
    default=None,
    help=(
        "Schema registry base URL, overriding the settings (env VIDSIGHT_REGISTRY_URL, the "
        f"local stack's stack.json, default {DEFAULT_REGISTRY_URL})."
    ),
)


def _endpoints(ctx: click.Context, data_dir: Path | None, url: str | None) -> Endpoints:
    """The settings every command uses: the stack of ``--data-dir``, env, config file."""
    try:
        return load(Endpoints, config_file=config_file(ctx), data_dir=data_dir, registry_url=url)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(name="schemas")
def schemas_group() -> None:
    """Avro schemas and the schema registry."""


@schemas_group.command()
@DATA_DIR_OPTION
@registry_url_option
@click.pass_context
def register(ctx: click.Context, data_dir: Path | None, registry_url: str | None) -> None:
    """Register every .avsc under <topic>-value with BACKWARD compatibility."""
    endpoints = _endpoints(ctx, data_dir, registry_url)
    try:
        done = register_all(endpoints)
    except IncompatibleSchemaError as exc:
        click.echo(str(exc), err=True)
        raise click.exceptions.Exit(1) from exc
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from exc
    rows = [("subject", "schema", "version", "id", "status")]
    for r in done:
        status = "registered" if r.changed else "unchanged"
        rows.append((r.subject, r.stem, str(r.version), str(r.schema_id), status))
    _table(rows)


@schemas_group.command()
@DATA_DIR_OPTION
@registry_url_option
@click.pass_context
def check(ctx: click.Context, data_dir: Path | None, registry_url: str | None) -> None:
    """Check every .avsc against the registry without writing anything."""
    rest = RegistryRest(_endpoints(ctx, data_dir, registry_url))
    try:
        results = check_with(rest)
        rows = [("subject", "schema", "latest", "compatibility", "result")]
        for r in results:
            level = rest.compatibility(r.subject) or "(global)"
            latest = "-" if r.latest is None else f"v{r.latest.version} id {r.latest.schema_id}"
            if r.latest is None:
                result = "new subject"
            elif not r.compatible:
                result = "INCOMPATIBLE"
            elif rest.lookup(r.subject, catalog.schema_text(r.stem)) is not None:
                result = "unchanged"
            else:
                result = "compatible change"
            rows.append((r.subject, r.stem, latest, level, result))
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        rest.close()
    _table(rows)
    report = incompatibility_report(results)
    if report:
        click.echo(report, err=True)
        raise click.exceptions.Exit(1)
