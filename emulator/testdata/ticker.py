"""Appends one line to FILE every 10 ms: a process whose progress shows whether it is frozen."""
import sys
import time

with open(sys.argv[1], "a", buffering=1) as out:
    n = 0
    while True:
        n += 1
        out.write(f"{n}\n")
        time.sleep(0.01)
