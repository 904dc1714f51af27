"""Bad-input census for issue #17 ("Bad input never passes silently").

Calls the public API of kerasnlp_lite with bad inputs (entry point x bad input x outcome) and classifies
each outcome as `clear`, `deep`, `silent` or `ok` (see `tests/census/harness.py`). Not a pytest file: run

    python -m tests.census.bad_input_census --out /tmp/census.json --markdown /tmp/census.md

`--only SUBSTRING` runs the cases whose entry point contains it; `--group NAME` one case module
(layers, models, text, generation, export, training). The whole census builds its tiny models once and
converts two TFLite files (one generation bundle, one string-in encoder), each in a child process.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

GROUPS = ("layers", "models", "text", "generation", "export", "training")


def all_cases(groups=GROUPS):
    import importlib

    cases = []
    for group in groups:
        cases += importlib.import_module(f"tests.census.cases_{group}").cases()
    return cases


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/census.json", help="JSON file of every case")
    parser.add_argument("--markdown", default=None, help="markdown summary")
    parser.add_argument("--only", default=None, help="run only entry points containing this")
    parser.add_argument("--group", action="append", choices=GROUPS, help="case modules to run (default: all)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    import warnings

    warnings.filterwarnings("ignore")
    from tests.census.harness import disable_traceback_filtering, markdown, run_all, summarize
    from tests.census.shared import Shared

    disable_traceback_filtering()
    cases = all_cases(args.group or GROUPS)
    if args.only:
        cases = [case for case in cases if args.only in case.entry]
    start = time.perf_counter()
    records = run_all(cases, Shared(), verbose=not args.quiet)
    seconds = time.perf_counter() - start
    summary = {"cases": len(records), "entry_points": len({r["entry"] for r in records}), "seconds": round(seconds, 1),
               **summarize(records)}
    with open(args.out, "w") as f:
        json.dump({"summary": summary, "cases": records}, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(records, seconds))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
