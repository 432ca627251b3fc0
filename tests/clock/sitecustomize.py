"""Started with every Python process a test session starts while ``USERSNAP_TEST_CLOCK`` travels it (the folder
is put first on PYTHONPATH): the process's clock runs as far from the real one as the session's does, so `dg`,
the webserver and the daemon see the same day of the week as the tests."""

import os

_OFFSET = os.environ.get("USERSNAP_TEST_CLOCK_OFFSET")
if _OFFSET:
    import time

    import time_machine

    time_machine.travel(time.time() + float(_OFFSET), tick=True).start()
