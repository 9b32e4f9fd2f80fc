"""The local cloud's Python runtime for one invocation (started by local/cloud.py).

Imports the deployed code's handler (`_HANDLER`, `module.function`) from the current
directory (the function's unpacked zip, as LAMBDA_TASK_ROOT on AWS), calls it with the
event read from stdin and a context like Lambda's, and writes the outcome as one JSON
document to the file named by LOCAL_LAMBDA_RESULT: {"result"} or {"errorType",
"errorMessage", "stackTrace"}, with "maxRssMb". Everything the handler prints goes to the
caller, which keeps it as the invocation's log. Memory: a watchdog ends the process as
Lambda does (Runtime.OutOfMemory) when its resident set exceeds AWS_LAMBDA_FUNCTION_MEMORY_SIZE.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import threading
import time
import traceback


class Context:
    def __init__(self, deadline: float):
        self._deadline = deadline
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ["LOCAL_LAMBDA_FUNCTION_ARN"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.aws_request_id = os.environ["LOCAL_LAMBDA_REQUEST_ID"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _write(outcome: dict) -> None:
    outcome["maxRssMb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    with open(os.environ["LOCAL_LAMBDA_RESULT"], "w") as out:
        json.dump(outcome, out, default=str)


def _watch_memory(limit_mb: float) -> None:
    while True:
        if _rss_mb() > limit_mb:
            _write({"errorType": "Runtime.OutOfMemory",
                    "errorMessage": f"Runtime exited: memory above the function's {limit_mb:.0f} MB"})
            sys.stdout.flush()
            os._exit(137)
        time.sleep(0.05)


def main() -> int:
    deadline = float(os.environ["LOCAL_LAMBDA_DEADLINE"])
    threading.Thread(target=_watch_memory, args=(float(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]),),
                     daemon=True).start()
    event = json.load(sys.stdin)
    sys.path.insert(0, os.getcwd())
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
        result = handler(event, Context(deadline))
    except Exception as err:  # noqa: BLE001 - reported as Lambda reports a function error
        print(f"[ERROR] {type(err).__name__}: {err}", flush=True)
        _write({"errorType": type(err).__name__, "errorMessage": str(err),
                "stackTrace": traceback.format_exception(err)})
        return 1
    _write({"result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
