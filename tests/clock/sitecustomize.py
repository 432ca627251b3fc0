"""Started with every Python process a test session starts while ``USERSNAP_TEST_CLOCK`` travels it (the folder
is put first on PYTHONPATH): the process's clock runs as far from the real one as the session's does, so `dg`
and the pipeline's own commands see the same day of the week as the tests.

Dagster's servers (the webserver, the daemon, the code location's gRPC server) keep the real clock: gRPC's C
core reads it for every call's deadline, so a deadline computed on a travelled clock has already passed (or
lies days ahead) and the code location never loads."""

import os
import sys

_OFFSET = os.environ.get("USERSNAP_TEST_CLOCK_OFFSET")
_COMMAND = " ".join(getattr(sys, "orig_argv", []))
_DAGSTER_SERVER = any(name in _COMMAND for name in ("dagster-webserver", "dagster-daemon", "dagster api grpc"))
if _OFFSET and not _DAGSTER_SERVER:
    import time

    import time_machine

    time_machine.travel(time.time() + float(_OFFSET), tick=True).start()
