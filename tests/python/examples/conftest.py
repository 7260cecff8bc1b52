"""The example scripts import their package, examples/pronoun_task, from the folder beside them.

Training here runs on one thread (two test workers share the machine); every test gets torch's
thread count back as it found it.
"""

import sys

import pytest
import torch
from example_scripts import EXAMPLES

if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
