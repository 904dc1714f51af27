"""Starts two MultiWorkerMirroredStrategy workers on 127.0.0.1 and waits for both.

Run inside a private network namespace (`unshare -rn`, loopback up): the TF
gRPC server binds 0.0.0.0 whatever TF_CONFIG says, so nothing may listen
beyond the test. Usage: python _multi_worker_launcher.py SPEC_TEMPLATE.json TIMEOUT
(the spec's "output" gets a `_worker{i}` suffix per worker).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(spec_path, timeout):
    with open(spec_path) as f:
        spec = json.load(f)
    workers = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    processes = []
    try:
        for index in range(2):
            worker_spec = dict(spec, output=spec["output"].replace(".npz", f"_worker{index}.npz"))
            worker_spec_path = spec_path.replace(".json", f"_worker{index}.json")
            with open(worker_spec_path, "w") as f:
                json.dump(worker_spec, f)
            env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
            processes.append(subprocess.Popen([sys.executable, os.path.join(HERE, "_train_worker.py"), worker_spec_path], env=env))
        deadline = time.monotonic() + timeout
        codes = []
        for process in processes:
            # A worker whose peer died waits forever on the collective: the deadline ends it.
            codes.append(process.wait(timeout=max(deadline - time.monotonic(), 1)))
        print("worker exit codes:", codes, flush=True)
        return 0 if codes == [0, 0] else 1
    except subprocess.TimeoutExpired:
        print(f"workers ran past {timeout}s", flush=True)
        return 2
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2])))
