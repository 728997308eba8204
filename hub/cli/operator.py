"""Operators' commands: `deliveries list`, `deliveries retry` (by id or by filter), `replay`.

Each works two ways. With `--hub` (or LIENTHONG_HUB_URL) it talks to that hub's API with an
operator's token (`--token`/LIENTHONG_TOKEN, or `--as operator` in development), as the console
does. Without a hub, or with `--data-dir`, it opens the ledger of the local settings directly: for
an operator on the hub's own machine, or a hub that is not running.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hub.cli.common import (
    AsParticipant,
    DataDir,
    HubClient,
    HubRefused,
    OptionalHubUrl,
    Token,
    authorization,
    err,
    existing_ledger_settings,
    hub_session,
    out,
    path_segment,
    plural,
    problem_exit,
    progress_bar,
)
from hub.delivery import retry_matching
from hub.problems import Problem

if TYPE_CHECKING:
    from hub.context import HubContext
    from hub.settings import Settings

app = typer.Typer()
deliveries_app = typer.Typer(no_args_is_help=True, help="Deliveries (operators): list, retry.")
app.add_typer(deliveries_app, name="deliveries")

RETRYABLE_STATES = ("dead", "retrying")


@dataclass(frozen=True)
class Where:
    """Where an operator command acts: a remote hub's API, or the local ledger."""

    hub_url: str | None
    authorization: str | None
    data_dir: Path | None

    @property
    def remote(self) -> bool:
        return self.hub_url is not None


def where(hub_url: str | None, token: str | None, as_participant: str | None, data_dir: Path | None) -> Where:
    """`--data-dir` means the local ledger; else `--hub`/LIENTHONG_HUB_URL means that hub's API; else
    the local ledger of the settings. A token set in the environment is not needed locally and is
    ignored; one given on the command line without a hub is a mistake worth saying."""
    if data_dir is not None:
        return Where(None, None, data_dir)
    if hub_url:
        return Where(hub_url, authorization(token, as_participant), None)
    if as_participant or (token and token != os.environ.get("LIENTHONG_TOKEN")):
        raise typer.BadParameter(
            "a token goes with --hub (or LIENTHONG_HUB_URL): which hub?", param_hint="--hub"
        )
    return Where(None, None, None)


@contextmanager
def hub_client(place: Where) -> Iterator[HubClient]:
    assert place.hub_url is not None and place.authorization is not None
    with hub_session(place.hub_url, place.authorization) as client:
        yield client


def local_hub(place: Where) -> HubContext:
    """The hub of the local settings; "no ledger at …" where there is none (never a new one)."""
    from hub.context import HubContext

    return HubContext(existing_ledger_settings(place.data_dir))


def announce_deliveries(settings: Settings, deliveries: Sequence[Any]) -> None:
    """Embedded workers find queued deliveries in the ledger; RabbitMQ workers need tickets."""
    from hub.queue import QueueUnavailable, Ticket
    from hub.runtime import make_queue

    queue = make_queue(settings)
    if queue is None:
        return
    tickets = [
        Ticket(d.id, d.message_id, d.adapter or "") for d in deliveries if d.adapter not in (None, "inbox")
    ]
    try:
        queue.publish(tickets)
    except QueueUnavailable:
        err.print("queue unavailable: the sweeper will publish the deliveries")
    finally:
        queue.close()


# -- deliveries ------------------------------------------------------------------------------------


State = Annotated[str | None, typer.Option(help="queued, delivering, delivered, retrying or dead.")]
Recipient = Annotated[str | None, typer.Option(help="Only deliveries to this participant.")]
Adapter = Annotated[str | None, typer.Option(help="Only deliveries through this adapter.")]


@deliveries_app.command("list")
def deliveries_list(
    state: State = None,
    recipient: Recipient = None,
    adapter: Adapter = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    hub_url: OptionalHubUrl = None,
    token: Token = None,
    as_participant: AsParticipant = None,
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Deliveries, most recently changed first (`--state dead` for the dead ones).

    `attempts` counts the current round: an operator retry starts a fresh one (`lienthong status`
    shows every attempt)."""
    place = where(hub_url, token, as_participant, data_dir)
    filters = {"state": state, "recipient": recipient, "adapter": adapter}
    if place.remote:
        with hub_client(place) as client:
            params = {k: v for k, v in filters.items() if v is not None}
            views = client.json("GET", "/v1/deliveries", params={**params, "limit": limit})["items"]
    else:
        from hub.api.views import delivery_view

        views = [delivery_view(d) for d in local_hub(place).ledger.list_deliveries(**filters, limit=limit)]
    if as_json:
        out.print_json(json.dumps(views, ensure_ascii=False))
        return
    for d in views:
        out.print(
            f"{d['id']}  {d['state']:<10} {d['recipient']:<16} {d['adapter'] or '-':<10}"
            f" attempts={d['attempts']}  {d['last_error'] or ''}",
            highlight=False,
        )


@deliveries_app.command("retry")
def deliveries_retry(
    delivery_ids: Annotated[
        list[str] | None, typer.Argument(help="Deliveries to retry; or none, with a filter.")
    ] = None,
    state: Annotated[str | None, typer.Option(help="Filter: dead (the default) or retrying.")] = None,
    recipient: Recipient = None,
    adapter: Adapter = None,
    limit: Annotated[int, typer.Option(help="With a filter: at most this many, most recent first.")] = 100,
    hub_url: OptionalHubUrl = None,
    token: Token = None,
    as_participant: AsParticipant = None,
    data_dir: DataDir = None,
) -> None:
    """Send dead (or retrying) deliveries again now, each with a fresh attempt budget.

    The ones named, or every one matching the filter (`--state dead --adapter agency --recipient ID`,
    as `POST /v1/deliveries/retry` takes it): their ids are printed."""
    filters = {"state": state, "adapter": adapter, "recipient": recipient}
    chosen = {k: v for k, v in filters.items() if v is not None}
    if delivery_ids and chosen:
        raise typer.BadParameter("name deliveries or give a filter, not both", param_hint="DELIVERY_IDS")
    if not delivery_ids and not chosen:
        raise typer.BadParameter(
            "name the deliveries to retry, or filter them (e.g. --state dead)", param_hint="DELIVERY_IDS"
        )
    if state is not None and state not in RETRYABLE_STATES:
        raise typer.BadParameter("only dead or retrying deliveries are retried", param_hint="--state")
    place = where(hub_url, token, as_participant, data_dir)
    if delivery_ids:
        retry_each(place, delivery_ids)
    elif place.remote:
        with hub_client(place) as client:
            answer = client.json("POST", "/v1/deliveries/retry", json={**chosen, "limit": limit})
        for view in answer["retried"]:
            out.print(view["id"], highlight=False)
        err.print(f"{plural(int(answer['count']), 'delivery', 'deliveries')} queued again")
    else:
        hub = local_hub(place)
        try:
            retried = retry_matching(hub.ledger, **chosen, limit=limit, by="cli")
        except Problem as problem:
            raise problem_exit(problem) from None
        announce_deliveries(hub.settings, retried)  # one queue connection for all of them
        for delivery in retried:
            out.print(delivery.id, highlight=False)
        err.print(f"{plural(len(retried), 'delivery', 'deliveries')} queued again")


def retry_each(place: Where, delivery_ids: list[str]) -> None:
    if place.remote:
        with hub_client(place) as client:
            for delivery_id in delivery_ids:
                view = client.json("POST", f"/v1/deliveries/{path_segment(delivery_id)}/retry")
                out.print(f"{view['id']} queued again for {view['recipient']}", highlight=False)
        return
    hub = local_hub(place)
    requeued = []
    try:
        for delivery_id in delivery_ids:
            try:
                delivery = hub.ledger.requeue(delivery_id, by="cli")
            except Problem as problem:
                raise problem_exit(problem) from None
            requeued.append(delivery)
            out.print(f"{delivery.id} queued again for {delivery.recipient}", highlight=False)
    finally:  # those requeued before a refusal are announced too
        announce_deliveries(hub.settings, requeued)


# -- replay ----------------------------------------------------------------------------------------


@app.command()
def replay(
    message_ids: Annotated[list[str], typer.Argument(help="Ids of the messages to replay.")],
    hub_url: OptionalHubUrl = None,
    token: Token = None,
    as_participant: AsParticipant = None,
    data_dir: DataDir = None,
) -> None:
    """Run recorded messages through the path again, each as a new, linked message.

    Prints the new id; many show a progress bar and print `new  original` lines."""
    place = where(hub_url, token, as_participant, data_dir)
    with replayer(place) as replay_one:
        if len(message_ids) == 1:
            try:
                out.print(replay_one(message_ids[0]), highlight=False)
            except HubRefused as why:
                raise why.exit() from None
            return
        refused = 0
        with progress_bar() as progress:
            task = progress.add_task("replaying", total=len(message_ids))
            for message_id in message_ids:
                try:
                    out.print(f"{replay_one(message_id)}  {message_id}", highlight=False)
                except HubRefused as why:
                    refused += 1
                    err.print(f"[red]refused:[/red] {message_id}: {why}", highlight=False)
                progress.advance(task)
    err.print(f"{len(message_ids) - refused} replayed, {refused} refused")
    if refused:
        raise typer.Exit(1)


@contextmanager
def replayer(place: Where) -> Iterator[Callable[[str], str]]:
    """A function replaying one message and returning the new message's id; HubRefused (`slug:
    detail`) when the hub or the ledger refuses, in both modes alike."""
    if place.remote:
        assert place.hub_url is not None and place.authorization is not None
        with HubClient(place.hub_url, place.authorization) as client:
            yield lambda message_id: str(
                client.json("POST", f"/v1/messages/{path_segment(message_id)}/replay")["id"]
            )
        return
    from hub.intake import Intake

    hub = local_hub(place)
    intake = Intake(hub)

    def in_ledger(message_id: str) -> str:
        try:
            result = intake.replay(message_id, by="cli")
        except Problem as problem:
            raise HubRefused(f"{problem.slug}: {problem.detail}", problem.errors) from None
        announce_deliveries(hub.settings, result.message.deliveries)
        return result.message.id

    yield in_ledger
