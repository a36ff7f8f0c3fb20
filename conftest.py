"""Test-session set-up shared by the tests and the doctests.

TensorFlow sizes its thread pools when it starts, from the environment; set them
here, before any test module imports it, so the suite shares the 2 cores politely.
"""

import os

os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "2")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
