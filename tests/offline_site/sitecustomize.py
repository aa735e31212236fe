"""Put on PYTHONPATH by tests/conftest.py so every child Python process (Jupyter kernels, the JupyterLab
server, CLI subprocesses) starts with the course's offline guard when COURSE_OFFLINE=1."""

import os

if os.environ.get("COURSE_OFFLINE") == "1":
    from course_lib.offline import install_guard

    install_guard()
