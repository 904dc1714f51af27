"""The census harness: a case table, a per-case guard and timeout, outcome classes, and the reports.

A case is one public entry point called with one bad input. Its outcome is one of:

- `clear`: a ValueError/TypeError (or an exception class of kerasnlp_lite's own, or a FileNotFoundError for a
  missing file) raised by our code, or a
  TF runtime error whose readable message (the first lines, "Graph execution error" boilerplate removed)
  is one of our messages (it names the argument in backticks or one of our classes).
- `deep`: any other exception: a TF/Keras/numpy error raised outside our code, a KeyError or IndexError
  from inside it, a timeout.
- `silent`: no exception, and the result is not the documented one (cases that expect an error have no
  check; cases that expect a value have a `check` that returned False).
- `ok`: no exception and the case's `check` confirmed the documented, correct behaviour.

The raise site decides "our code": the innermost traceback frame must be a file of the `kerasnlp_lite`
package. Keras and TF traceback filtering is turned off so that frame is not hidden.
"""

import dataclasses
import os
import re
import signal
import sys
import time
import traceback

PACKAGE_DIR = os.sep + "kerasnlp_lite" + os.sep
OUR_MARK = re.compile(r"`[A-Za-z_][\w.\[\]]*`|kerasnlp_lite|ByteBPETokenizer|WordPieceTokenizer|SegmentPacker|"
                      r"StartEndPacker|SentencePieceTokenizer")
TF_BOILERPLATE = re.compile(r"^(Graph execution error:|Detected at node|\s*File \"|\s*$|Stack trace|"
                            r"Traceback|  )", re.M)


class Clear(Exception):
    """Raised by a case function that observed a clear refusal itself (a CLI exit with an error line)."""


class Deep(Exception):
    """Raised by a case function that observed a deep failure itself (a traceback from a subprocess)."""


class CaseTimeout(Exception):
    pass


@dataclasses.dataclass
class Case:
    """One entry point called with one bad input.

    Attributes:
        entry: the public name called, e.g. "layers.TokenEmbedding.call".
        bad_input: what is wrong with the input, in words.
        run: a function of the shared artifacts (`shared.Shared`) that makes the call and returns its result.
        expect: the documented behaviour, in words ("ValueError naming `token_ids`", "round trip exact").
        check: for documented non-error behaviour: a function of the result, True when it is correct.
            None means any return without an exception is `silent`.
        kind: the class of bad input, to group the summary ("ids out of range", "cache_index", ...).
        timeout: seconds before the case is stopped and counted `deep`.
    """

    entry: str
    bad_input: str
    run: object
    expect: str = "error naming the argument"
    check: object = None
    kind: str = "argument"
    timeout: int = 90


def _raise_timeout(signum, frame):
    raise CaseTimeout("case timed out")


USER_CODE_FRAME = re.compile(r'File "([^"]+)", line (\d+)')


def _raise_site(error):
    """(file, line) that raised: the innermost traceback frame, or for an error re-raised by tf.function
    ("in user code:"), the innermost frame its message lists."""
    text = str(error)
    if "in user code:" in text:
        listed = USER_CODE_FRAME.findall(text)
        if listed:
            return listed[-1][0], int(listed[-1][1])
    frames = traceback.extract_tb(error.__traceback__)
    return (frames[-1].filename, frames[-1].lineno) if frames else ("", 0)


def _readable_message(error):
    """The first non-boilerplate lines of an exception message (for a tf.function's "in user code:"
    error, the lines after its listed frames)."""
    text = str(error)
    if "in user code:" in text:
        text = text.rsplit("in user code:", 1)[1]
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        tail = [line for line in lines if not line.startswith("File ") and not USER_CODE_FRAME.search(line)]
        return tail[-1:] if tail else lines[-1:]
    lines = [line for line in text.splitlines() if not TF_BOILERPLATE.match(line)]
    return lines


def classify_exception(error):
    """(outcome, why) for an exception raised by a case."""
    import tensorflow as tf

    filename, lineno = _raise_site(error)
    ours_raised = PACKAGE_DIR in filename
    module = type(error).__module__ or ""
    if isinstance(error, Clear):
        return "clear", "refused with an error line"
    if isinstance(error, (Deep, CaseTimeout)):
        return "deep", str(error).splitlines()[0] if str(error) else type(error).__name__
    if module.startswith("kerasnlp_lite"):
        return "clear", "our exception class"
    if isinstance(error, (ValueError, TypeError)) and not isinstance(error, tf.errors.OpError):
        if ours_raised:
            return "clear", "raised by our code"
        return "deep", f"{type(error).__name__} raised outside our code ({_short(filename)}:{lineno})"
    if isinstance(error, OSError) and not isinstance(error, tf.errors.OpError) and ours_raised:
        return "clear", "file error raised by our code, with our message"
    if isinstance(error, tf.errors.OpError):
        head = "\n".join(_readable_message(error)[:4])
        if OUR_MARK.search(head):
            return "clear", "TF runtime error carrying our message"
        return "deep", "TF runtime error with TF's own message"
    where = "our code" if ours_raised else _short(filename)
    return "deep", f"{type(error).__name__} raised in {where}:{lineno}"


def _short(filename):
    for marker in ("site-packages" + os.sep, PACKAGE_DIR):
        if marker in filename:
            return filename.split(marker, 1)[1] if marker != PACKAGE_DIR else "kerasnlp_lite/" + filename.split(
                marker, 1)[1]
    return os.path.basename(filename)


def first_line(error):
    lines = _readable_message(error) or str(error).splitlines() or [""]
    return lines[0][:300]


def run_case(case, shared):
    """Runs one case under a guard that catches everything; returns its record (a dict)."""
    start = time.perf_counter()
    record = {"entry": case.entry, "bad_input": case.bad_input, "expect": case.expect, "kind": case.kind}
    use_alarm = hasattr(signal, "SIGALRM") and case.timeout
    if use_alarm:
        previous = signal.signal(signal.SIGALRM, _raise_timeout)
        signal.alarm(int(case.timeout))
    try:
        result = case.run(shared)
        if use_alarm:
            signal.alarm(0)
        if case.check is None:
            record.update(outcome="silent", why=f"no error; returned {_describe(result)}")
        else:
            try:
                correct = bool(case.check(result))
            except Exception as error:  # noqa: BLE001 - a failing check is a wrong result, recorded as such
                correct = False
                result = f"check raised {type(error).__name__}: {error}"
            record.update(outcome="ok" if correct else "silent",
                          why="documented result verified" if correct else f"wrong result: {_describe(result)}")
        record.update(exception=None, message=None)
    except BaseException as error:  # noqa: BLE001 - the guard: every case must end in a record
        if use_alarm:
            signal.alarm(0)
        if isinstance(error, KeyboardInterrupt):
            raise
        outcome, why = classify_exception(error)
        filename, lineno = _raise_site(error)
        record.update(outcome=outcome, why=why, exception=type(error).__name__, message=first_line(error),
                      raised_at=f"{_short(filename)}:{lineno}")
    finally:
        if use_alarm:
            signal.signal(signal.SIGALRM, previous)
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


def _describe(result):
    try:
        import numpy as np

        if hasattr(result, "shape") and hasattr(result, "dtype"):
            array = np.asarray(result)
            summary = f"array shape {array.shape} dtype {array.dtype}"
            if array.size and array.dtype.kind in "iuf":
                summary += f" range [{array.min()}, {array.max()}]"
                if array.dtype.kind == "f" and not np.isfinite(array).all():
                    summary += " with NaN/inf"
            return summary
    except Exception:  # noqa: BLE001
        pass
    text = repr(result)
    return text if len(text) < 200 else text[:200] + "..."


def warned(fn, *args, **kwargs):
    """(result, [warning messages]) of `fn(*args, **kwargs)`: for cases whose documented answer is a warning."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    return result, [str(w.message) for w in caught]


def warns_about(*words):
    """A check: the case returned `warned(...)` output and one warning contains every word."""
    return lambda out: any(all(word in message for word in words) for message in out[1])


def disable_traceback_filtering():
    import keras
    import tensorflow as tf

    keras.config.disable_traceback_filtering()
    tf.debugging.disable_traceback_filtering()


def summarize(records):
    counts = {}
    for record in records:
        counts[record["outcome"]] = counts.get(record["outcome"], 0) + 1
    return {outcome: counts.get(outcome, 0) for outcome in ("clear", "ok", "deep", "silent")}


def _detail(record):
    """What a case raised (`Type: message`), or why it was classified so when it raised nothing."""
    return f"{record['exception']}: {record['message']}" if record.get("exception") else record["why"]


def markdown(records, seconds):
    """The summary: counts per outcome, per entry point and per kind, every deep and silent case, then every case."""
    counts = summarize(records)
    entries = sorted({r["entry"] for r in records})
    lines = [
        "# Bad-input census (issue #17)", "",
        f"{len(records)} cases over {len(entries)} entry points, {seconds:.0f} s.", "",
        "| outcome | cases |", "|---|---|",
        *[f"| {outcome} | {count} |" for outcome, count in counts.items()], "",
        "## Per kind of bad input", "", "| kind | clear | ok | deep | silent |", "|---|---|---|---|---|",
    ]
    for kind in sorted({r["kind"] for r in records}):
        sub = summarize([r for r in records if r["kind"] == kind])
        lines.append(f"| {kind} | {sub['clear']} | {sub['ok']} | {sub['deep']} | {sub['silent']} |")
    lines += ["", "## Per entry point", "", "| entry point | clear | ok | deep | silent |", "|---|---|---|---|---|"]
    for entry in entries:
        sub = summarize([r for r in records if r["entry"] == entry])
        lines.append(f"| `{entry}` | {sub['clear']} | {sub['ok']} | {sub['deep']} | {sub['silent']} |")
    for outcome in ("deep", "silent"):
        chosen = [r for r in records if r["outcome"] == outcome]
        lines += ["", f"## {outcome} ({len(chosen)})", ""]
        for r in chosen:
            detail = _detail(r)
            lines.append(f"- `{r['entry']}` | {r['bad_input']} | expected: {r['expect']} | got: "
                         f"{detail.replace('|', '/')}" + (f" ({r['why']})" if r.get("exception") else ""))
    lines += ["", "## Every case", "", "| entry point | bad input | outcome | what was raised or checked |",
              "|---|---|---|---|"]
    for r in records:
        detail = " ".join(str(_detail(r)).split())[:160].replace("|", "/")
        bad_input = str(r["bad_input"]).replace("|", "/")
        lines.append(f"| `{r['entry']}` | {bad_input} | {r['outcome']} | {detail} |")
    return "\n".join(lines) + "\n"


def run_all(cases, shared, verbose=True):
    records = []
    for index, case in enumerate(cases):
        record = run_case(case, shared)
        records.append(record)
        if verbose:
            print(f"[{index + 1}/{len(cases)}] {record['outcome']:6s} {record['seconds']:6.2f}s {case.entry} | "
                  f"{case.bad_input} | {record.get('message') or record['why']}"[:260], file=sys.stderr, flush=True)
    return records
