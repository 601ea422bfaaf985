"""The ``lodestar`` command line."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
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
discord_app = typer.Typer(help="Setting up Discord.", no_args_is_help=True)
app.add_typer(discord_app, name="discord")
nsm_app = typer.Typer(help="The North Star Metric.", no_args_is_help=True)
metrics_app = typer.Typer(help="Metric values.", no_args_is_help=True)
events_app = typer.Typer(help="Raw product events.", no_args_is_help=True)
alerts_app = typer.Typer(help="Alert rules.", no_args_is_help=True)
app.add_typer(nsm_app, name="nsm")
app.add_typer(metrics_app, name="metrics")
app.add_typer(events_app, name="events")
app.add_typer(alerts_app, name="alerts")

WORKSPACE_HELP = "An existing workspace: platform:id, id or name (default: the only one there is)."
DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: $DATABASE_URL, else sqlite:///lodestar.db)."),
]


@app.callback()
def _options(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="The metric tree (default: $LODESTAR_CONFIG, else ./lodestar.toml if present).",
        ),
    ] = None,
) -> None:
    if config is not None:
        os.environ["LODESTAR_CONFIG"] = str(config)


def _open(db: str | None, *, existing: bool = False):  # type: ignore[no-untyped-def]
    """The core on the database; one line and exit 2 when it cannot be opened. With
    ``existing``, an SQLite file must already be there: an operator's typo in a path
    must not quietly start a new, empty database."""
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from bot.app import Lodestar, SchemaOutOfDate, find_config
    from bot.nsm.config import ConfigError
    from storage.db import database_url

    url = database_url(db)
    if existing and url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise _fail(
                f"There is no database at {path} (a typo in --db or DATABASE_URL?); "
                "`lodestar db upgrade` creates one."
            )
    try:
        return Lodestar.open(db, config=find_config())
    except (SchemaOutOfDate, ConfigError, FileNotFoundError) as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from error
    except (ArgumentError, SQLAlchemyError, ModuleNotFoundError, OSError, ValueError) as error:
        where = url.split("@")[-1]
        reason = str(getattr(error, "orig", None) or error).splitlines()[0][:200]
        raise _fail(f"Could not open the database {where}: {reason}") from error


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(2)


@contextlib.contextmanager
def _importing(file: Path) -> Iterator[None]:
    """An unreadable file or a bad row ends the import with one line on stderr."""
    from bot.errors import UserError

    try:
        yield
    except (OSError, UnicodeDecodeError) as error:
        raise _fail(f"Could not read {file}: {error}") from error
    except UserError as error:
        raise _fail(error.message) from error


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
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="An empty database to play it on (default: a temporary SQLite file)."
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the demo's files.")] = Path(
        "lodestar-demo-out"
    ),
) -> None:
    """Seed a believable company on a fresh database and play a scripted session."""
    from adapters.console.demo import DemoRefused, run_demo

    if out.exists() and not out.is_dir():
        raise _fail(f"--out {out} is a file: the demo writes a folder of files there.")
    try:
        run_demo(db, out, typer.echo)
    except DemoRefused as error:
        raise _fail(str(error)) from error


@export_app.command("feedback")
def export_feedback(
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    out: Annotated[
        Path | None,
        typer.Option(help="Write to this file, or feedback.csv/.json in this directory."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a file already there.")] = False,
    workspace: Annotated[str | None, typer.Option(help=WORKSPACE_HELP)] = None,
    db: DbOption = None,
) -> None:
    """The board of a workspace as CSV or JSON."""
    from bot.export import to_csv, to_json

    if fmt not in ("csv", "json"):
        typer.echo("--format must be csv or json.", err=True)
        raise typer.Exit(2)
    target = None
    if out is not None:
        target = _writable(out / f"feedback.{fmt}" if out.is_dir() else out, force)
    lodestar = _open(db, existing=True)
    caller = _resolve_workspace(lodestar, workspace)
    if caller is None:
        raise _fail("There are no workspaces yet, so no board to export.")
    views = lodestar.board.items_of_workspace(
        _workspace(lodestar, f"{caller.platform}:{caller.workspace}").id
    )
    text = to_csv(views) if fmt == "csv" else to_json(views)
    if target is None:
        sys.stdout.write(text)
        return
    _write(target, text.encode("utf-8"))
    typer.echo(f"Wrote {len(views)} items to {target}.", err=True)


def _writable(path: Path, force: bool) -> Path:
    """``path``, unless a file is there already and --force was not given."""
    if path.is_dir():
        raise _fail(f"{path} is a directory: give a file name.")
    if path.exists() and not force:
        raise _fail(f"{path} already exists: pass --force to replace it, or choose another --out.")
    return path


def _write(path: Path, content: bytes) -> None:
    try:
        path.write_bytes(content)
    except OSError as error:
        raise _fail(f"Could not write {path}: {error.strerror or error}.") from error


@admins_app.command("add")
def admins_add(
    users: Annotated[list[str], typer.Argument(help="User ids or names.")],
    workspace: Annotated[str, typer.Option(help="platform:id, id or name.")] = "console",
    platform: Annotated[
        str | None, typer.Option(help="console, slack or discord, if the name is not enough.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Make people board admins of a workspace."""
    _edit_admins(db, platform, workspace, add=users)


@admins_app.command("remove")
def admins_remove(
    users: Annotated[list[str], typer.Argument(help="User ids or names.")],
    workspace: Annotated[str, typer.Option(help="platform:id, id or name.")] = "console",
    platform: Annotated[
        str | None, typer.Option(help="console, slack or discord, if the name is not enough.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Remove people from a workspace's board admins."""
    _edit_admins(db, platform, workspace, remove=users)


def _edit_admins(
    db: str | None,
    platform: str | None,
    workspace: str,
    add: list[str] = (),
    remove: list[str] = (),
) -> None:
    from bot.errors import UserError
    from bot.tenants import describe

    lodestar = _open(db, existing=True)
    found = _workspace(lodestar, workspace, platform)
    try:
        admins = lodestar.settings.configure_admins(found.id, add, remove)
    except UserError as error:
        raise _fail(error.message) from error
    typer.echo(f"Admins of {describe(found)}: {', '.join(admins) or 'none'}.")


def _workspace(lodestar, text: str, platform: str | None = None):  # type: ignore[no-untyped-def]
    """The one existing workspace ``text`` names, or exit 2 with the candidates."""
    from bot.errors import UserError
    from bot.tenants import find_workspace

    with lodestar.db.uow() as uow:
        try:
            return find_workspace(uow, text, platform)
        except UserError as error:
            raise _fail(error.message) from error


def _resolve_workspace(lodestar, text: str | None):  # type: ignore[no-untyped-def]
    """The Caller an operator command acts as, in an existing workspace, never a new
    one: the one ``text`` names (``bot.tenants``), else the only workspace there is
    (None while there is none; with several, exit 2 asking which)."""
    from sqlalchemy import select

    from bot.context import Caller
    from bot.tenants import describe
    from storage.models import Workspace

    if text is not None:
        found = _workspace(lodestar, text)
    else:
        with lodestar.db.uow() as uow:
            every = list(uow.session.scalars(select(Workspace).order_by(Workspace.id).limit(11)))
        if not every:
            return None
        if len(every) > 1:
            listed = ", ".join(describe(w) for w in every[:10]) + (" …" if len(every) > 10 else "")
            raise _fail(f"Pass --workspace: there are several ({listed}).")
        found = every[0]
    return Caller(
        found.platform,
        found.external_id,
        "cli",
        "cli",
        is_platform_admin=True,
        workspace_name=found.name,
    )


@nsm_app.command("why")
def nsm_why(
    week: Annotated[str | None, typer.Option(help="ISO week, e.g. 2026-W41.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
    workspace: Annotated[str | None, typer.Option(help=WORKSPACE_HELP)] = None,
    db: DbOption = None,
) -> None:
    """Why the north star moved that week (default: the latest complete week)."""
    import json

    from bot.errors import UserError
    from bot.nsm.numbers import json_ready
    from bot.nsm.presenter import why

    lodestar = _open(db, existing=True)
    try:
        result = lodestar.nsm.why(week, _resolve_workspace(lodestar, workspace))
    except UserError as error:
        raise _fail(error.message) from error
    if as_json:
        typer.echo(json.dumps(json_ready(result.to_json()), indent=2, allow_nan=False))
    else:
        typer.echo(why(result).text)


@nsm_app.command("tree")
def nsm_tree(db: DbOption = None) -> None:
    """The metric tree."""
    from bot.errors import UserError

    try:
        typer.echo(_open(db).nsm.tree.describe())
    except UserError as error:
        raise _fail(error.message) from error


@metrics_app.command("import")
def metrics_import(
    file: Annotated[Path, typer.Argument(help="CSV with columns metric,period,value.")],
    db: DbOption = None,
) -> None:
    """Import metric values; a bad row is reported by line and nothing is written."""
    from bot.nsm.ingest import read_snapshots

    lodestar = _open(db)
    with _importing(file):
        text = file.read_text(encoding="utf-8-sig")  # spreadsheets write a BOM
        rows = read_snapshots(
            text, lodestar.nsm.metric_keys, source=file.name, now=lodestar.clock.now()
        )
        count = lodestar.nsm.import_snapshots(rows, "csv", f"csv:{file.name}")
    lodestar.watch()
    typer.echo(f"Imported {count} value{'' if count == 1 else 's'} from {file.name}.")


@events_app.command("import")
def events_import(
    file: Annotated[
        Path, typer.Argument(help="CSV (actor,event,timestamp[,properties]) or JSON lines.")
    ],
    db: DbOption = None,
) -> None:
    """Import raw events; a bad row is reported by line and nothing is written."""
    lodestar = _open(db)
    with _importing(file):
        done = lodestar.nsm.import_event_file(file)
    lodestar.watch()
    typer.echo(f"Imported {done.added} events from {file.name} ({done.known} already known).")


@alerts_app.command("backtest")
def alerts_backtest(
    metric: Annotated[str | None, typer.Option(help="Replay this metric's stored history.")] = None,
    csv: Annotated[Path | None, typer.Option(help="Replay timestamp,value rows.")] = None,
    rule: Annotated[str | None, typer.Option(help="Only this rule (name or kind).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
    db: DbOption = None,
) -> None:
    """The episodes the alert rules would have opened on a history.

    With --metric, the rules that watch that metric (the configured [[alerts]], or
    the defaults for the tree) replay its stored history."""
    from bot.alerts.backtest import main as backtest_main

    if (metric is None) == (csv is None):
        raise _fail("Give exactly one of --metric KEY or --csv FILE.")
    if csv is not None:
        extra = (["--rule", rule] if rule else []) + (["--json"] if as_json else [])
        raise typer.Exit(backtest_main(["--csv", str(csv), *extra]))
    _backtest_stored(_open(db), metric or "", rule, as_json)


def _backtest_stored(lodestar, metric: str, rule: str | None, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    import json

    from bot.alerts.backtest import backtest, format_table
    from bot.alerts.rules import CounterGuardRule
    from bot.errors import UserError
    from bot.nsm.numbers import json_ready
    from bot.nsm.watch import rules_for
    from bot.text import quote

    nsm = lodestar.nsm
    try:
        nsm.metric(metric)
    except UserError as error:
        raise _fail(error.message) from error
    every = rules_for(nsm)
    rules = [r for r in every if r.metric == metric]
    if rule is not None:
        rules = [r for r in rules if rule in (r.name, r.kind)]
        if not rules:
            names = ", ".join(r.name for r in every if r.metric == metric) or "none"
            raise _fail(f"No rule “{quote(rule, 40)}” watches {metric} (rules on it: {names}).")
    series = nsm.series(metric)
    if rules and not series:
        raise _fail(f"There is no stored history for {metric}.")
    extra = {}
    for guard in [r for r in rules if isinstance(r, CounterGuardRule)]:
        extra[guard.counter] = nsm.series(guard.counter)
        if not extra[guard.counter]:
            typer.echo(f"Skipped {guard.name}: {guard.counter} has no stored history.", err=True)
            rules.remove(guard)
    if not rules:
        watched = ", ".join(sorted({r.metric for r in every})) or "nothing"
        note = f"No alert rule watches {metric} (rules watch: {watched})."
        typer.echo(json.dumps({"episodes": []}) if as_json else note)
        if as_json:
            typer.echo(note, err=True)
        return
    episodes = backtest(series, rules, extra=extra)
    if as_json:
        data = {"episodes": [e.to_dict() for e in episodes]}
        typer.echo(json.dumps(json_ready(data), indent=1, allow_nan=False))
    else:
        typer.echo(f"Rules on {metric}: {', '.join(r.name for r in rules)}.")
        typer.echo(format_table(episodes))


@app.command()
def digest(
    date: Annotated[
        str | None,
        typer.Option(
            help="A date (the digest of the 24 hours to 09:00 UTC that day) or an ISO time "
            "such as 2026-11-25T17:30+01:00, kept as given (default: now)."
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="The directory for digest.txt and north-star.png.")
    ] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Replace files already there.")] = False,
    workspace: Annotated[str | None, typer.Option(help=WORKSPACE_HELP)] = None,
    db: DbOption = None,
) -> None:
    """Produce the daily digest: text and chart."""
    from bot.errors import UserError
    from bot.nsm.periods import PeriodError, check_moment, parse_moment
    from bot.nsm.reports import digest as build_digest

    if out.exists() and not out.is_dir():
        raise _fail(f"{out} is a file: --out takes a directory for digest.txt and north-star.png.")
    for name in ("digest.txt", "north-star.png"):
        _writable(out / name, force)
    lodestar = _open(db, existing=True)
    now = lodestar.clock.now()
    try:
        at = check_moment(parse_moment(date, day_hour=9), now) if date else now
    except PeriodError as error:
        raise _fail(str(error)) from error
    caller = _resolve_workspace(lodestar, workspace)
    try:
        reply = build_digest(lodestar.nsm, lodestar.nsm_commands.watcher, caller, at)
    except UserError as error:
        raise _fail(error.message) from error
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _fail(f"Could not create {out}: {error.strerror or error}.") from error
    _write(out / "digest.txt", (reply.text + "\n").encode("utf-8"))
    for attachment in reply.attachments:
        _write(out / attachment.filename, attachment.content)
    typer.echo(reply.text)
    typer.echo(
        f"\nWrote {out / 'digest.txt'}"
        + "".join(f" and {out / a.filename}" for a in reply.attachments)
    )


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


@app.command()
def scheduler(
    tick: Annotated[float, typer.Option(help="Seconds between two looks at the clock.")] = 30.0,
    clock_start: Annotated[
        str | None,
        typer.Option(help="For tests: start the clock at this ISO time …", hidden=True),
    ] = None,
    clock_speed: Annotated[
        float, typer.Option(help="… and run it this many times faster.", hidden=True)
    ] = 1.0,
    until: Annotated[
        str | None, typer.Option(help="For tests: stop once the clock passes this.", hidden=True)
    ] = None,
    db: DbOption = None,
) -> None:
    """Post what is due: each workspace's daily digest and weekly chart, alerts, and
    the outbox's notices (the Procfile's clock process; safe to run twice)."""
    import asyncio
    import logging

    from adapters.scheduler import StartupError, run_scheduler, simulated_clock, until_of

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not 0.05 <= tick <= 3600:  # also refuses nan
        raise _fail("--tick is seconds between two looks at the clock: from 0.05 to 3600.")
    try:
        clock, stop_at = simulated_clock(clock_start, clock_speed), until_of(until)
    except ValueError as error:
        raise _fail(f"--clock-start and --until take ISO times: {error}.") from error
    lodestar = _open(db, existing=True)
    try:
        asyncio.run(run_scheduler(lodestar, tick=tick, clock=clock, until=stop_at))
    except StartupError as error:
        raise _fail(str(error)) from error
    except KeyboardInterrupt:
        pass


@app.command()
def run(
    port: Annotated[int | None, typer.Option(help="Slack's HTTP port (default: $PORT).")] = None,
    db: DbOption = None,
) -> None:
    """One process for a small team: Slack and Discord (those whose tokens are set)
    and the scheduler, on SQLite by default."""
    from adapters.run import run_all

    run_all(port=port, db=db)


@serve_app.command("discord")
def serve_discord(db: DbOption = None) -> None:
    """Serve Discord over the gateway with DISCORD_TOKEN: /feedback, /nsm, 💡, 👍, buttons."""
    from adapters.discord.serve import serve

    serve(db=db)


@discord_app.command("invite-url")
def discord_invite_url(
    application_id: Annotated[
        int | None,
        typer.Option(
            help="The application's id (default: $DISCORD_APPLICATION_ID, else "
            "read from $DISCORD_TOKEN)."
        ),
    ] = None,
    guild: Annotated[int | None, typer.Option(help="Preselect this server.")] = None,
) -> None:
    """The link that adds Lodestar to a server, with the scopes and permissions it needs."""
    from adapters.discord.invite import application_id_of, invite_url

    found = application_id or _env_int("DISCORD_APPLICATION_ID")
    if found is None and os.environ.get("DISCORD_TOKEN"):
        found = application_id_of(os.environ["DISCORD_TOKEN"])
    if found is None:
        raise _fail(
            "Give --application-id (the Developer Portal › your application › General "
            "Information › Application ID), or set DISCORD_TOKEN."
        )
    typer.echo(invite_url(found, guild))


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdecimal() else None


def main() -> None:
    app()


if __name__ == "__main__":
    main()
