"""The ``lodestar`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Lodestar: one feedback board for everything said in chat, and the North Star "
    "Metric in the channel every day.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
export_app = typer.Typer(help="Export data.", no_args_is_help=True)
admins_app = typer.Typer(help="The configured board admins of a workspace.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(export_app, name="export")
app.add_typer(admins_app, name="admins")
serve_app = typer.Typer(help="Serve a chat platform.", no_args_is_help=True)
app.add_typer(serve_app, name="serve")

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: $DATABASE_URL, else sqlite:///lodestar.db)."),
]


def _open(db: str | None):  # type: ignore[no-untyped-def]
    from bot.app import Lodestar, SchemaOutOfDate

    try:
        return Lodestar.open(db)
    except SchemaOutOfDate as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from error


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Create or upgrade the schema to the latest revision."""
    from storage.db import database_url, make_engine
    from storage.migrate import upgrade

    url = database_url(db)
    upgrade(make_engine(url))
    typer.echo(f"Schema is up to date ({url.split('@')[-1]}).")


@app.command()
def console(
    command: Annotated[
        str | None, typer.Option("-c", "--command", help="Run one line and exit.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per reply, one per line.")
    ] = False,
    user: Annotated[str, typer.Option("--as", help="Who is typing.")] = "you",
    admin: Annotated[bool, typer.Option("--admin", help="Type as a board admin.")] = False,
    workspace: Annotated[str, typer.Option(help="The console workspace.")] = "console",
    db: DbOption = None,
) -> None:
    """The whole bot in a terminal.

    On a TTY it prompts; otherwise each line of standard input is a chat message
    from the current user in the current channel: lines starting with / are slash
    commands, others plain messages, and lines starting with : are directives —
    :as NAME [admin], :workspace NAME, :channel NAME, :react EMOJI #N|^,
    :unreact EMOJI #N|^, :run-jobs [ISO-TIME], :# comment.
    """
    from adapters.console import ConsoleSession

    session = ConsoleSession(
        _open(db),
        typer.echo,
        as_json=as_json,
        user=user,
        admin=admin,
        workspace=workspace,
        ask=input if sys.stdin.isatty() and command is None else None,
    )
    if command is not None:
        session.feed(command)
        return
    if sys.stdin.isatty():
        typer.echo("Lodestar console — /feedback help for commands, Ctrl-D to leave.")
        while True:
            try:
                line = input(f"{session.user}@#{session.channel}> ")
            except EOFError:
                typer.echo()
                return
            session.feed(line)
    try:
        session.run(sys.stdin)
    except (OSError, UnicodeDecodeError) as error:
        typer.echo(f"Could not read standard input: {error}", err=True)
        raise typer.Exit(1) from error


@app.command()
def demo(
    db: DbOption = None,
    out: Annotated[Path, typer.Option(help="Where to write the demo's files.")] = Path(
        "lodestar-demo-out"
    ),
) -> None:
    """Seed a believable company on a fresh database and play a scripted session."""
    from adapters.console.demo import run_demo

    run_demo(db, out, typer.echo)


@export_app.command("feedback")
def export_feedback(
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
    workspace: Annotated[
        str, typer.Option(help="The board of this workspace (name or id).")
    ] = "console",
    db: DbOption = None,
) -> None:
    """The board of a workspace as CSV or JSON."""
    from bot.export import to_csv, to_json

    if fmt not in ("csv", "json"):
        typer.echo("--format must be csv or json.", err=True)
        raise typer.Exit(2)
    lodestar = _open(db)
    with lodestar.db.uow() as uow:
        found = uow.workspaces.by_name(workspace)
    if found is None:
        typer.echo(f"No workspace named {workspace!r}.", err=True)
        raise typer.Exit(2)
    views = lodestar.feedback.board_items_of(found.id)
    text = to_csv(views) if fmt == "csv" else to_json(views)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"Wrote {len(views)} items to {out}.", err=True)


@admins_app.command("add")
def admins_add(
    users: Annotated[list[str], typer.Argument(help="User ids or names.")],
    workspace: Annotated[str, typer.Option(help="Workspace name or id.")] = "console",
    platform: Annotated[str, typer.Option(help="console, slack or discord.")] = "console",
    db: DbOption = None,
) -> None:
    """Make people board admins of a workspace."""
    _edit_admins(db, platform, workspace, add=users)


@admins_app.command("remove")
def admins_remove(
    users: Annotated[list[str], typer.Argument(help="User ids or names.")],
    workspace: Annotated[str, typer.Option(help="Workspace name or id.")] = "console",
    platform: Annotated[str, typer.Option(help="console, slack or discord.")] = "console",
    db: DbOption = None,
) -> None:
    """Remove people from a workspace's board admins."""
    _edit_admins(db, platform, workspace, remove=users)


def _edit_admins(
    db: str | None, platform: str, workspace: str, add: list[str] = (), remove: list[str] = ()
) -> None:
    lodestar = _open(db)
    admins = lodestar.feedback.configure_admins(platform, workspace, add, remove)
    typer.echo(f"Admins of {workspace}: {', '.join(admins) or 'none'}.")


@serve_app.command("slack")
def serve_slack(
    port: Annotated[int | None, typer.Option(help="HTTP port (default: $PORT, else 3000).")] = None,
    socket_mode: Annotated[
        bool, typer.Option("--socket-mode", help="Use Socket Mode with SLACK_APP_TOKEN.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Serve Slack: events, slash commands, shortcuts and interactivity at /slack/events."""
    from adapters.slack.server import serve

    serve(port=port, socket_mode=socket_mode, db=db)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
