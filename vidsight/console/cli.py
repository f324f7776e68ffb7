"""``vidsight console``: serve the operator console (uvicorn), until stopped."""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from vidsight import settings as cfg
from vidsight.commands import config_file
from vidsight.options import DATA_DIR_OPTION
from vidsight.settings import is_loopback


@click.group(name="console", invoke_without_command=True)
@DATA_DIR_OPTION
@click.option("--host", default=None, help="address to bind (setting host; default 127.0.0.1)")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="port (default 8088)")
@click.pass_context
def console_command(
    ctx: click.Context, data_dir: Path | None, host: str | None, port: int | None
) -> None:
    """Serve the operator web console (alerts, verdicts, sensors).

    Every page needs a login; the local account is `operator`, its password in
    DATA_DIR/secrets/console_password.
    """
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from vidsight.console.app import create_app
    from vidsight.console.settings import ConsoleSettings

    settings = cfg.load(
        ConsoleSettings, config_file=config_file(ctx), data_dir=data_dir, host=host, port=port
    )
    if not is_loopback(settings.host):
        click.echo(f"note: {settings.host} is not loopback; every page still needs a login",
                   err=True)  # fmt: skip
    click.echo(f"console on http://{settings.host}:{settings.port}", err=True)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        timeout_graceful_shutdown=2,
        server_header=False,
        proxy_headers=False,
    )


@console_command.command("hash-password")
def hash_password_command() -> None:
    """Read a password (twice, not echoed) and print its hash for the `users` setting."""
    from vidsight.console.auth import hash_password

    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise click.ClickException("the two passwords differ")
    if len(first) < 12:
        raise click.ClickException("use at least 12 characters")
    click.echo(hash_password(first))
