"""tf.data pipelines, pretraining objectives and built-in data."""

from kerasnlp_lite.data.synthetic import first_token_repeats_task
