"""A hand-written FastAPI service doing only the minimum the hub does for a signed edXML document.

It is the yardstick of issue 14: bearer token checked, body parsed with a hardened lxml parser,
validated against the strict edXML schema, its enveloped XMLDSig verified with the sender's
certificate, the body inserted into SQLite (WAL, ``synchronous=FULL``: durable before the answer),
then ``202``. No routing, no deduplication, no evidence, no receipts, no log line. `make bench` drives
it with the same load generator and documents as the hub, in the same run, so
``hub rate ÷ this rate`` says what the hub's bookkeeping costs on this machine at that moment.

It deliberately imports nothing from ``hub``: written from the libraries' documentation, the way an
integrator would write the minimum by hand. ``--verify`` picks the XMLDSig library: ``xmlsec``
(libxmlsec1, what the hub's hot path uses) or ``signxml`` (what the issue's own comparison used);
``none`` answers only: token checked, body read, ``202`` — no parse, schema, signature or insert, so
its CPU per request is what one HTTP exchange costs on this stack (FastAPI on uvicorn with httptools
and uvloop, a thread-pool hand-off), the floor under any service that answers HTTP here.

    python -m bench.baseline_service --port 8099 --db /tmp/baseline.sqlite3 [--verify signxml]
"""

from __future__ import annotations

import argparse
import hmac
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request, Response
from lxml import etree
from starlette.concurrency import run_in_threadpool

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schemas" / "edxml" / "document-strict.xsd"
CERTS = ROOT / "certs" / "dev"
DSIG = "http://www.w3.org/2000/09/xmldsig#"
# The bench's sender and its development token (public: certs/dev/README.md).
SENDERS = {"dev-token-000.01.02.H41": "000.01.02.H41"}

Verify = Callable[[etree._Element, str], None]  # raises Refused


class Refused(Exception):
    def __init__(self, status: int, title: str) -> None:
        super().__init__(title)
        self.status, self.title = status, title


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


class Minimal:
    """Token, parse, validate, verify, insert."""

    def __init__(self, db: Path, verify: str) -> None:
        self.schema = etree.XMLSchema(etree.parse(str(SCHEMA), _parser()))
        self.schema_lock = threading.Lock()  # lxml keeps the error log on the schema object
        self.certificates = {s: (CERTS / f"{s}.crt").read_bytes() for s in SENDERS.values()}
        self.answer_only = verify == "none"
        self.verify = self._xmlsec() if verify == "xmlsec" else self._signxml()
        self.db = db
        self.local = threading.local()
        with self._connection() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS messages"
                " (id INTEGER PRIMARY KEY, sender TEXT NOT NULL, received REAL NOT NULL, body BLOB NOT NULL)"
            )

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self.local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.db, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self.local.conn = conn
        return conn

    def _xmlsec(self) -> Verify:
        import xmlsec

        keys = {
            sender: xmlsec.Key.from_memory(pem, xmlsec.constants.KeyDataFormatCertPem)
            for sender, pem in self.certificates.items()
        }

        def verify(root: etree._Element, sender: str) -> None:
            node = xmlsec.tree.find_node(root, xmlsec.constants.NodeSignature)
            if node is None:
                raise Refused(422, "no signature")
            context = xmlsec.SignatureContext()
            context.key = keys[sender]
            try:
                context.verify(node)
            except xmlsec.Error as exc:
                raise Refused(422, "signature does not verify") from exc

        return verify

    def _signxml(self) -> Verify:
        from signxml import XMLVerifier
        from signxml.exceptions import InvalidInput, InvalidSignature

        def verify(root: etree._Element, sender: str) -> None:
            try:
                XMLVerifier().verify(root, x509_cert=self.certificates[sender].decode())
            except (InvalidSignature, InvalidInput) as exc:
                raise Refused(422, "signature does not verify") from exc

        return verify

    def accept(self, authorization: str, body: bytes) -> int:
        token = authorization.removeprefix("Bearer ").strip()
        sender = next((s for t, s in SENDERS.items() if hmac.compare_digest(t, token)), None)
        if sender is None:
            raise Refused(401, "unknown token")
        if self.answer_only:
            return 0
        try:
            root = etree.fromstring(body, _parser())
        except etree.XMLSyntaxError as exc:
            raise Refused(400, "not well-formed") from exc
        with self.schema_lock:
            valid = self.schema.validate(root)
        if not valid:
            raise Refused(422, "not valid")
        self.verify(root, sender)
        conn = self._connection()
        cursor = conn.execute(
            "INSERT INTO messages (sender, received, body) VALUES (?, ?, ?)", (sender, time.time(), body)
        )
        return int(cursor.lastrowid or 0)


def app(minimal: Minimal) -> FastAPI:
    service = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @service.post("/v1/messages")
    async def post_message(request: Request) -> Response:
        body = await request.body()
        try:
            row = await run_in_threadpool(minimal.accept, request.headers.get("authorization", ""), body)
        except Refused as refused:
            problem = {"type": "about:blank", "title": refused.title, "status": refused.status}
            return Response(json.dumps(problem), refused.status, media_type="application/problem+json")
        return Response(json.dumps({"id": row}), 202, media_type="application/json")

    @service.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return service


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--verify", choices=("xmlsec", "signxml", "none"), default="xmlsec")
    args = parser.parse_args()
    uvicorn.run(
        app(Minimal(args.db, args.verify)),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
