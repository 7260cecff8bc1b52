"""examples/train.py (every module on the adding problem) and examples/vanishing_gradients.py."""

import struct

import pytest
from example_scripts import load_example

import torch_ext

GATED = ("lstm", "gru", "gru-reset-before", "layer-norm-lstm", "layer-norm-gru")


@pytest.fixture(scope="module")
def train_script():
    return load_example("train.py")


def test_every_module_is_offered(train_script) -> None:
    assert sorted(train_script.MODULES) == sorted((*GATED, "rnn"))
    expected = {"rnn": torch_ext.RNN, "lstm": torch_ext.LSTM, "gru": torch_ext.GRU,
                "gru-reset-before": torch_ext.GRU, "layer-norm-lstm": torch_ext.LayerNormLSTM,
                "layer-norm-gru": torch_ext.LayerNormGRU}
    for name, module in expected.items():
        recurrent = train_script.Regressor(name, 8).recurrent
        assert type(recurrent) is module, name
    assert not train_script.Regressor("gru-reset-before", 8).recurrent.reset_after
    assert train_script.Regressor("rnn", 8).recurrent.nonlinearity == "tanh"


@pytest.mark.parametrize("module", [*GATED, "rnn"])
def test_modules_learn_the_short_adding_problem(train_script, module: str) -> None:
    test_loss, baseline = train_script.train(module, steps=300, length=10, hidden=16, progress=False)
    bound = 0.1 if module in GATED else 0.9  # the vanilla RNN learns it more slowly
    assert test_loss < bound * baseline, (test_loss, baseline)


def test_vanishing_gradients_script(tmp_path, monkeypatch, capsys) -> None:
    script = load_example("vanishing_gradients.py")
    monkeypatch.setattr("sys.argv", ["vanishing_gradients.py", "--filler", "12", "--steps", "3", "--out", str(tmp_path)])
    script.main()
    out = capsys.readouterr().out
    assert "initialised" in out and "trained" in out and "vanilla RNN" in out
    image = tmp_path / "vanishing_gradients.png"
    width, height = struct.unpack(">II", image.read_bytes()[16:24])
    assert width > 2 * height  # two panels side by side
    assert len(list((tmp_path / "weights").glob("*.pt"))) == 3
