"""Read delivery timings back from the ledger the hub under test wrote (SQLite file or PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from hub.ledger.models import deliveries, messages


@dataclass(frozen=True)
class Delivered:
    accepted_at: datetime  # the message recorded (the 202)
    delivered_at: datetime  # its delivery recorded delivered

    @property
    def seconds(self) -> float:
        return (self.delivered_at - self.accepted_at).total_seconds()


class LedgerView:
    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url)

    def count(self, state: str, adapter: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(deliveries).where(deliveries.c.state == state)
        if adapter:
            query = query.where(deliveries.c.adapter == adapter)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def delivered(self, adapter: str, since: datetime | None = None) -> list[Delivered]:
        query = (
            sa.select(messages.c.accepted_at, deliveries.c.updated_at)
            .select_from(deliveries.join(messages, messages.c.id == deliveries.c.message_id))
            .where(deliveries.c.state == "delivered", deliveries.c.adapter == adapter)
        )
        if since is not None:
            query = query.where(messages.c.accepted_at >= since)
        with self.engine.connect() as conn:
            return [Delivered(row[0], row[1]) for row in conn.execute(query)]

    def close(self) -> None:
        self.engine.dispose()
