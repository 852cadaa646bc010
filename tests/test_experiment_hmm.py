"""experiments/hmm.py on a tiny config, and its config errors."""

import pytest

from experiments import hmm as experiment
from experiments.configs import hmm as configs


def test_baum_welch_recovers_the_hmm_and_viterbi_decodes(tmp_path):
    c = configs.get_config("cpu")
    c.num_sequences, c.length, c.num_iters = 10, 60, 60
    m = experiment.train_and_evaluate(c, str(tmp_path))
    # Measured: |A err| 0.03, |state-mean err| 0.1, Viterbi 0.98 (true parameters: 0.98).
    assert m["em_monotone"]
    assert m["max_error_transition"] < 0.1
    assert m["max_error_state_means"] < 0.3
    assert m["viterbi_accuracy_fit"] > m["viterbi_accuracy_true"] - 0.03
    assert m["test_log_lik_fit"] > m["test_log_lik_true"] - 0.05 * abs(m["test_log_lik_true"])
    assert (tmp_path / "metrics.json").exists()


def test_match_states_finds_the_permutation():
    import numpy as np

    true = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    assert experiment.match_states(true, true[[2, 0, 1]] + 0.1) == [1, 2, 0]


def test_bad_config_is_a_clear_error(tmp_path):
    config = configs.get_config("cpu")
    config.self_transition = 1.0
    with pytest.raises(ValueError, match="self_transition must lie in"):
        experiment.train_and_evaluate(config, str(tmp_path))
