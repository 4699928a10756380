"""`make bench`: a generated dataset and the performance figures (README, Performance).
Not an app and not collected by pytest; run with ``python -m bench.run``."""
