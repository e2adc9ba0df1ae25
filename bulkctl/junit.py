"""The JUnit report of a wait: each bulk's FAILED operations read as soon as it ends, and
the report written from memory, with no new request, at the end, at the deadline, on
Ctrl-C and on SIGTERM."""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bulkctl.api.records import BulkOperation, BulkProcess
from bulkctl.context import Context
from bulkctl.errors import TRANSIENT_ERRORS, DeadlineReached, UsageError
from bulkctl.polling import PAGE, done_of_total
from bulkctl.render import short_payload

if TYPE_CHECKING:
    from bulkctl.api.client import ApiClient


def check_junit_path(path: Path) -> None:
    """Before any request: the report's folder exists (created if need be) and is writable."""
    if path.is_dir():
        raise UsageError(f"cannot write the JUnit report {path}: it is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".bulkctl-", delete=True):
            pass
    except OSError as exc:
        raise UsageError(
            f"cannot write the JUnit report {path}: {exc.strerror or exc}",
            hint="choose a writable path for --junit",
        ) from exc


def xml_safe(text: str) -> str:
    """Text that XML 1.0 accepts: characters it forbids (most C0 controls, lone surrogates,
    U+FFFE, U+FFFF) written as \\xHH or \\uHHHH."""
    out = []
    for char in text:
        code = ord(char)
        if (
            char in "\t\n\r"
            or 0x20 <= code <= 0xD7FF
            or 0xE000 <= code <= 0xFFFD
            or 0x10000 <= code <= 0x10FFFF
        ):
            out.append(char)
        else:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)


class JUnitReport:
    """What the report will say, gathered as bulks end: each one's FAILED operations (one
    request a page, status filter), read as soon as it ends; written with no new request."""

    def __init__(self, ctx: Context, client: ApiClient, deadline: float | None) -> None:
        self.ctx = ctx
        self.client = client
        self.deadline = deadline
        self.failed: dict[str, list[BulkOperation]] = {}
        self.unread: dict[str, str] = {}  # bulk id -> why its failed operations are not read
        self.queue: list[BulkProcess] = []

    def bulk_ended(self, bulk: BulkProcess) -> None:
        if bulk.bulk_id is None:
            return
        if bulk.operation_status_counts and bulk.count_of("FAILED") == 0:
            self.failed[bulk.bulk_id] = []  # nothing failed: no request
            return
        self.queue.append(bulk)
        self.catch_up()

    def catch_up(self) -> None:
        """Read the failed operations of the bulks that ended; a transient error waits for
        the next round, the deadline ends the wait."""
        while self.queue:
            bulk = self.queue[0]
            bulk_id = bulk.bulk_id or ""
            try:
                self.failed[bulk_id] = self._read_failed(bulk_id)
            except DeadlineReached:
                self.unread[bulk_id] = "its failed operations were not read before the timeout"
                raise
            except TRANSIENT_ERRORS as exc:
                if self.unread.get(bulk_id) != exc.message:
                    self.ctx.note(f"bulk {bulk_id}: failed operations not read yet: {exc.message}")
                self.unread[bulk_id] = f"its failed operations could not be read: {exc.message}"
                return
            self.unread.pop(bulk_id, None)
            self.queue.pop(0)

    def _read_failed(self, bulk_id: str) -> list[BulkOperation]:
        seen: dict[str, BulkOperation] = {}
        offset = 0
        while True:
            page = self.client.list_operations(
                bulk_id, offset=offset, limit=PAGE, status="FAILED", deadline=self.deadline
            )
            for op in page.records:
                if isinstance(op, BulkOperation):
                    seen.setdefault(op.key, op)
            offset += PAGE
            count = page.count if page.count is not None else offset
            if not page.records or offset >= count or offset >= 10_000:
                return list(seen.values())

    def write(
        self,
        path: Path,
        bulk_ids: list[str],
        latest: dict[str, BulkProcess],
        *,
        pending_as: str | None,
    ) -> None:
        """The report from memory; ``pending_as`` names why pending bulks are errors
        ('timeout (30s)', 'interrupted', 'terminated')."""
        root = build_junit(bulk_ids, latest, self.failed, self.unread, pending_as)
        tree = ET.ElementTree(root)
        ET.indent(tree)
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".bulkctl-junit-")
            with os.fdopen(fd, "wb") as out:
                tree.write(out, encoding="utf-8", xml_declaration=True)
            os.replace(tmp, path)
            tmp = None
        except OSError as exc:
            raise UsageError(f"cannot write the JUnit report {path}: {exc.strerror}") from exc
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
        self.ctx.note(f"JUnit report written to {path}")


def build_junit(
    bulk_ids: list[str],
    latest: dict[str, BulkProcess],
    failed: dict[str, list[BulkOperation]],
    unread: dict[str, str],
    pending_as: str | None,
) -> ET.Element:
    """One test suite per bulk: a test case for the bulk's outcome (failure for FAILED and
    PARTIALLY_COMPLETED; error for CANCELLED and for a bulk still pending), then one test
    case per failed operation."""
    root = ET.Element("testsuites", name="bulkctl wait")
    for bulk_id in bulk_ids:
        bulk = latest.get(bulk_id)
        status = (bulk.status or "?") if bulk is not None else "never answered"
        operation = (bulk.operation or "") if bulk is not None else ""
        suite = ET.SubElement(
            root, "testsuite", name=xml_safe(f"bulk {bulk_id} {operation}".strip())
        )
        case = ET.SubElement(
            suite, "testcase", classname=f"bulk.{bulk_id}", name=xml_safe(f"bulk {bulk_id}")
        )
        failures = errors = 0
        done = done_of_total(bulk) if bulk is not None else "?"
        if status in ("FAILED", "PARTIALLY_COMPLETED"):
            failures += 1
            ET.SubElement(
                case, "failure", type=status, message=f"bulk {status} ({done} operations done)"
            )
        elif status == "CANCELLED":
            errors += 1
            ET.SubElement(
                case, "error", type=status, message=f"bulk CANCELLED ({done} operations done)"
            )
        elif bulk is None or not bulk.is_final:
            errors += 1
            reason = pending_as or "not final"
            ET.SubElement(
                case,
                "error",
                type="interrupted" if pending_as in ("interrupted", "terminated") else "timeout",
                message=xml_safe(f"still {status} at the end of the wait: {reason}"),
            )
        if bulk_id in unread:
            ET.SubElement(case, "system-err").text = xml_safe(unread[bulk_id])
        ops = failed.get(bulk_id, [])
        for op in ops:
            name = f"#{op.sequence} {op.method or ''} {op.path or ''}".strip()
            op_case = ET.SubElement(
                suite, "testcase", classname=f"bulk.{bulk_id}", name=xml_safe(name)
            )
            failures += 1
            element = ET.SubElement(
                op_case, "failure", message=xml_safe(_failure_message(op.response_payload))
            )
            element.text = xml_safe(op.response_payload or "")
        suite.set("tests", str(1 + len(ops)))
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
        suite.set("skipped", "0")
    return root


def _failure_message(payload: Any) -> str:
    return short_payload(payload, width=200) or "operation failed"
