# Run by wstest's Python 2.7 (run.py does): prints, as JSON, the ids of the
# cases the fuzzingclient runs for the spec on stdin, in its order, and the
# suite's section titles. The same parser wstest uses (CaseSet), so a case
# that wstest never got to (a server that died, a time-out) is known missing.
import json
import sys

from autobahntestsuite.case import Cases, CaseBasename, CaseCategories, CaseSetname, \
    CaseSubCategories
from autobahntestsuite.caseset import CaseSet

spec = json.load(sys.stdin)
case_set = CaseSet(CaseSetname, CaseBasename, Cases, CaseCategories, CaseSubCategories)
json.dump({"cases": case_set.parseSpecCases(spec), "sections": CaseCategories}, sys.stdout)
