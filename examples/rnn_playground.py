"""The text's playground: watch a vanilla RNN, an LSTM and a GRU read a sentence word by word.

    streamlit run examples/rnn_playground.py

Train each model with its button (a progress bar runs; the weights go to a cache on disk, so a
second start, or a start after `make demo`, is instant), pick how many filler words stand between
the subject and the pronoun (or type a sentence of your own), and read the confidence bars: after
every word, how sure each model is of the right pronoun. The word where the vanilla RNN changes
its mind is marked; the LSTM's bar stays up.

Environment: PRONOUN_CACHE_DIR sets the weight cache (default examples/artifacts/weights).
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

import pandas as pd
import streamlit as st
import torch

EXAMPLES = Path(__file__).resolve().parent
if str(EXAMPLES) not in sys.path:  # `streamlit run` from anywhere, and AppTest, import the package beside us
    sys.path.insert(0, str(EXAMPLES))

from pronoun_task.models import DISPLAY_NAMES, change_of_mind, confidence_per_word  # noqa: E402
from pronoun_task.task import (  # noqa: E402
    PRONOUNS,
    TEXT_SENTENCE,
    generate_sentence,
    split_words,
    subject_position,
    subject_pronoun,
)
from pronoun_task.training import TrainingConfig, train_or_load  # noqa: E402

KINDS = ("rnn", "lstm", "gru")
CACHE_DIR = Path(os.environ.get("PRONOUN_CACHE_DIR", EXAMPLES / "artifacts" / "weights"))
MAX_FILLER = 100

st.set_page_config(page_title="RNN vs LSTM vs GRU: who is 'he'?", layout="wide")
st.title("Who is “he”? A vanilla RNN, an LSTM and a GRU read word by word")
st.markdown(
    "*“My teacher said I was slow, but he didn't know I was just getting started.”* To know that "
    "**he** is the teacher you carry **my teacher** across the sentence. Each model reads a sentence "
    "`my <noun> … ___` and, after every word, says which pronoun the slot `___` takes: the bar is "
    "its confidence in the right one. All three run on torch_ext's hand-written kernels."
)

# --- Training ---------------------------------------------------------------------------------
torch.set_num_threads(1)  # models this small train as fast on one thread, and far faster on a busy machine
with st.sidebar:
    st.header("Train")
    defaults = TrainingConfig()
    steps = st.number_input("training steps", min_value=10, max_value=20_000, value=defaults.steps, step=100,
                            help="The same for every model; the demo (`make demo`) uses the default.")
    config = TrainingConfig(steps=int(steps))
    if "models" not in st.session_state:
        st.session_state.models = {}
    models: dict = st.session_state.models
    for kind in KINDS:
        key = (kind, config)
        cached = CACHE_DIR / config.cache_name(kind)
        if key not in models and cached.exists():  # a second start (or one after the demo) is instant
            models[key] = train_or_load(kind, config, CACHE_DIR, progress=False)
        name = DISPLAY_NAMES[kind]
        if st.button(f"Train {name}", key=f"train_{kind}", width="stretch"):
            bar = st.progress(0.0, text=f"training {name}…")

            def show(step: int, loss: float, bar=bar, name=name) -> None:
                if step % 10 == 0 or step == config.steps:
                    bar.progress(step / config.steps, text=f"{name}: step {step}/{config.steps}, loss {loss:.3f}")

            models[key] = train_or_load(kind, config, CACHE_DIR, progress=False, on_step=show, retrain=True)
        if key in models:
            record = models[key][1]
            how = "from the cache" if record["cached"] else f"trained in {record['seconds']:.0f} s"
            st.caption(f"✅ {name}: loss {record['final_loss']:.3f}, {how}")
        else:
            st.caption(f"{name}: not trained yet")
    trained = {kind: models[(kind, config)][0] for kind in KINDS if (kind, config) in models}

# --- The sentence -----------------------------------------------------------------------------
left, right = st.columns([2, 1])
with left:
    filler_count = st.slider("filler words between the subject and the pronoun", 0, MAX_FILLER, 30)
with right:
    sentence_number = st.number_input("sentence number", min_value=0, value=0, step=1,
                                      help="Another number draws another sentence of the same length.")
typed = st.text_input("…or type your own sentence (words from the vocabulary; `___` is the slot)", value="",
                      placeholder=TEXT_SENTENCE)
if typed.strip():
    try:
        words = split_words(typed)
    except ValueError as error:
        st.error(str(error))
        st.stop()
else:
    words = generate_sentence(random.Random(f"playground:{filler_count}:{sentence_number}"), filler_count)
sentence_view = st.empty()
sentence_view.markdown("**Sentence:** " + " ".join(f"`{word}`" for word in words))

pronoun = subject_pronoun(words)
if pronoun is None:
    st.warning("No subject: start with `my <noun>`, e.g. `my teacher`, `my sister`, `my dog`, `my friends`.")
    st.stop()
if not trained:
    st.info("Train a model in the sidebar to see its confidence bars.")
    st.stop()

# --- The bars ---------------------------------------------------------------------------------
answer = PRONOUNS.index(pronoun)
subject = subject_position(words)
probabilities = {kind: confidence_per_word(model, words) for kind, model in trained.items()}
table = pd.DataFrame({"word": words})
for kind, values in probabilities.items():
    table[DISPLAY_NAMES[kind]] = values[:, answer].numpy()
    table[f"{DISPLAY_NAMES[kind]} says"] = [PRONOUNS[index] for index in values.argmax(dim=-1).tolist()]
notes = [""] * len(words)
notes[subject] = f"subject: the answer is “{pronoun}”"
switch = change_of_mind(probabilities["rnn"], answer, start=subject) if "rnn" in probabilities else None
if switch is not None:
    now_says = PRONOUNS[int(probabilities["rnn"][switch].argmax())]
    notes[switch] = f"⚠ the vanilla RNN changes its mind: now “{now_says}”"
table["note"] = notes

marked = [f"**:red[{word}]**" if position == switch else f"`{word}`" for position, word in enumerate(words)]
sentence_view.markdown("**Sentence:** " + " ".join(marked))
st.subheader(f"Who is “___”? The right answer is **{pronoun}**")
if "rnn" in probabilities:
    if switch is None and int(probabilities["rnn"][-1].argmax()) == answer:
        st.success("The vanilla RNN holds on to the subject throughout this sentence.")
    elif switch is None:
        st.warning("The vanilla RNN never settles on the right pronoun in this sentence.")
    else:
        distance = switch - subject
        st.warning(f"The vanilla RNN changes its mind at word {switch} (“{words[switch]}”), "
                   f"{distance} word{'s' if distance > 1 else ''} after the subject.")
bar_columns = {DISPLAY_NAMES[kind]: st.column_config.ProgressColumn(DISPLAY_NAMES[kind], min_value=0.0, max_value=1.0,
                                                                   format="percent")
               for kind in probabilities}
play = st.button("▶ read word by word")
view = st.empty()
if play:  # the bars grow one word at a time
    for end in range(1, len(words) + 1):
        view.dataframe(table.iloc[:end], column_config=bar_columns, hide_index=False, width="stretch")
        time.sleep(float(os.environ.get("PRONOUN_PLAY_DELAY", "0.15")))
view.dataframe(table, column_config=bar_columns, hide_index=False, width="stretch")
st.line_chart(table[[DISPLAY_NAMES[kind] for kind in probabilities]], height=220,
              x_label="word", y_label="confidence in the right pronoun")
