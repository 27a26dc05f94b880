import os
import threading
import time

from bench.worker_proc import main_thread_cpu_seconds, process_cpu_seconds


def busy(seconds: float) -> None:
    started = time.thread_time()
    while time.thread_time() - started < seconds:  # the calling thread's own CPU time
        sum(range(1000))


def test_the_main_thread_cpu_time_grows_with_its_work():
    before = main_thread_cpu_seconds(os.getpid())
    busy(0.3)
    after = main_thread_cpu_seconds(os.getpid())
    assert 0.2 <= after - before <= 1.0  # clock ticks: 10 ms apart


def test_the_process_cpu_time_counts_every_thread_and_the_main_threads_only_its_own():
    main_before, process_before = (
        main_thread_cpu_seconds(os.getpid()),
        process_cpu_seconds(os.getpid()),
    )
    other = threading.Thread(target=busy, args=(0.3,))
    other.start()
    other.join()
    assert main_thread_cpu_seconds(os.getpid()) - main_before <= 0.1
    assert process_cpu_seconds(os.getpid()) - process_before >= 0.2
