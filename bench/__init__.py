"""`make bench`: a generated dataset and the performance figures of issue 7.
Not an app and not collected by pytest; run with ``python -m bench.run``."""
