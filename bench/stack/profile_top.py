"""Where the time goes in a py-spy profile of `make bench-stack` (BENCH_STACK_PROFILE=1 writes
profile-api-<case>.txt, py-spy's raw collapsed stacks): the functions whose calls hold the largest
share of samples (inclusive), each counted once per stack, worker idle time left out.

    .venv/bin/python bench/stack/profile_top.py out/postgresql/profile-api-create-mood.txt [N]
"""

import sys
from collections import Counter

IDLE = ("wait (threading.py", "select (selectors.py", "accept (socket.py", "run_for_one", "sleep (")


def main():
    path, top = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 25
    inclusive, total = Counter(), 0
    for line in open(path):
        stack, _, count = line.rstrip("\n").rpartition(" ")
        frames = stack.split(";")
        if not frames or any(marker in frames[-1] for marker in IDLE):
            continue
        total += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    print(f"{total} busy samples")
    for frame, count in inclusive.most_common(top):
        print(f"{count / total:6.1%}  {frame}")


if __name__ == "__main__":
    main()
