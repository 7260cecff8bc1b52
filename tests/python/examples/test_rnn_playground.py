"""examples/rnn_playground.py, headless (streamlit's AppTest): train small, move the slider, read the bars.

The app runs in this process; its weight cache goes to a temporary folder (PRONOUN_CACHE_DIR).
"""

import pytest
from example_scripts import EXAMPLES
from pronoun_task.task import PRONOUNS, TEXT_SENTENCE
from streamlit.testing.v1 import AppTest

APP = str(EXAMPLES / "rnn_playground.py")
STEPS = 40
MODELS = ("vanilla RNN", "LSTM", "GRU")


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("PRONOUN_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PRONOUN_PLAY_DELAY", "0")
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    assert not app.exception
    return app


def _train_all(app: AppTest) -> None:
    app.sidebar.number_input[0].set_value(STEPS).run()
    for name in MODELS:
        next(button for button in app.sidebar.button if button.label == f"Train {name}").click().run()
        assert not app.exception
        bars = app.sidebar.get("progress")
        assert bars and bars[-1].value == 100 and f"step {STEPS}/{STEPS}" in bars[-1].text


def _bars(app: AppTest):
    frame = app.dataframe[0].value
    assert list(frame.columns[:1]) == ["word"] and all(name in frame.columns for name in MODELS)
    return frame


def test_train_move_the_slider_and_read_the_bars(app: AppTest, tmp_path) -> None:
    assert "Train a model" in app.info[0].value and not app.dataframe
    _train_all(app)
    captions = [caption.value for caption in app.sidebar.caption]
    assert all(any(caption.startswith(f"✅ {name}:") for caption in captions) for name in MODELS), captions
    assert len(list(tmp_path.glob("*.pt"))) == 3

    for filler_count in (5, 25):
        app.slider[0].set_value(filler_count).run()
        frame = _bars(app)
        assert len(frame) == filler_count + 3  # my, noun, fillers, ___
        assert frame["word"].iloc[0] == "my" and frame["word"].iloc[-1] == "___"
        for name in MODELS:
            assert frame[name].between(0, 1).all()
            assert set(frame[f"{name} says"]) <= set(PRONOUNS)
        assert frame["note"].iloc[1].startswith("subject: the answer is")

    # A model trained for a few steps forgets: on some long sentence the RNN changes its mind, and the
    # word where it does is marked in the table, in the sentence and in a warning.
    app.slider[0].set_value(60).run()
    for number in range(10):
        app.number_input[0].set_value(number).run()
        warnings = [warning.value for warning in app.warning if "changes its mind at word" in warning.value]
        if warnings:
            break
    else:
        pytest.fail("the vanilla RNN never changed its mind in ten sentences")
    frame = _bars(app)
    marked = frame.index[frame["note"].str.contains("the vanilla RNN changes its mind")].tolist()
    assert len(marked) == 1 and f"at word {marked[0]} " in warnings[0]
    switch = marked[0]
    answer = frame["note"].iloc[1].split("“")[1].rstrip("”")
    assert frame["vanilla RNN says"].iloc[switch - 1] == answer != frame["vanilla RNN says"].iloc[switch]
    assert f":red[{frame['word'].iloc[switch]}]" in next(m.value for m in app.markdown if m.value.startswith("**Sentence:**"))

    # Word by word: the same bars at the end.
    next(button for button in app.button if button.label.startswith("▶")).click().run()
    assert not app.exception and _bars(app).equals(frame)


def test_typed_sentence_and_instant_second_start(app: AppTest, tmp_path, monkeypatch) -> None:
    _train_all(app)
    app.text_input[0].input("My teacher said I was slow, but he didn't know I was just getting started.").run()
    frame = _bars(app)
    assert " ".join(frame["word"]) == TEXT_SENTENCE and "“he”" in frame["note"].iloc[1]
    app.text_input[0].input("my teacher said hello").run()
    assert "unknown words" in app.error[0].value

    # A second start finds the weights on disk: trained, with no button pressed.
    again = AppTest.from_file(APP, default_timeout=60)
    again.run()
    again.sidebar.number_input[0].set_value(STEPS).run()
    captions = [caption.value for caption in again.sidebar.caption]
    assert sum("from the cache" in caption for caption in captions) == 3, captions
    assert len(_bars(again)) > 3
