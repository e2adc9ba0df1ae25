"""The JUnit report of a wait, written on every exit once its path is checked.

Each bulk's FAILED operations are read as soon as it ends (``FailedOperations``: at most
``--junit-max-failures`` of them, pages read before a deadline or a signal kept); the report
is written from memory, with no new request: at the end, at the timeout, on Ctrl-C and
SIGTERM, and on an error (an ``<error>`` case naming its cause).

Each bulk is a test suite: one case for its outcome (a PARTIALLY_COMPLETED bulk's passes:
its failed operations are the failures), one passing case counting its completed
operations (from the counts, no request), one failing case per failed operation read, and
a skipped case counting the failed operations not listed. The shape is Jenkins'
junit-10.xsd (tests/junit-10.xsd describes it; the tests validate every report).
"""

from __future__ import annotations

import os
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from bulkctl.api.records import BulkOperation, BulkProcess, failure_reason
from bulkctl.context import Context
from bulkctl.errors import UsageError
from bulkctl.output.render import short_payload
from bulkctl.waiting.outcomes import BulkFailures, Ending, WaitRecord
from bulkctl.waiting.polling import counts_read, done_of_total


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
    """The report file of a wait: written from its record, with no request."""

    def __init__(self, ctx: Context, path: Path, record: WaitRecord) -> None:
        self.ctx = ctx
        self.path = path
        self.record = record

    def write(self, ending: Ending) -> None:
        """The report from memory, atomically replacing ``path``."""
        root = build_junit(self.record, ending, self.ctx.clock.monotonic())
        tree = ET.ElementTree(root)
        ET.indent(tree)
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".bulkctl-junit-")
            with os.fdopen(fd, "wb") as out:
                tree.write(out, encoding="utf-8", xml_declaration=True)
            os.replace(tmp, self.path)
            tmp = None
        except OSError as exc:
            raise UsageError(f"cannot write the JUnit report {self.path}: {exc.strerror}") from exc
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
        self.ctx.note(f"JUnit report written to {self.path}")


def _seconds(value: float) -> str:
    return f"{max(0.0, value):.3f}"


def _timestamp(wall: float) -> str:
    """ISO 8601 in UTC without a zone, as the schema's timestamp pattern has it."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall))


def _case(suite: ET.Element, bulk_id: str, name: str, seconds: float) -> ET.Element:
    return ET.SubElement(
        suite,
        "testcase",
        classname=xml_safe(f"bulk.{bulk_id}"),
        name=xml_safe(name),
        time=_seconds(seconds),
    )


def _bulk_seconds(record: WaitRecord, bulk_id: str, bulk: BulkProcess | None, now: float) -> float:
    """The bulk's own run time when it says (executionStart to executionFinish), else the
    time waited until it was seen final (or until now)."""
    if bulk is not None and bulk.execution_start is not None and bulk.execution_finish is not None:
        return max(0.0, (bulk.execution_finish - bulk.execution_start) / 1000)
    return record.ended_at.get(bulk_id, now) - record.started


def build_junit(record: WaitRecord, ending: Ending, now: float) -> ET.Element:
    """The report's XML: a test suite per bulk, and one for the command when it ended on an
    error (or when no bulk was pending to carry the cause)."""
    waited = now - record.started
    root = ET.Element("testsuites", name=xml_safe(f"bulkctl {record.command}"))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    pending = 0
    for bulk_id in record.bulk_ids:
        bulk = record.latest.get(bulk_id)
        if bulk is None or not bulk.is_final:
            pending += 1
        suite = _bulk_suite(record, bulk_id, bulk, ending, now)
        root.append(suite)
    named = ending.how == "error" and record.missing in record.bulk_ids  # on its bulk's case
    if (ending.how == "error" and not named) or (ending.how != "final" and pending == 0):
        suite = ET.Element("testsuite", name=xml_safe(f"bulkctl {record.command}"))
        case = ET.SubElement(
            suite,
            "testcase",
            classname="bulkctl",
            name=xml_safe(f"bulkctl {record.command}"),
            time=_seconds(waited),
        )
        ET.SubElement(case, "error", type=xml_safe(ending.kind), message=xml_safe(ending.cause))
        _close_suite(suite, record, waited)
        root.append(suite)
    for suite in root:
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    for key in ("tests", "failures", "errors"):
        root.set(key, str(totals[key]))
    longest = max((float(suite.get("time", "0")) for suite in root), default=0.0)
    root.set("time", _seconds(max(waited, longest)))  # covers every suite
    return root


def _close_suite(suite: ET.Element, record: WaitRecord, waited: float) -> None:
    """Counts, time and timestamp from the cases the suite holds; its time covers theirs
    (a bulk's case is its own run time, which may have begun before the wait)."""
    cases = suite.findall("testcase")
    counts = {
        kind: sum(1 for c in cases if c.find(kind) is not None)
        for kind in ("failure", "error", "skipped")
    }
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(counts["failure"]))
    suite.set("errors", str(counts["error"]))
    suite.set("skipped", str(counts["skipped"]))
    cases_time = sum(float(c.get("time", "0")) for c in cases)
    suite.set("time", _seconds(max(waited, cases_time)))
    suite.set("timestamp", _timestamp(record.started_wall))


def _bulk_suite(
    record: WaitRecord, bulk_id: str, bulk: BulkProcess | None, ending: Ending, now: float
) -> ET.Element:
    status = (bulk.status or "?") if bulk is not None else "never answered"
    operation = (bulk.operation or "") if bulk is not None else ""
    suite = ET.Element("testsuite", name=xml_safe(f"bulk {bulk_id} {operation}".strip()))
    done = done_of_total(bulk) if bulk is not None and counts_read(bulk) else "?"
    outcome = _case(
        suite, bulk_id, f"bulk {bulk_id} outcome", _bulk_seconds(record, bulk_id, bulk, now)
    )
    accepted = status in record.accepted
    if status == "FAILED":
        ET.SubElement(
            outcome, "failure", type=status, message=f"bulk FAILED ({done} operations done)"
        )
    elif status == "CANCELLED" and not accepted:
        ET.SubElement(
            outcome, "error", type=status, message=f"bulk CANCELLED ({done} operations done)"
        )
    elif bulk is None or not bulk.is_final:
        _not_final(outcome, record, bulk_id, status, ending)
    else:
        note = f"{status} ({done} operations done)"
        if accepted:
            note += f"; accepted by --accept {status.lower()}"
        ET.SubElement(outcome, "system-out").text = xml_safe(note)
    completed = _case(suite, bulk_id, f"bulk {bulk_id} completed operations", 0.0)
    if bulk is not None and bulk.operation_status_counts:
        counts = ", ".join(f"{e.count:,} {e.status}" for e in bulk.operation_status_counts)
        text = f"{bulk.count_of('COMPLETED'):,} operations COMPLETED ({counts})"
    else:
        text = "the bulk's answer gave no operation counts"
    ET.SubElement(completed, "system-out").text = xml_safe(text)
    failures = record.failures_of(bulk_id)
    if failures is not None:
        for op in failures.operations.values():
            _operation_case(suite, bulk_id, op)
        _unlisted_case(suite, record, failures, ending)
    _close_suite(suite, record, now - record.started)
    return suite


def _not_final(
    outcome: ET.Element, record: WaitRecord, bulk_id: str, status: str, ending: Ending
) -> None:
    """A bulk not final when the wait ended. An error is counted once: on the case of the
    bulk it names (a 404), else on the command's own case, the bulks' cases skipped."""
    cause = ending.cause or "not final"
    if ending.how != "error":
        kind, message = "error", f"still {status} when the wait ended: {cause}"
    elif bulk_id == record.missing:
        kind, message = "error", cause.removeprefix(f"get bulk {bulk_id}: ")
    else:
        kind, message = "skipped", f"still {status} when the wait ended on an error: {cause}"
    attributes = {"message": xml_safe(message)}
    if kind == "error":
        attributes["type"] = xml_safe(ending.kind or ending.how)
    ET.SubElement(outcome, kind, attributes)


def _operation_case(suite: ET.Element, bulk_id: str, op: BulkOperation) -> None:
    name = f"#{op.sequence} {op.method or ''} {op.path or ''}".strip()
    case = _case(suite, bulk_id, name, 0.0)
    code, _message = failure_reason(op.response_payload)
    element = ET.SubElement(
        case,
        "failure",
        type=xml_safe((code or "FAILED")[:100]),
        message=xml_safe(_failure_message(op.response_payload)),
    )
    element.text = xml_safe(op.response_payload or "")


def _unlisted_case(
    suite: ET.Element, record: WaitRecord, failures: BulkFailures, ending: Ending
) -> None:
    """A skipped case counting the failed operations not listed, and why."""
    read = len(failures.operations)
    unlisted = failures.unlisted
    assert record.failures is not None
    if failures.done:
        if not unlisted:
            return
        why = f"at most {record.failures.limit:,} are listed a bulk (--junit-max-failures)"
    else:
        why = failures.problem or ending.cause or "the wait ended first"
        why = f"not read: {why}"
    how_many = f"{unlisted:,}" if unlisted is not None else "an unknown number of"
    case = _case(
        suite, failures.bulk_id, f"bulk {failures.bulk_id} failed operations not listed", 0.0
    )
    ET.SubElement(
        case,
        "skipped",
        message=xml_safe(f"{how_many} failed operations not listed ({read:,} listed); {why}"),
    )


def _failure_message(payload: Any) -> str:
    return short_payload(payload, width=200) or "operation failed"
