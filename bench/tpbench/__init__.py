"""Helpers of ``bench/throughput.py``: data set-up, baselines, load generators and reports."""
