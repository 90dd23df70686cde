"""molecule/default/tests/conftest.py as a module, for the other scenarios' tests.

Its helpers (run the kit's playbooks, commit to an app's repository, put load on a
server) serve every scenario; pytest loads each scenario's own conftest.py under the
same module name, so they import this instead:

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
    from kit_default_conftest import kit
"""

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parents[1] / "default" / "tests" / "conftest.py"
_SPEC = importlib.util.spec_from_file_location("kit_default_conftest_module", _PATH)
kit = importlib.util.module_from_spec(_SPEC)
sys.modules["kit_default_conftest_module"] = kit
_SPEC.loader.exec_module(kit)
