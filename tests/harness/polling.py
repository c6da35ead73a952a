"""Waiting for a condition that real processes bring about (Config Sync's controllers, a registry), without sleeps
of a fixed length."""
import time


def poll(condition, timeout=120, interval=1.0):
    """condition() until it returns something truthy (returned) or the timeout passes (the last value is returned)."""
    deadline = time.monotonic() + timeout
    value = condition()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = condition()
    return value
