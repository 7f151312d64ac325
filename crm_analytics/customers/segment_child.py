"""The child process that computes the custom-segment members of a run for the customer view.

Run by :func:`crm_analytics.customers.view.view_context` with
``wait_for_segments=False`` (the web app), as
``python -m crm_analytics.customers.segment_child STORE RUN_ID``: the segment
definitions arrive on stdin as JSON (``[{"name": ..., "rule": ...}]``), the members
leave on stdout as JSON (``{"members": {name: [customer_id, ...]}, "problems": [...]}``).
It lowers its own priority first: seconds of pandas for a million customers should
neither hold the parent's GIL nor take the CPU from the requests the parent answers.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys

import pandas as pd


def main(argv: list[str]) -> int:
    with contextlib.suppress(OSError, AttributeError):  # not allowed, or not POSIX: as it is
        os.nice(10)
    from crm_analytics.customers.view import _compute_members
    from crm_analytics.store.results import reading

    path, run_id = argv
    definitions = pd.DataFrame(json.load(sys.stdin), columns=["name", "rule"])
    with reading(path) as store:
        members, problems = _compute_members(store, run_id, definitions)
    json.dump({"members": {name: sorted(ids) for name, ids in members.items()}, "problems": problems},
              sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
