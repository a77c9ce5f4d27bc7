"""What an Autobahn|Testsuite run found, from wstest's reports: one verdict per
case, a summary per section (the markdown table for docs/websocket.md) and a
JUnit report with one testcase per case (which tests/summarize.py adds up).

wstest writes index.json ({agent: {case id: {behavior, behaviorClose,
remoteCloseCode, duration, reportfile}}}) and one JSON per case with the
reason. It writes them only when it finishes: a case missing from the index
did not run (the server stopped answering, or the run was cut short), and
counts as FAILED.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# The verdicts the summary counts, in its column order. wstest has a few more
# (NO_CLOSE, WRONG CODE, UNCLEAN, FAILED BY CLIENT); its own report shows them
# as "Fail", and so do we.
OK, NON_STRICT, INFORMATIONAL, UNIMPLEMENTED, FAILED = (
    "OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED")
VERDICTS = (OK, NON_STRICT, INFORMATIONAL, UNIMPLEMENTED, FAILED)
NOT_RUN = "NOT RUN"

# Sections whose cases need permessage-deflate: UNIMPLEMENTED there is how
# wstest reports a server that did not accept the extension.
DEFLATE_SECTIONS = ("12", "13")

# wstest starts a case's clock when the WebSocket opens; for a case whose
# handshake never completed it reports the time since 1970 as the duration.
# No case can take a day (the whole run is bounded), so more means "unknown".
IMPOSSIBLE_DURATION_MS = 86_400_000


@dataclass(frozen=True)
class CaseResult:
    case_id: str
    behavior: str           # wstest's word, or NOT_RUN
    behavior_close: str     # wstest's word for the closing handshake, or NOT_RUN
    remote_close_code: int | None
    duration_ms: int
    reason: str             # wstest's explanation, for a case that did not pass

    @property
    def section(self) -> str:
        return self.case_id.split(".")[0]

    @property
    def verdict(self) -> str:
        return self.behavior if self.behavior in VERDICTS else FAILED

    def fails(self, deflate_negotiated: bool) -> bool:
        """FAILED fails; so does a compression case that found no compression
        although the server accepts permessage-deflate."""
        return self.verdict == FAILED or (
            deflate_negotiated and self.verdict == UNIMPLEMENTED
            and self.section in DEFLATE_SECTIONS)


@dataclass
class Run:
    agent: str
    server: str                 # the command line, for the reader
    deflate_negotiated: bool
    cases: list[CaseResult]
    section_titles: dict[str, str]
    wall_seconds: float
    suite_version: str
    selection: str              # which cases were asked for, for the reader
    note: str = ""              # why wstest stopped early, when it did

    @property
    def failures(self) -> list[CaseResult]:
        return [c for c in self.cases if c.fails(self.deflate_negotiated)]


def read_cases(outdir: Path, agent: str, case_ids: list[str]) -> list[CaseResult]:
    """The result of every case asked for, in wstest's order."""
    index_path = outdir / "index.json"
    index = json.loads(index_path.read_text()).get(agent, {}) if index_path.exists() else {}
    results = []
    for case_id in case_ids:
        entry = index.get(case_id)
        if entry is None:
            results.append(CaseResult(case_id, NOT_RUN, NOT_RUN, None, 0,
                                      "wstest reported no result for this case"))
            continue
        reason = ""
        if entry["behavior"] != OK or entry["behaviorClose"] != OK:
            reason = _reason(outdir / entry["reportfile"])
        duration = int(entry.get("duration", 0))
        results.append(CaseResult(case_id, entry["behavior"], entry["behaviorClose"],
                                  entry.get("remoteCloseCode"),
                                  duration if duration < IMPOSSIBLE_DURATION_MS else 0, reason))
    return results


def _reason(report: Path) -> str:
    try:
        detail = json.loads(report.read_text())
    except (OSError, ValueError):
        return ""
    return f"{detail.get('result', '')} Close: {detail.get('resultClose', '')}".strip()


def _section_order(section: str) -> tuple[int, ...]:
    return tuple(int(p) for p in section.split(".") if p.isdigit())


def sections(run: Run) -> list[tuple[str, list[CaseResult]]]:
    grouped: dict[str, list[CaseResult]] = {}
    for case in run.cases:
        grouped.setdefault(case.section, []).append(case)
    return sorted(grouped.items(), key=lambda item: _section_order(item[0]))


def _close_summary(cases: list[CaseResult]) -> str:
    counts = Counter(c.behavior_close for c in cases)
    return ", ".join(f"{word} {n}" for word, n in sorted(counts.items(),
                                                        key=lambda kv: (kv[0] != OK, kv[0])))


def _row(label: str, title: str, cases: list[CaseResult]) -> str:
    counts = Counter(c.verdict for c in cases)
    seconds = sum(c.duration_ms for c in cases) / 1000
    cells = [label, title, str(len(cases)), *(str(counts[v]) for v in VERDICTS),
             _close_summary(cases), f"{seconds:.1f}"]
    return "| " + " | ".join(cells) + " |"


def markdown(run: Run, most_failures: int | None = None) -> str:
    """The summary: one row per section, then the cases that failed (all of
    them, or the first `most_failures`)."""
    deflate = "negotiated" if run.deflate_negotiated else "not accepted"
    lines = [
        f"### Autobahn|Testsuite against {run.agent}",
        "",
        f"wstest {run.suite_version} fuzzingclient, cases {run.selection}: {len(run.cases)}, "
        f"permessage-deflate {deflate}; {run.wall_seconds:.0f} s in all.",
        f"Server: `{run.server}`",
        "",
        "| Section | | Cases | OK | NON-STRICT | INFORMATIONAL | UNIMPLEMENTED | FAILED "
        "| behaviorClose | Time (s) |",
        "|---|---|--:|--:|--:|--:|--:|--:|---|--:|",
    ]
    for section, cases in sections(run):
        lines.append(_row(section, run.section_titles.get(section, ""), cases))
    lines.append(_row("**All**", "", run.cases))
    if run.note:
        lines += ["", run.note]
    failures = run.failures
    lines += ["", f"Failed: {len(failures)}."]
    for case in failures[:most_failures]:
        lines.append(f"- {case.case_id}: {case.behavior} (close: {case.behavior_close}) "
                     f"{case.reason}".rstrip())
    if most_failures is not None and len(failures) > most_failures:
        lines.append(f"- ... and {len(failures) - most_failures} more")
    return "\n".join(lines) + "\n"


def junit(run: Run) -> ET.ElementTree:
    """One testcase per Autobahn case. UNIMPLEMENTED that is not a failure (a
    compression case against a server without permessage-deflate) is reported
    skipped, so the closing line says how many did not apply."""
    failures = {c.case_id for c in run.failures}
    skipped = [c for c in run.cases
               if c.verdict == UNIMPLEMENTED and c.case_id not in failures]
    suite = ET.Element("testsuite", name=f"autobahn-{run.agent}", tests=str(len(run.cases)),
                       failures=str(len(failures)), errors="0", skipped=str(len(skipped)),
                       time=f"{run.wall_seconds:.3f}")
    for case in run.cases:
        element = ET.SubElement(suite, "testcase", classname=f"autobahn.{case.section}",
                                name=case.case_id, time=f"{case.duration_ms / 1000:.3f}")
        summary = f"{case.behavior} (close: {case.behavior_close})"
        if case.case_id in failures:
            ET.SubElement(element, "failure", message=summary).text = case.reason
        elif case.verdict == UNIMPLEMENTED:
            ET.SubElement(element, "skipped", message=summary)
        elif case.verdict != OK or case.behavior_close != OK:
            ET.SubElement(element, "system-out").text = f"{summary} {case.reason}"
    tree = ET.ElementTree(suite)
    ET.indent(tree)
    return tree


def setup_failure_junit(reason: str) -> ET.ElementTree:
    """One failed testcase for a run that could not start, so that the closing
    count shows the stage failed although no case ran."""
    suite = ET.Element("testsuite", name="autobahn", tests="1", failures="1", errors="0")
    case = ET.SubElement(suite, "testcase", classname="autobahn", name="setup")
    ET.SubElement(case, "failure", message=reason)
    return ET.ElementTree(suite)
