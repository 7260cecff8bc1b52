"""The example scripts import their package, examples/pronoun_task, from the folder beside them."""

import sys

from example_scripts import EXAMPLES

if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))
