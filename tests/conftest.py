"""The kit's modules import their shared code as Ansible gives it to them, from ansible.module_utils
(kit_supervisor and the like, in plugins/module_utils/); the tests that import a module give it the same."""

from pathlib import Path

import ansible.module_utils

MODULE_UTILS = str(Path(__file__).resolve().parents[1] / "plugins" / "module_utils")
if MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(MODULE_UTILS)
