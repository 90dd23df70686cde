import os
import tempfile

# config.py reads the environment when it is imported, so set it before any test imports main.
_tmpdir = tempfile.mkdtemp(prefix="classic-tests-")
os.environ["DATABASE_URL"] = f"sqlite:///{_tmpdir}/test.db"
os.environ["SECRET_KEY"] = "test-secret-key"
