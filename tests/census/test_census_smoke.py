"""Keeps the bad-input census harness working (tests/census/bad_input_census.py, issue #17).

Runs a handful of cheap census cases (no model build, no TFLite conversion) and checks that the harness
classifies each kind of outcome: a clear refusal, a deep TF error, a silent return, a verified `ok`, and
a timeout. The census itself is a script, not part of the suite.
"""

import numpy as np
import pytest
import tensorflow as tf

from tests.census import harness
from tests.census.bad_input_census import all_cases
from tests.census.shared import Shared


def _raise_tf_error(shared):
    # A TF error with TF's own message: what `deep` means.
    return tf.gather(tf.zeros([3]), tf.constant([5])).numpy()


def _sleep(shared):
    import time

    time.sleep(5)


SYNTHETIC = [
    (harness.Case("synthetic", "TF gather out of range", _raise_tf_error), "deep"),
    (harness.Case("synthetic", "returns silently", lambda s: np.zeros(2)), "silent"),
    (harness.Case("synthetic", "verified result", lambda s: 3, check=lambda out: out == 3), "ok"),
    (harness.Case("synthetic", "wrong result", lambda s: 4, check=lambda out: out == 3), "silent"),
    (harness.Case("synthetic", "timeout", _sleep, timeout=1), "deep"),
]


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    harness.disable_traceback_filtering()
    return Shared(tmp=str(tmp_path_factory.mktemp("census")))


@pytest.mark.parametrize("case, outcome", SYNTHETIC, ids=[case.bad_input for case, _ in SYNTHETIC])
def test_harness_classifies_each_outcome(shared, case, outcome):
    record = harness.run_case(case, shared)
    assert record["outcome"] == outcome, record


# Real census cases that build nothing bigger than a layer: the table's entries still call the API.
REAL = [
    ("layers.TokenEmbedding", "vocabulary_size=0"),
    ("layers.TokenEmbedding", "token id == V (eager)"),
    ("tokenizers.SegmentPacker", "sequence_length=0"),
    ("generation.TopKSampler", "k=0"),
    ("data.span_corruption", "noise_density=1.5"),
    ("training.TrainConfig", "steps=0"),
]


def test_real_cases_are_clear_and_the_report_lists_them(shared):
    table = {(case.entry, case.bad_input): case for case in all_cases()}
    assert len(table) >= 280 and len({entry for entry, _ in table}) >= 70
    records = [harness.run_case(table[key], shared) for key in REAL]
    assert [r["outcome"] for r in records] == ["clear"] * len(REAL), records
    assert all(r["exception"] in ("ValueError", "TypeError") and r["message"] for r in records), records
    text = harness.markdown(records + [harness.run_case(SYNTHETIC[0][0], shared)], seconds=1.0)
    assert "| clear | 6 |" in text and "## deep (1)" in text and "TF gather out of range" in text
