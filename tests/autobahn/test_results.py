"""The driver's reading of wstest's reports, on reports written here the way
wstest writes them (index.json and one JSON per case): which cases fail, the
summary table, and a JUnit file that tests/summarize.py counts right."""

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

import results
from wstest_env import REPO

AGENT = "peer"
EPOCH_MS = 1_796_149_139_630  # what wstest reports for a case that never opened


def write_reports(outdir, cases):
    """cases: {case id: (behavior, behaviorClose, duration ms)}, as wstest's index."""
    index = {}
    for case_id, (behavior, behavior_close, duration) in cases.items():
        name = f"{AGENT}_case_{case_id.replace('.', '_')}.json"
        (outdir / name).write_text(json.dumps({
            "result": f"result of {case_id}.", "resultClose": f"close of {case_id}."}))
        index[case_id] = {"behavior": behavior, "behaviorClose": behavior_close,
                          "remoteCloseCode": 1000, "duration": duration, "reportfile": name}
    (outdir / "index.json").write_text(json.dumps({AGENT: index}))


def make_run(tmp_path, cases, asked, deflate):
    write_reports(tmp_path, cases)
    return results.Run(agent=AGENT, server="peer --port 1", deflate_negotiated=deflate,
                       cases=results.read_cases(tmp_path, AGENT, asked),
                       section_titles={"1": "Framing", "12": "Compression"}, wall_seconds=2.0,
                       suite_version="25.10.1", selection="`*`")


CASES = {
    "1.1.1": ("OK", "OK", 10),
    "1.1.2": ("NON-STRICT", "OK", 20),
    "1.1.3": ("INFORMATIONAL", "INFORMATIONAL", 30),
    "1.1.4": ("WRONG CODE", "WRONG CODE", 40),   # wstest's report says "Fail"
    "1.1.5": ("FAILED", "FAILED", EPOCH_MS),
    "12.1.1": ("UNIMPLEMENTED", "OK", 1500),
}
ASKED = [*CASES, "1.1.6"]  # 1.1.6: asked for, never run (the server died)


def test_failed_means_failed_wrong_code_or_not_run(tmp_path):
    run = make_run(tmp_path, CASES, ASKED, deflate=False)
    assert [c.case_id for c in run.failures] == ["1.1.4", "1.1.5", "1.1.6"]
    not_run = run.cases[-1]
    assert (not_run.behavior, not_run.verdict) == (results.NOT_RUN, results.FAILED)
    assert run.cases[4].reason == "result of 1.1.5. Close: close of 1.1.5."


@pytest.mark.parametrize("deflate", [False, True])
def test_unimplemented_compression_fails_only_when_the_server_accepts_deflate(tmp_path, deflate):
    run = make_run(tmp_path, CASES, ASKED, deflate)
    assert ("12.1.1" in [c.case_id for c in run.failures]) == deflate


def test_summary_counts_per_section_with_closing_behaviour_and_time(tmp_path):
    text = results.markdown(make_run(tmp_path, CASES, ASKED, deflate=False))
    rows = [line for line in text.splitlines() if line.startswith("| ")][1:]  # no header
    # The duration wstest gives a case that never opened is left out of the time.
    assert rows == [
        "| 1 | Framing | 6 | 1 | 1 | 1 | 0 | 3 | OK 2, FAILED 1, INFORMATIONAL 1, "
        "NOT RUN 1, WRONG CODE 1 | 0.1 |",
        "| 12 | Compression | 1 | 0 | 0 | 0 | 1 | 0 | OK 1 | 1.5 |",
        "| **All** |  | 7 | 1 | 1 | 1 | 1 | 3 | OK 3, FAILED 1, INFORMATIONAL 1, "
        "NOT RUN 1, WRONG CODE 1 | 1.6 |",
    ]
    assert "Failed: 3." in text and "- 1.1.6: NOT RUN" in text


def test_sections_sort_as_numbers(tmp_path):
    cases = {"10.1.1": ("OK", "OK", 1), "9.1.1": ("OK", "OK", 1), "2.1": ("OK", "OK", 1)}
    run = make_run(tmp_path, cases, list(cases), deflate=False)
    assert [section for section, _ in results.sections(run)] == ["2", "9", "10"]


@pytest.mark.parametrize("deflate, line", [
    (False, "3 passed, 3 failed, 1 skipped"),   # UNIMPLEMENTED compression: skipped
    (True, "3 passed, 4 failed"),
])
def test_summarize_counts_one_testcase_per_case(tmp_path, deflate, line):
    junit = tmp_path / "autobahn.xml"
    results.junit(make_run(tmp_path, CASES, ASKED, deflate)).write(junit, encoding="unicode",
                                                                   xml_declaration=True)
    assert len(ET.parse(junit).getroot().findall("testcase")) == len(ASKED)
    summary = subprocess.run([sys.executable, str(REPO / "tests" / "summarize.py"), str(junit)],
                             capture_output=True, text=True)
    assert (summary.stdout.strip(), summary.returncode) == (line, 1)


def test_a_run_that_did_not_start_counts_as_one_failure(tmp_path):
    junit = tmp_path / "autobahn.xml"
    results.setup_failure_junit("no Python 2.7").write(junit, encoding="unicode")
    summary = subprocess.run([sys.executable, str(REPO / "tests" / "summarize.py"), str(junit)],
                             capture_output=True, text=True)
    assert summary.stdout.strip() == "0 passed, 1 failed"
