import os
import time

from bench.worker_proc import main_thread_cpu_seconds


def test_the_main_thread_cpu_time_grows_with_its_work():
    before = main_thread_cpu_seconds(os.getpid())
    started = time.thread_time()
    while time.thread_time() - started < 0.3:  # this (the main) thread's own CPU time
        sum(range(1000))
    after = main_thread_cpu_seconds(os.getpid())
    assert 0.2 <= after - before <= 1.0  # clock ticks: 10 ms apart
