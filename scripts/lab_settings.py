"""Write the JupyterLab user settings the course runs with.

    python scripts/lab_settings.py DIR

DIR becomes JUPYTERLAB_SETTINGS_DIR: no news popup or update check (students are often offline), no
extension manager (it would query a package index), and widget state saved with the notebook so a
reopened notebook still shows its widgets.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SETTINGS: dict[str, dict[str, object]] = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/extensionmanager-extension/plugin.jupyterlab-settings": {"enabled": False},
    "@jupyter-widgets/jupyterlab-manager/plugin.jupyterlab-settings": {"saveState": True},
}


def write_settings(settings_dir: Path) -> list[Path]:
    """Write every settings file under ``settings_dir``; return the paths written."""
    written = []
    for relative, values in SETTINGS.items():
        path = settings_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/lab_settings.py SETTINGS_DIR")
    for written_path in write_settings(Path(sys.argv[1])):
        print(f"wrote {written_path}")
